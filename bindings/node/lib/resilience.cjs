'use strict';
// Retries and circuit breakers (core's resilience): the engine decides — whether a failure is
// retried, how long to wait (backoff, jitter, cap, deadline, a server's Retry-After), when a
// breaker opens and closes, what a refused retry's error says. This file converts: a thrown
// error to the engine's failure ({kind, status, headers, message}), camelCase settings to the
// engine's JSON; and it runs the loop in JavaScript's idiom (a promise per attempt, a timer
// between them).
const { invalid, native, fromNative, isRefusal, BudgetExceededError } = require('./errors.cjs');
const { camelize, settingsJson } = require('./convert.cjs');
const { current, runWith } = require('./context.cjs');

/** An error's class names, its own `name` first, then its prototype chain's constructors. */
function classNames(error) {
  const names = new Set();
  if (error === null || typeof error !== 'object') return names;
  if (typeof error.name === 'string') names.add(error.name);
  for (let p = Object.getPrototypeOf(error); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (typeof p.constructor === 'function' && p.constructor.name) names.add(p.constructor.name);
  }
  return names;
}

/** The `code`s along an error and its causes (Node's ECONNRESET, undici's UND_ERR_…). */
function errorCodesOf(error) {
  const found = new Set();
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = e.cause, depth++) {
    if (typeof e.code === 'string') found.add(e.code);
  }
  return found;
}

const TIMEOUT_NAMES = ['APIConnectionTimeoutError', 'TimeoutError', 'AbortError'];
const TIMEOUT_CODES = ['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'];
const CONNECTION_NAMES = ['APIConnectionError'];
const CONNECTION_CODES = ['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET'];

/** Response headers (a fetch `Headers`, a Map, a plain object, or [name, value] pairs) as pairs. */
function headerPairs(headers) {
  if (headers === undefined || headers === null) return [];
  let entries;
  if (Array.isArray(headers)) entries = headers;
  else if (typeof headers.entries === 'function') entries = Array.from(headers.entries());
  else if (typeof headers === 'object') entries = Object.entries(headers);
  else throw invalid('headers must be a Headers object, a Map, an object or [name, value] pairs');
  return entries
    .filter((e) => Array.isArray(e) && e.length === 2 && e[1] !== undefined && e[1] !== null)
    .map(([k, v]) => [String(k), Array.isArray(v) ? v.join(', ') : String(v)]);
}

const messageOf = (error) => (error !== null && typeof error === 'object' && 'message' in error ? String(error.message) : String(error));

/**
 * A thrown error as the engine's failure: a wflo refusal (the engine's rule: a budget, an open
 * breaker, a busy resource, a denied or pending approval) is `refused`;
 * an error with an HTTP `status` (openai's and @anthropic-ai/sdk's APIError) is `http` with
 * its headers; a timeout (APIConnectionTimeoutError, AbortError, TimeoutError, ETIMEDOUT) is
 * `timeout`; a connection error (APIConnectionError, ECONNRESET, ECONNREFUSED, …) is
 * `connection`; any other error `retryable(error)` accepts is `transient`; the rest `other`.
 */
function failureOf(error, retryable) {
  const message = messageOf(error);
  const failure = (kind, status = null, headers = []) => ({ kind, status, headers, message });
  if (isRefusal(error)) return failure('refused');
  const status = error !== null && typeof error === 'object' ? error.status : undefined;
  if (Number.isInteger(status) && status >= 100 && status <= 599) return failure('http', status, headerPairs(error.headers));
  const names = classNames(error);
  const codes = errorCodesOf(error);
  if (TIMEOUT_NAMES.some((n) => names.has(n)) || TIMEOUT_CODES.some((c) => codes.has(c))) return failure('timeout');
  if (CONNECTION_NAMES.some((n) => names.has(n)) || CONNECTION_CODES.some((c) => codes.has(c))) return failure('connection');
  if (retryable && retryable(error)) return failure('transient');
  return failure('other');
}

/** A failure object ({kind, status?, headers?, message?}) as the engine's JSON; the engine checks it. */
function failureJson(failure) {
  if (failure === null || typeof failure !== 'object') throw invalid('a failure is an object {kind, status, headers, message}');
  return JSON.stringify({
    kind: failure.kind,
    status: failure.status ?? null,
    headers: headerPairs(failure.headers),
    message: failure.message === undefined || failure.message === null ? '' : String(failure.message),
  });
}

/**
 * The retry state of one logical call (`engine.retrier(policy)`): after each failed attempt,
 * `next(failure)` says whether to retry and after how long. Every attempt is a new call, so
 * each one reserves its own budget; a retry the budget refuses is thrown as `refused(error)`.
 */
class Retrier {
  /** @param {object} nativeRetrier the addon's NativeRetrier */
  constructor(nativeRetrier) {
    this._native = nativeRetrier;
  }

