"""The seed SDK's import paths, kept so its users' code runs unchanged:
``from wflo.sdk import WfloWorkflow, BudgetExceededError, track_llm_call, checkpoint``,
``wflo.sdk.workflow``, ``wflo.sdk.decorators.*`` and ``wflo.sdk.context``. New code can import
everything from ``wflo``."""
from ..checkpoints import checkpoint, checkpoint_after_agent
from ..context import ExecutionContext, get_current_execution_id, get_current_workflow_name
from ..errors import BudgetExceededError, CallLimitError, WfloError
from ..track import track_llm_call
from ..workflow import WfloWorkflow

__all__ = ["BudgetExceededError", "CallLimitError", "ExecutionContext", "WfloError", "WfloWorkflow", "checkpoint",
           "checkpoint_after_agent", "get_current_execution_id", "get_current_workflow_name", "track_llm_call"]
