'use strict';
// The engine's errors as JavaScript classes with a stable `code`. Native errors cross as
// "wflo:" + JSON; `fromNative` maps them here, once.

// The addon (lib/native.cjs), loaded when it is first needed rather than with this file: every
// module needs these classes, and `require('wflo')` loads no addon.
let addon;

// An SDK's stream helpers (openai's ChatCompletionStream, anthropic's MessageStream) re-wrap
// any error that is not their own, so the integrations hand a wflo error to them as a subclass
// of the SDK's error class that *stands for* the wflo class (integrations/common.cjs). This
// brand keeps `instanceof BudgetExceededError` true for it.
const standsFor = Symbol.for('wflo.standsFor');
const plainHasInstance = Function.prototype[Symbol.hasInstance];

class WfloError extends Error {
  constructor(message, code = 'INTERNAL', details = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  static [Symbol.hasInstance](x) {
    if (plainHasInstance.call(this, x)) return true;
    const cls = x !== null && typeof x === 'object' ? x[standsFor] : undefined;
    return typeof cls === 'function' && (cls === this || plainHasInstance.call(this, cls.prototype));
  }
}
class InvalidArgumentError extends WfloError {}
class NotFoundError extends WfloError {}
class ConflictError extends WfloError {}
class StorageError extends WfloError {}
class ClosedError extends WfloError {}
class InternalError extends WfloError {}

class UnknownModelError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'UNKNOWN_MODEL', details);
    this.model = details.model;
    this.suggestions = details.suggestions || [];
  }
}

const usd = (nanos) => (nanos == null ? null : nanos / 1e9);

/** A call was refused BEFORE it was made: it could have passed the limit of `scope`. */
class BudgetExceededError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'BUDGET_EXCEEDED', details);
    this.scope = details.scope;
    this.limitNanos = details.limit_nanos;
    this.spentNanos = details.spent_nanos;
    this.reservedNanos = details.reserved_nanos;
    this.requestedNanos = details.requested_nanos;
    this.budgetUsd = usd(this.limitNanos);
    this.spentUsd = usd(this.spentNanos);
    this.reservedUsd = usd(this.reservedNanos);
    this.requestedUsd = usd(this.requestedNanos);
    /** For a refused retry: which attempt was not sent and what failed before it; else null. */
    this.retryNote = details.retry_note ?? null;
  }
}

/**
 * A call was refused before anything was reserved or sent: the circuit breaker `circuitName`
 * is open after `failures` failures, and refuses for `retryInMs` more milliseconds.
 */
class CircuitOpenError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'CIRCUIT_OPEN', details);
    // `name` is the error class's name, as for every JavaScript error.
    this.circuitName = details.name;
    this.failures = details.failures;
    this.retryInMs = details.retry_in_ms;
  }
}

/**
 * A resource stayed busy: no slot of `resource` freed within the acquisition's timeout.
 * `waitedMs`: how long it waited; `holders`: who held it then (`workflow (host:pid)`).
 */
class ResourceBusyError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'RESOURCE_BUSY', details);
    this.resource = details.resource;
    this.waitedMs = details.waited_ms;
    this.holders = details.holders || [];
  }
}

/**
 * An approval gate stayed shut: approval `approvalId` for `gate` was denied (`by` whom, with
 * `note`), or not given in time (`timedOut`, under `onTimeout: "deny"`).
 */
class ApprovalDeniedError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'APPROVAL_DENIED', details);
    this.approvalId = details.id;
    this.gate = details.gate;
    this.timedOut = details.timed_out === true;
    this.by = details.by ?? null;
    this.note = details.note ?? null;
  }
}

/**
 * A call over the execution's approval threshold (`approvalAboveUsd`) met gate `gate`, and
 * approval `approvalId` is not decided yet: nothing was reserved or sent. `what` is the call
 * as the approver sees it. `workflow.reserve` and `reserveRequest` (and every integration)
 * catch it, await the decision off the JavaScript thread and reserve again; `reserveSync`
 * cannot wait, so it throws this — await `workflow.waitForApproval(approvalId)` and reserve
 * again, or use `reserve()`.
 */
class ApprovalPendingError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'APPROVAL_PENDING', details);
    this.approvalId = details.id;
    this.gate = details.gate;
    this.what = details.what;
  }
}

/**
 * The execution made as many LLM calls as it may (`maxCalls`, the original SDK's
 * `max_iterations`): this one was refused before anything was reserved or sent.
 * `execution`: the execution's id; `maxCalls`: its cap.
 */
