'use strict';
// trackLlmCall: meter any function that makes one LLM call.
const { invalid } = require('./errors.cjs');
const { current, runWith } = require('./context.cjs');
const { currentWorkflow, settleFromResult } = require('./workflow.cjs');

/** The tracked function's first argument as JSON data, or null when it is none (a class instance, a cycle). */
function inputOf(args) {
  try {
    return args.length ? JSON.parse(JSON.stringify(args[0]) ?? 'null') : null;
  } catch {
    return null;
  }
}

// What wrapOpenAI, wrapAnthropic and wrapGenAI mark a client (Gen AI: its `models`) with.
const wrappedMark = Symbol.for('wflo.wrapped');

/** Whether `value` is an SDK client whose calls wflo meters (a wrapped one). */
function isMeteredClient(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    return Boolean(value[wrappedMark] || (value.models && value.models[wrappedMark]));
  } catch {
    return false; // a proxy that throws on access is no client of ours
  }
}

/** The data values `value` holds itself (getters are not run: they may do anything). */
function ownValues(value) {
  if (value === null || typeof value !== 'object') return [];
  return Object.values(Object.getOwnPropertyDescriptors(value))
    .filter((d) => 'value' in d)
    .map((d) => d.value);
}

/**
 * Whether the tracked function's call is budgeted from its actual request: JavaScript cannot
 * look inside a closure, so only what the tracker is shown counts — `options.client`, else an
 * argument or `this` (or one of its own properties) that is a wrapped client.
 */
function reachesMeteredClient(self, args, client) {
  if (client !== undefined) return isMeteredClient(client);
  return [...args, self, ...ownValues(self)].some(isMeteredClient);
}

/**
 * Wraps `fn` (an async function making one LLM call) so that, inside a workflow, the call is
 * budgeted BEFORE it is sent, in one of two ways:
 *
 * - When `fn` makes it through a wrapped client (`wrapOpenAI`, `wrapAnthropic`, `wrapGenAI`)
 *   the tracker is shown — `options.client`, an argument, `this` or one of its properties —
 *   that client budgets the call from its actual request (its messages, its `max_tokens`), and
 *   the tracker adds nothing: the call is charged to the running step (and agent).
 * - Otherwise the tracker cannot see the request and reserves up front: the prompt counted
 *   from `fn`'s first argument (a string, a messages array, or `{messages}`) plus `maxTokens`
 *   of output (none: the model's maximum), settled from the result's usage after. A wrapped
 *   client used inside does not meter the call a second time. A refusal says how the call was
 *   sized and how to make it precise.
 *
 * Either way a call that could overspend throws BudgetExceededError before anything is sent.
 * Outside a workflow `fn` runs as it is.
 *
 * @param {Function} fn
 * @param {{model: string, maxTokens?: number, provider?: string, format?: string, client?: object}} options
 */
function trackLlmCall(fn, { model, maxTokens, provider, format = 'auto', client } = {}) {
  if (typeof fn !== 'function') throw invalid('trackLlmCall needs a function');
  if (typeof model !== 'string' || model === '') throw invalid('trackLlmCall needs options.model');
  return async function tracked(...args) {
    const workflow = currentWorkflow();
    if (!workflow || reachesMeteredClient(this, args, client)) return fn.apply(this, args);
    // The engine reads the prompt from the first argument (a string, messages, or {messages}).
    const request = { model, input: inputOf(args) };
    if (maxTokens !== undefined && maxTokens !== null) request.max_tokens = maxTokens;
    if (provider) request.ls_provider = provider;
    const reservation = await workflow.reserveRequest('langchain', request, { upfront: true });
    let result;
    try {
      // The call inside is this reservation's: a wrapped SDK client does not meter it again.
      result = await runWith({ ...current(), metered: true }, () => fn.apply(this, args));
    } catch (e) {
      reservation.release('error', String(e && e.message ? e.message : e));
      throw e;
    }
    settleFromResult(reservation, result, format);
    return result;
  };
}

module.exports = { trackLlmCall };
