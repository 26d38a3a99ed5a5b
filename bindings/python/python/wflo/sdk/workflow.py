"""``from wflo.sdk.workflow import WfloWorkflow, BudgetExceededError`` as the seed documents."""
from ..errors import BudgetExceededError, WfloError
from ..workflow import WfloWorkflow

__all__ = ["WfloWorkflow", "BudgetExceededError", "WfloError"]
