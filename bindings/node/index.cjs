'use strict';
// wflo for Node.js: meter every LLM call, refuse a call BEFORE it could overspend, record
// what each execution did and cost, keep checkpoints to roll back to.
const { version, NativeStream, parseUsage: nativeParseUsage } = require('./lib/native.cjs');
const errors = require('./lib/errors.cjs');
const { Engine, getDefaultEngine, setDefaultEngine, pureEngine } = require('./lib/engine.cjs');
const { WfloWorkflow, currentWorkflow, settleFromResult } = require('./lib/workflow.cjs');
const { Scope } = require('./lib/scope.cjs');
const { BinaryState } = require('./lib/state.cjs');
const { trackLlmCall } = require('./lib/track.cjs');
const { Reservation } = require('./lib/reservation.cjs');
const { Retrier, CircuitBreaker, RetryExhaustedError, withRetry, failureOf } = require('./lib/resilience.cjs');
const { ResourceLock, Permit } = require('./lib/contention.cjs');

/** Counts `text` as `model` is billed for it: {tokens, encoding, estimated}. */
const countTokens = (model, text) => pureEngine().countTokens(model, text);
/** Counts a chat request's messages with the per-message overhead. */
const countChatTokens = (model, messages) => pureEngine().countChatTokens(model, messages);
/** How a model name resolves and every price it has (pico-USD per token). */
const price = (model) => pureEngine().price(model);
/** The cost of a usage on a model: {nanos, usd}. */
const cost = (model, usage) => pureEngine().cost(model, usage);
/** Parses a provider's usage JSON (a response body or its usage object) into wflo usage. */
const parseUsage = (format, json) =>
  errors.native(() => nativeParseUsage(format, typeof json === 'string' ? json : JSON.stringify(json)));

module.exports = {
  version: version(),
  Engine,
  getDefaultEngine,
  setDefaultEngine,
  WfloWorkflow,
  Scope,
  BinaryState,
  currentWorkflow,
  settleFromResult,
  trackLlmCall,
  Reservation,
  countTokens,
  countChatTokens,
  price,
  cost,
  parseUsage,
  NativeStream,
  withRetry,
  failureOf,
  Retrier,
  CircuitBreaker,
  RetryExhaustedError,
  ResourceLock,
  Permit,
  WfloError: errors.WfloError,
  InvalidArgumentError: errors.InvalidArgumentError,
  UnknownModelError: errors.UnknownModelError,
  BudgetExceededError: errors.BudgetExceededError,
  CircuitOpenError: errors.CircuitOpenError,
  ResourceBusyError: errors.ResourceBusyError,
  ApprovalDeniedError: errors.ApprovalDeniedError,
  ApprovalPendingError: errors.ApprovalPendingError,
  CallLimitError: errors.CallLimitError,
  NotFoundError: errors.NotFoundError,
  ConflictError: errors.ConflictError,
  StorageError: errors.StorageError,
  ClosedError: errors.ClosedError,
  InternalError: errors.InternalError,
};