class CallLimitError extends WfloError {
  constructor(message, details = {}) {
    super(message, 'CALL_LIMIT', details);
    this.execution = details.execution;
    this.maxCalls = details.max_calls;
  }
}

const byCode = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  STORAGE: StorageError,
  CLOSED: ClosedError,
  INTERNAL: InternalError,
};

// napi's own argument-conversion failures (a number where a string was expected, …).
const napiArgumentCodes = new Set(['InvalidArg', 'ObjectExpected', 'StringExpected', 'NameExpected',
  'FunctionExpected', 'NumberExpected', 'BooleanExpected', 'ArrayExpected', 'BigintExpected']);

/** Turns an error thrown by the addon into its typed class (other errors pass through). */
function fromNative(e) {
  if (!(e instanceof Error) || e instanceof WfloError) return e;
  if (typeof e.message === 'string' && e.message.startsWith('wflo:')) {
    let d;
    try {
      d = JSON.parse(e.message.slice(5));
    } catch {
      return new InternalError(e.message);
    }
    if (d.code === 'BUDGET_EXCEEDED') return new BudgetExceededError(d.message, d);
    if (d.code === 'UNKNOWN_MODEL') return new UnknownModelError(d.message, d);
    if (d.code === 'CIRCUIT_OPEN') return new CircuitOpenError(d.message, d);
    if (d.code === 'RESOURCE_BUSY') return new ResourceBusyError(d.message, d);
    if (d.code === 'APPROVAL_DENIED') return new ApprovalDeniedError(d.message, d);
    if (d.code === 'APPROVAL_PENDING') return new ApprovalPendingError(d.message, d);
    if (d.code === 'CALL_LIMIT') return new CallLimitError(d.message, d);
    const Cls = byCode[d.code] || InternalError;
    return new Cls(d.message, d.code, d);
  }
  if (napiArgumentCodes.has(e.code)) return new InvalidArgumentError(`invalid argument: ${e.message}`, 'INVALID_ARGUMENT');
  return e;
}

/** Calls the addon, mapping its errors. */
function native(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Awaits an addon promise, mapping its errors. */
async function nativeAsync(fn) {
  try {
    return await fn();
  } catch (e) {
    throw fromNative(e);
  }
}

const codes = new Set(['INVALID_ARGUMENT', 'UNKNOWN_MODEL', 'BUDGET_EXCEEDED', 'NOT_FOUND', 'CONFLICT', 'STORAGE', 'CLOSED', 'INTERNAL', 'CIRCUIT_OPEN',
  'RESOURCE_BUSY', 'APPROVAL_DENIED', 'APPROVAL_PENDING', 'CALL_LIMIT']);

/**
 * The wflo error codes along a raised error's causes, outermost first: the error itself, its
 * `cause`, an AggregateError's `errors`, and so on (an SDK's copy of a wflo error — see
 * `standsFor` — counts as the wflo error). Empty for an error that is not wflo's. The engine
 * turns the list into the execution's final status.
 */
function errorCodes(error) {
  const found = [];
  const seen = new Set();
  const queue = [error];
  while (queue.length) {
    const e = fromNative(queue.shift());
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof WfloError && codes.has(e.code)) found.push(e.code);
    if ('cause' in e) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors);
  }
  return found;
}

/**
 * Whether `error` is one of wflo's own refusals — a wflo error (or an SDK's copy of one, see
 * `standsFor`) whose code the engine calls a refusal (`ErrorCode::is_refusal`: a budget, an
 * open breaker, a busy resource, a denied or pending approval, the call limit) — rather than
 * a failure of what was called. The rule is the engine's; this face keeps no list of codes.
 */
function isRefusal(error) {
  const e = fromNative(error);
  if (!(e instanceof WfloError) || typeof e.code !== 'string') return false;
  return (addon ??= require('./native.cjs')).isRefusal(e.code);
}

function invalid(message) {
  return new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');
}

module.exports = {
  standsFor,
  WfloError, InvalidArgumentError, UnknownModelError, BudgetExceededError, CircuitOpenError, ResourceBusyError,
  ApprovalDeniedError, ApprovalPendingError, CallLimitError, NotFoundError,
  ConflictError, StorageError, ClosedError, InternalError, fromNative, native, nativeAsync, invalid, errorCodes, isRefusal,
};
