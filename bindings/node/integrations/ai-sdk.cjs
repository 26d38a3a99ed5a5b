'use strict';
// Vercel AI SDK middleware: `wrapLanguageModel({ model, middleware: wfloMiddleware() })`.
//
// The AI SDK gives a middleware three hooks per call, run in this order by the wrapped model:
// `transformParams` (before anything is sent), then `wrapGenerate` or `wrapStream` (around the
// provider's request). A refusal must happen in `transformParams`: an error thrown there is not
// an API error, so the SDK's retry loop rethrows it at once and no HTTP request is made.
//
// The reservation made in `transformParams` reaches `wrapGenerate`/`wrapStream` through a
// WeakMap keyed by the params object `transformParams` returns: the AI SDK hands that very
// object to the wrap hook of the same call (`wrapGenerate({ params: transformedParams })`).
// We return a fresh shallow copy for every call, so two concurrent calls — even ones built
// from one params object — never share a key, other middlewares in the chain each see their
// own params object and cannot disturb ours, and nothing travels to the provider (a
// `providerOptions` marker would be sent along in the request). If the wrap hook never runs,
// the entry goes with the params object, and the engine releases a reservation that is
// garbage-collected unsettled (a shared scope's also has a lease).
const { meteringWorkflow } = require('../lib/workflow.cjs');
const { invalid } = require('../lib/errors.cjs');

/**
 * The call options the engine reads (`ai_sdk` format): the prompt, tools, response format
 * and output limit, as JSON; bytes go as base64, as providers are sent them. What only
 * travels inside the process (the abort signal, headers, provider options) stays out.
 */
function requestOf(params) {
  const { abortSignal, headers, providerOptions, ...rest } = params ?? {}; // eslint-disable-line no-unused-vars
  return rest;
}

/** Books a call whose usage is unknown from the text it generated (the engine estimates it). */
function settleEstimated(reservation, text, status) {
  reservation.settleText(text, status);
}

const isAbort = (e, params) => (e && e.name === 'AbortError') || Boolean(params && params.abortSignal && params.abortSignal.aborted);
const reasonOf = (e) => String(e && e.message ? e.message : e);

/**
 * Ends a reservation whose call did not report usage: with output seen, settle it as an
 * estimate (tokens were generated, so they were billed); with none and an error, release it.
 */
function endWithoutUsage(reservation, text, status, error) {
  if (reservation.ended) return;
  if (status !== 'ok' && !text) reservation.release(status, error === undefined ? undefined : reasonOf(error));
  else settleEstimated(reservation, text, status);
}

/**
 * Wraps a provider stream: forwards every part unchanged, settles once at the `finish` part
 * (before the consumer sees it, so `onFinish` finds the call booked), and ends the reservation
 * if the stream closes, errors or is cancelled without one.
 *
 * The provider stream is read eagerly, not on the consumer's demand: when a consumer stops
 * reading without cancelling (streamText does, on an abort signal), a stream pulled on demand
 * would never reach its end and its reservation would stay held. Replies are small; the parts
 * wait in the returned stream's queue. And an abort signal ends the reservation itself: after
 * an abort, the AI SDK's provider stream at times neither ends nor errors (seen with ai 6.0 and
 * @ai-sdk/openai 3.0 under load), so waiting for the stream alone could hold the budget forever.
 */
function meteredStream(source, reservation, params) {
  const reader = source.getReader();
  let text = '';
  let failure = null;
  let cancelled = false;
  const streamedTools = new Set();
  let out;
  const output = new ReadableStream({
    start(controller) {
      out = controller;
    },
    cancel(reason) {
      cancelled = true;
      endWithoutUsage(reservation, text, 'aborted', reason);
      return reader.cancel(reason);
    },
  });

  const observe = (part) => {
    switch (part && part.type) {
      case 'text-delta':
      case 'reasoning-delta':
        text += part.delta ?? '';
        break;
      case 'tool-input-start':
        streamedTools.add(part.id);
        text += part.toolName ?? '';
        break;
      case 'tool-input-delta':
        streamedTools.add(part.id);
        text += part.delta ?? '';
        break;
      case 'tool-call':
        if (!streamedTools.has(part.toolCallId)) {
          text += (part.toolName ?? '') + (typeof part.input === 'string' ? part.input : JSON.stringify(part.input ?? ''));
        }
        break;
      case 'error':
        failure = part.error ?? 'stream error';
        break;
      case 'finish':
        // The provider's usage, else (none reported) the streamed text: the engine decides.
        if (!reservation.ended) reservation.settleResult('ai_sdk', { usage: part.usage ?? null, text });
        break;
      default:
    }
  };

  const pump = async () => {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        endWithoutUsage(reservation, text, isAbort(e, params) ? 'aborted' : 'error', e);
        if (!cancelled) out.error(e);
        return;
      }
      if (cancelled) return;
      if (chunk.done) {
        endWithoutUsage(reservation, text, failure ? 'error' : 'ok', failure ?? undefined);
        out.close();
        return;
      }
      observe(chunk.value);
      out.enqueue(chunk.value);
    }
  };
  // On abort: let the parts already received flow through first (a finish part among them
  // settles exactly), then book what arrived as an aborted call.
  const signal = params && params.abortSignal;
  const onAbort = () =>
    setImmediate(() => {
      try {
        endWithoutUsage(reservation, text, 'aborted', signal.reason);
      } catch {
        // the reservation's lease frees it
      }
    });
  if (signal && typeof signal.addEventListener === 'function') {
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  const pumped = pump().finally(() => {
    if (signal && typeof signal.removeEventListener === 'function') signal.removeEventListener('abort', onAbort);
  });
  pumped.catch((e) => {
    // Booking failed (a closed engine, a storage error): the consumer gets the error.
    if (!reservation.ended) {
      try {
        reservation.release('error', reasonOf(e));
      } catch {
        // the reservation's lease frees it
      }
    }
    reader.cancel(e).catch(() => {});
    if (!cancelled) {
      cancelled = true;
      try {
        out.error(e);
      } catch {
        // already closed
      }
    }
  });
  return output;
}