  /** The attempt being made now (1 for the first). */
  get attempt() {
    return this._native.attempt;
  }

  /** The policy, every field filled in ({backoff, maxRetries, baseDelayMs, …}). */
  get policy() {
    return camelize(JSON.parse(native(() => this._native.policyJson())));
  }

  /**
   * The attempt just made failed (`failure`: {kind: "http"|"timeout"|"connection"|"transient"|
   * "refused"|"other", status?, headers?, message?}): `{decision: "retry", attempt, delayMs,
   * reason}` (wait `delayMs`, then make attempt number `attempt`) or `{decision: "give_up",
   * why, reason}` (`why`: "not_retryable", "exhausted" or "deadline").
   */
  next(failure) {
    const json = failureJson(failure);
    return camelize(JSON.parse(native(() => this._native.next(json))));
  }

  /** Whether the policy retries a failure like `failure` at all (attempts and deadline aside). */
  retryable(failure) {
    const json = failureJson(failure);
    return native(() => this._native.retryable(json));
  }

  /** What a refusal of the retry about to be made must say (`attempt 2 not sent: attempt 1 failed: …`), or null. */
  refusalNote() {
    return native(() => this._native.refusalNote()) ?? null;
  }

  /** `message` with the refusal note added (unchanged before any attempt failed). */
  refusedMessage(message) {
    if (typeof message !== 'string') throw invalid('message must be a string');
    return native(() => this._native.refusedMessage(message));
  }

  /**
   * The error to throw for a retry the budget refused: a BudgetExceededError whose message
   * says which attempt was not sent and what failed before it (`retryNote`). Any other error,
   * or a refusal of the first attempt, is returned as it is.
   */
  refused(error) {
    const err = fromNative(error);
    if (!(err instanceof BudgetExceededError)) return err;
    const note = this.refusalNote();
    if (note === null) return err;
    const message = this.refusedMessage(err.message);
    if (message === err.message) return err;
    return new BudgetExceededError(message, { ...err.details, message, retry_note: note });
  }

  /** The jittered policy delay before retry `n` (1: the first retry), in ms, with no server hint. */
  delayMs(n) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalid('n must be a retry number (an integer from 0)');
    return native(() => this._native.delayMs(n));
  }
}

/**
 * One of the engine's circuit breakers (`engine.breaker(name, config)`): every caller that
 * asks the engine for `name` shares it. After enough failures it opens, and calls through it
 * fail fast with CircuitOpenError until its recovery timeout has passed; then trial calls
 * decide whether it closes again.
 *
 * A breaker made with `shared: true` keeps its state in the store: every process on the store
 * sees one breaker (give them all the same settings), and each check and outcome is a store
 * transaction — so `check()`, `recordSuccess()`, `recordFailure()`, `reset()`, `state` and
 * `status()` may also throw the store's errors (StorageError, …), as wflo errors.
 */
class CircuitBreaker {
  /** @param {object} nativeBreaker the addon's NativeBreaker */
  constructor(nativeBreaker) {
    this._native = nativeBreaker;
  }

  get name() {
    return this._native.name;
  }

  /**
   * "closed", "open" or "half_open" (an open breaker past its recovery timeout reads
   * half_open); a shared breaker's is read from the store.
   */
  get state() {
    return native(() => this._native.state);
  }

  /** Its settings ({failureThreshold, recoveryTimeoutMs, successThreshold, failureRate, window, minCalls, shared}). */
  get config() {
    return camelize(JSON.parse(native(() => this._native.configJson())));
  }

  /** May a call go through now? Throws CircuitOpenError while the breaker is open. */
  check() {
    native(() => this._native.check());
  }

  /** The call let through by `check()` succeeded. */
  recordSuccess() {
    native(() => this._native.recordSuccess());
  }

  /** The call let through by `check()` failed. */
  recordFailure() {
    native(() => this._native.recordFailure());
  }

  /** Closes the breaker and forgets its counts. */
  reset() {
    native(() => this._native.reset());
  }

  /**
   * Its figures: {name, shared, state, failureCount, successCount, totalCalls, totalFailures,
   * rejected, openedAtMs, retryInMs, transitions: [{breaker, shared, from, to, atMs, reason,
   * holder}]} — a shared breaker's as the store has it.
   */
  status() {
    return camelize(JSON.parse(native(() => this._native.statusJson())));
  }

