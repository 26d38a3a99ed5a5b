"""``from wflo.sdk.context import ExecutionContext, get_current_execution_id`` as the seed SDK
had them (see :mod:`wflo.context`)."""
from ..context import ExecutionContext, get_current_execution_id, get_current_workflow_name

__all__ = ["ExecutionContext", "get_current_execution_id", "get_current_workflow_name"]
