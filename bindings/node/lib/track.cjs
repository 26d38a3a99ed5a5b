'use strict';
// trackLlmCall: meter any function that makes one LLM call.
const { invalid } = require('./errors.cjs');
const { currentWorkflow, settleFromResult } = require('./workflow.cjs');

/** The prompt a tracked function was given: a string, a messages array, or {messages}. */
function promptOf(args) {
  const first = args[0];
  if (typeof first === 'string') return [{ role: 'user', content: first }];
  if (Array.isArray(first)) return first;
  if (first && Array.isArray(first.messages)) return first.messages;
  return [];
}

/**
 * Wraps `fn` (an async function making one LLM call) so that, inside a workflow, the call is
 * budgeted BEFORE it runs — the prompt counted from `fn`'s first argument (a string, a
 * messages array, or `{messages}`) plus `maxTokens` output — and settled from its result's
 * usage after. Outside a workflow `fn` runs as it is.
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
    const engine = await workflow.engine();
    const count = engine.countChatTokens(model, promptOf(args));
    const reservation = await workflow.reserve({
      model,
      provider,
      inputTokens: count.tokens,
      inputEstimated: count.estimated,
      maxOutputTokens: maxTokens ?? null,
    });
    let result;
    try {
      result = await fn.apply(this, args);
    } catch (e) {
      reservation.release('error', String(e && e.message ? e.message : e));
      throw e;
    }
    settleFromResult(reservation, result, format);
    return result;
  };
}

module.exports = { trackLlmCall };
