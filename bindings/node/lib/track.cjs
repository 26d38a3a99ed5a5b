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

/**
 * Wraps `fn` (an async function making one LLM call) so that, inside a workflow, the call is
 * budgeted BEFORE it runs — the prompt counted from `fn`'s first argument (a string, a
 * messages array, or `{messages}`) plus `maxTokens` output (none: the model's maximum) — and
 * settled from its result's usage after. A wrapped SDK client (`wrapOpenAI`, …) used inside
 * `fn` does not meter the call a second time. Outside a workflow `fn` runs as it is.
 *
 * @param {Function} fn
 * @param {{model: string, maxTokens?: number, provider?: string, format?: string}} options
 */
function trackLlmCall(fn, { model, maxTokens, provider, format = 'auto' } = {}) {
  if (typeof fn !== 'function') throw invalid('trackLlmCall needs a function');
  if (typeof model !== 'string' || model === '') throw invalid('trackLlmCall needs options.model');
  return async function tracked(...args) {
    const workflow = currentWorkflow();
    if (!workflow) return fn.apply(this, args);
    // The engine reads the prompt from the first argument (a string, messages, or {messages}).
    const request = { model, input: inputOf(args) };
    if (maxTokens !== undefined && maxTokens !== null) request.max_tokens = maxTokens;
    if (provider) request.ls_provider = provider;
    const reservation = await workflow.reserveRequest('langchain', request);
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