/**
 * The wflo middleware for the Vercel AI SDK. Inside a workflow (`workflow.execute`, or the
 * `workflow` option), every call of the wrapped model is counted and reserved before its
 * request — a call that could overspend throws `BudgetExceededError` and is never sent — and
 * settled from the usage the provider reports (`generateText`: the result; `streamText`: the
 * `finish` part). Outside any workflow calls pass through untouched.
 *
 * @param {object} [options]
 * @param {import('../index.cjs').WfloWorkflow} [options.workflow] the workflow to charge (default: the current one)
 * @param {string} [options.model] the model name to price (default: the model's `modelId`)
 * @param {string} [options.provider] the provider to record (default: from the model's `provider`)
 * @param {boolean} [options.clampMaxTokens] lower `maxOutputTokens` to what the budget allows instead of refusing
 * @param {number} [options.fileTokens] deprecated and ignored (still checked to be a non-negative integer): the
 *   engine now bounds an image part by the provider's documented maximum, and refuses, under a
 *   budget, a file part it cannot bound
 */
function wfloMiddleware(options = {}) {
  if (options === null || typeof options !== 'object') throw invalid('wfloMiddleware options must be an object');
  const { workflow, model: modelName, provider, clampMaxTokens = false, fileTokens = 0 } = options;
  if (workflow !== undefined && (workflow === null || typeof workflow.reserve !== 'function')) {
    throw invalid('options.workflow must be a WfloWorkflow');
  }
  if (modelName !== undefined && (typeof modelName !== 'string' || modelName === '')) throw invalid('options.model must be a model name');
  if (!Number.isInteger(fileTokens) || fileTokens < 0) throw invalid('options.fileTokens must be a non-negative integer');

  /** params object returned by transformParams → the reservation of that call. */
  const reservations = new WeakMap();
  const take = (params) => {
    const reservation = params && typeof params === 'object' ? reservations.get(params) : undefined;
    if (reservation) reservations.delete(params);
    return reservation;
  };

  return {
    specificationVersion: 'v3',

    async transformParams({ type, params, model }) {
      const wf = workflow ?? meteringWorkflow();
      if (!wf) return params;
      const name = modelName ?? (model && model.modelId);
      if (typeof name !== 'string' || name === '') throw invalid('the wrapped model has no modelId: pass options.model');
      const reservation = await wf.reserveRequest('ai_sdk', requestOf(params), {
        model: name,
        provider: provider ?? (model && typeof model.provider === 'string' ? model.provider.split('.')[0] : undefined),
        stream: type === 'stream',
        clampMaxTokens,
      });
      // The limit the reservation covers (lowered under the clamp policy, made explicit when
      // the call set none): the provider cannot produce more than was held.
      const transformed = { ...params };
      const limit = reservation.requestBody?.maxOutputTokens;
      if (typeof limit === 'number') transformed.maxOutputTokens = limit;
      reservations.set(transformed, reservation);
      return transformed;
    },

    async wrapGenerate({ doGenerate, params }) {
      const reservation = take(params);
      if (!reservation) return doGenerate();
      let result;
      try {
        result = await doGenerate();
      } catch (e) {
        if (!reservation.ended) reservation.release(isAbort(e, params) ? 'aborted' : 'error', reasonOf(e));
        throw e;
      }
      // The provider's usage, else its generated content (text, tool calls) estimated.
      if (!reservation.ended) reservation.settleResult('ai_sdk', result ?? null);
      return result;
    },

    async wrapStream({ doStream, params }) {
      const reservation = take(params);
      if (!reservation) return doStream();
      let result;
      try {
        result = await doStream();
      } catch (e) {
        if (!reservation.ended) reservation.release(isAbort(e, params) ? 'aborted' : 'error', reasonOf(e));
        throw e;
      }
      return { ...result, stream: meteredStream(result.stream, reservation, params) };
    },
  };
}

module.exports = { wfloMiddleware };
