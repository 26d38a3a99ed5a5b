"""``from wflo.sdk.decorators.checkpoint import checkpoint`` as the seed documents."""
from ...checkpoints import checkpoint, checkpoint_after_agent

__all__ = ["checkpoint", "checkpoint_after_agent"]