  /**
   * Runs `fn()` through the breaker: checks it (an open breaker throws CircuitOpenError and
   * `fn` is not called), then records the outcome — a success, or a failure when `fn` throws.
   * A wflo refusal thrown by `fn` (the engine's rule: BudgetExceededError, CircuitOpenError,
   * ResourceBusyError, ApprovalDeniedError, ApprovalPendingError) is no failure of what the
   * breaker guards, nor a success: it is rethrown and nothing is recorded.
   */
  async call(fn) {
    if (typeof fn !== 'function') throw invalid('call needs a function');
    this.check();
    let result;
    try {
      result = await fn();
    } catch (e) {
      const err = fromNative(e);
      if (!isRefusal(err)) this.recordFailure();
      throw err;
    }
    this.recordSuccess();
    return result;
  }
}

/**
 * `withRetry` gave up on a retryable failure: attempts ran out, or the next wait would pass the
 * policy's deadline. The message is the engine's reason; `lastError` (also `cause`) is the last
 * attempt's error.
 */
class RetryExhaustedError extends Error {
  constructor(message, { attempts, lastError } = {}) {
    super(message, { cause: lastError });
    this.name = 'RetryExhaustedError';
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1; // a longer setTimeout fires at once
async function sleep(ms) {
  for (let left = ms; left > 0; left -= MAX_TIMER_MS) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, MAX_TIMER_MS)));
  }
}

/** The engine whose clock a retrier runs on: the option, else the running workflow's, else a private one. */
async function engineFor(engine) {
  const { Engine, pureEngine } = require('./engine.cjs'); // here: engine.cjs requires this file
  if (engine !== undefined && engine !== null) {
    if (!(engine instanceof Engine)) throw invalid('engine must be a wflo Engine');
    return engine;
  }
  const frame = current();
  return frame && frame.workflow ? frame.workflow.engine() : pureEngine();
}

/**
 * Runs `fn(attempt)` (attempt 1, 2, …; a promise or a value) until it succeeds, asking the
 * engine after each failure whether to retry and how long to wait (`policy`: {maxRetries,
 * baseDelayMs, maxDelayMs, multiplier, jitter, backoff, deadlineMs, retryStatuses,
 * retryTimeouts, retryConnectionErrors, seed}; omitted fields keep the engine's defaults).
 * Each attempt should be a whole call — metered calls reserve their own budget each time.
 *
 * A thrown error becomes a failure as `failureOf` reads it (HTTP status and headers, timeouts,
 * connection errors; `retryable(error)` marks other errors worth retrying). Before each retry
 * `onRetry({attempt, delayMs, reason, error})` is awaited. What is thrown at the end:
 * - a wflo refusal (the engine's rule: BudgetExceededError, CircuitOpenError,
 *   ResourceBusyError, ApprovalDeniedError, ApprovalPendingError) at once, never retried — a
 *   budget refusal of a retry saying which attempt was not sent and what failed before it;
 * - a failure the policy does not retry (a 400, an unclassified error): the error itself;
 * - otherwise, when attempts or the deadline ran out: RetryExhaustedError.
 *
 * `engine`: whose clock and defaults apply (default: the running workflow's engine).
 *
 * The calls a retry makes through `reserveRequest` (the SDK integrations do) are recorded with
 * its attempt number and the engine's reason for it.
 */
async function withRetry(fn, { policy, engine, onRetry, retryable } = {}) {
  if (typeof fn !== 'function') throw invalid('withRetry needs a function (attempt) => result');
  if (onRetry !== undefined && onRetry !== null && typeof onRetry !== 'function') throw invalid('onRetry must be a function');
  if (retryable !== undefined && retryable !== null && typeof retryable !== 'function') throw invalid('retryable must be a function (error) => boolean');
  const retrier = (await engineFor(engine)).retrier(policy);
  let retry = null; // {attempt, reason} of the retry being made: its calls record them
  for (;;) {
    let error;
    try {
      const attempt = retrier.attempt;
      // The frame carries the retry to the calls made in it (null: a first attempt, also
      // inside another withRetry's retry).
      return await runWith({ workflow: null, scope: null, ...current(), retry }, () => fn(attempt));
    } catch (e) {
      error = fromNative(e);
    }
    const failure = failureOf(error, retryable);
    // A refusal is not a failed attempt: the retrier is not told (its note stays on the
    // failure before it, which is what the refusal's message must name).
    if (failure.kind === 'refused') throw retrier.refused(error);
    const decision = retrier.next(failure);
    if (decision.decision !== 'retry') {
      // The engine says why it gave up: a failure it never retries is the caller's as it is.
      if (decision.why === 'not_retryable') throw error;
      throw new RetryExhaustedError(decision.reason, { attempts: retrier.attempt, lastError: error });
    }
    if (onRetry) await onRetry({ attempt: decision.attempt, delayMs: decision.delayMs, reason: decision.reason, error });
    await sleep(decision.delayMs);
    retry = { attempt: decision.attempt, reason: decision.reason };
  }
}

module.exports = { Retrier, CircuitBreaker, RetryExhaustedError, withRetry, failureOf };
