'use strict';
// wflo for Node.js: meter every LLM call, refuse a call BEFORE it could overspend, record
// what each execution did and cost, keep checkpoints to roll back to.
//
// `require('wflo')` loads nothing it can leave for later: each export below is a getter that
// loads its module (lib/*.cjs) the first time it is read, then becomes a plain property
// holding that same object, so every later read returns it at no cost. The native addon
// (lib/native.cjs) is loaded when the engine is first needed — the first engine opened or
// workflow started, countTokens, `version`, … — and a missing or broken addon throws its
// error (`cannot load its native addon for <platform>`, with what was tried) there, and at
// every use after, instead of at require. The ESM entry (index.mjs) reads every export, so
// `import … from 'wflo'` loads all of it at once.

let engineLib;
let errorsLib;
let addonLib;
const engine = () => (engineLib ??= require('./lib/engine.cjs'));
const errors = () => (errorsLib ??= require('./lib/errors.cjs'));
const addon = () => (addonLib ??= require('./lib/native.cjs'));

/** Counts `text` as `model` is billed for it: {tokens, encoding, estimated}. */
const countTokens = (model, text) => engine().pureEngine().countTokens(model, text);
/** Counts a chat request's messages with the per-message overhead. */
const countChatTokens = (model, messages) => engine().pureEngine().countChatTokens(model, messages);
/** How a model name resolves and every price it has (pico-USD per token). */
const price = (model) => engine().pureEngine().price(model);
/** The cost of a usage on a model: {nanos, usd}. */
const cost = (model, usage) => engine().pureEngine().cost(model, usage);
/** Parses a provider's usage JSON (a response body or its usage object) into wflo usage. */
const parseUsage = (format, json) => {
  const { parseUsage: nativeParseUsage } = addon();
  return errors().native(() => nativeParseUsage(format, typeof json === 'string' ? json : JSON.stringify(json)));
};

// Where each export comes from: a function of the export's name, run on its first read.
const fromEngine = (name) => engine()[name];
const fromErrors = (name) => errors()[name];
const fromAddon = (name) => addon()[name];
const fromLib = (file) => (name) => require(file)[name];

// Every export, in the order `Object.keys(require('wflo'))` lists them, with where its value
// comes from, or `{ value }` for what costs nothing to make here.
const exportsInOrder = [
  ['version', () => addon().version()],
  ...['Engine', 'getDefaultEngine', 'setDefaultEngine'].map((name) => [name, fromEngine]),
  ['WfloWorkflow', fromLib('./lib/workflow.cjs')],
  ['Scope', fromLib('./lib/scope.cjs')],
  ['BinaryState', fromLib('./lib/state.cjs')],
  ['currentWorkflow', fromLib('./lib/workflow.cjs')],
  ['settleFromResult', fromLib('./lib/workflow.cjs')],
  ['trackLlmCall', fromLib('./lib/track.cjs')],
  ['Reservation', fromLib('./lib/reservation.cjs')],
  ['countTokens', { value: countTokens }],
  ['countChatTokens', { value: countChatTokens }],
  ['price', { value: price }],
  ['cost', { value: cost }],
  ['parseUsage', { value: parseUsage }],
  ['NativeStream', fromAddon],
  ...['withRetry', 'failureOf', 'Retrier', 'CircuitBreaker', 'RetryExhaustedError'].map((name) => [
    name,
    fromLib('./lib/resilience.cjs'),
  ]),
  ...['ResourceLock', 'Permit'].map((name) => [name, fromLib('./lib/contention.cjs')]),
  ...['WfloError', 'InvalidArgumentError', 'UnknownModelError', 'BudgetExceededError', 'CircuitOpenError',
    'ResourceBusyError', 'ApprovalDeniedError', 'ApprovalPendingError', 'CallLimitError', 'NotFoundError',
    'ConflictError', 'StorageError', 'ClosedError', 'InternalError'].map((name) => [name, fromErrors]),
];

const wflo = {};

/** Makes `name` a plain property holding `value` (as an object literal would have). */
function settle(name, value) {
  Object.defineProperty(wflo, name, { value, writable: true, enumerable: true, configurable: true });
}

for (const [name, make] of exportsInOrder) {
  if (typeof make !== 'function') {
    settle(name, make.value);
    continue;
  }
  Object.defineProperty(wflo, name, {
    enumerable: true,
    configurable: true,
    get() {
      const value = make(name); // a throw (no addon) leaves the getter, to throw again next time
      settle(name, value);
      return value;
    },
    set(value) {
      settle(name, value);
    },
  });
}

// Assigned whole, once built (not defined on `module.exports` in place): loaders that emulate
// CommonJS — vitest running this file inline, bundlers — take `module.exports = …` as the
// module's default export.
module.exports = wflo;
