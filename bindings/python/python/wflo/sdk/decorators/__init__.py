"""The seed SDK's decorators."""
# The submodule first: importing ``wflo.sdk.decorators.checkpoint`` for the first time would
# otherwise rebind this package's ``checkpoint`` to that module, hiding the decorator.
from . import checkpoint as _checkpoint_module  # noqa: F401
from . import track_llm as _track_llm_module  # noqa: F401
from ...checkpoints import checkpoint, checkpoint_after_agent
from ...track import track_llm_call

__all__ = ["checkpoint", "checkpoint_after_agent", "track_llm_call"]
