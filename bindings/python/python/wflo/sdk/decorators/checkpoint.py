"""``from wflo.sdk.decorators.checkpoint import checkpoint`` as the seed documents."""
from ...checkpoints import checkpoint

__all__ = ["checkpoint"]
