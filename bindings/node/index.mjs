// ESM entry point: the same objects as the CommonJS one. Named exports are bound when this
// module is evaluated, so it reads every export of index.cjs: `import … from 'wflo'` loads all
// of lib/ and the native addon at once (a missing addon throws here), where `require('wflo')`
// loads each on first use.
import wflo from './index.cjs';

export const {
  version, Engine, getDefaultEngine, setDefaultEngine, WfloWorkflow, Scope, BinaryState, currentWorkflow, settleFromResult,
  trackLlmCall, Reservation, countTokens, countChatTokens, price, cost, parseUsage, NativeStream, withRetry, failureOf,
  Retrier, CircuitBreaker, RetryExhaustedError, ResourceLock, Permit, WfloError, InvalidArgumentError, UnknownModelError, BudgetExceededError,
  CircuitOpenError, ResourceBusyError, ApprovalDeniedError, ApprovalPendingError, CallLimitError, NotFoundError, ConflictError, StorageError, ClosedError,
  InternalError,
} = wflo;
export default wflo;
