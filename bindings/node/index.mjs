// ESM entry point: the same objects as the CommonJS one.
import wflo from './index.cjs';

export const {
  version, Engine, getDefaultEngine, setDefaultEngine, WfloWorkflow, BinaryState, currentWorkflow, settleFromResult,
  trackLlmCall, Reservation, countTokens, countChatTokens, price, cost, parseUsage, NativeStream, withRetry, failureOf,
  Retrier, CircuitBreaker, RetryExhaustedError, ResourceLock, Permit, WfloError, InvalidArgumentError, UnknownModelError, BudgetExceededError,
  CircuitOpenError, ResourceBusyError, ApprovalDeniedError, ApprovalPendingError, CallLimitError, NotFoundError, ConflictError, StorageError, ClosedError,
  InternalError,
} = wflo;
export default wflo;
