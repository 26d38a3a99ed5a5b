"""``from wflo.sdk.decorators.track_llm import track_llm_call`` as the seed documents."""
from ...track import track_llm_call

__all__ = ["track_llm_call"]
