"""The seed SDK's decorators."""
from ...checkpoints import checkpoint
from ...track import track_llm_call

__all__ = ["checkpoint", "track_llm_call"]
