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
const { currentWorkflow, NativeStream } = require('../index.cjs');
const { invalid, InvalidArgumentError } = require('../lib/errors.cjs');

/** Tokens assumed for a file part that is not text (an image, a PDF): a flagged estimate. */
const DEFAULT_FILE_TOKENS = 1000;

const textTypes = /^(text\/|application\/(json|xml|x-ndjson|yaml|javascript))/;

/** The text of a file part when it is text, else null. */
function fileText(part) {
  if (!textTypes.test(part.mediaType || '')) return null;
  const data = part.data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (typeof data === 'string') return Buffer.from(data, 'base64').toString('utf8');
  return null; // a URL: the provider fetches it, we cannot see it
}

/** A tool result's output as the text the provider is sent. */
function toolOutputText(output) {
  if (output === undefined || output === null) return '';
  if (typeof output.value === 'string') return output.value;
  if (output.value !== undefined) return JSON.stringify(output.value);
  if (typeof output.reason === 'string') return output.reason;
  return JSON.stringify(output);
}

/**
 * Converts an AI SDK prompt (`params.prompt`: system/user/assistant/tool messages with parts)
 * to the `{role, content}` text messages wflo counts. Returns the messages, how many non-text
 * file parts were left out of the text (each is budgeted as an estimate), and whether the text
 * only approximates what the provider is sent (tool calls and results, which providers format
 * their own way).
 */
function promptToMessages(prompt) {
  const messages = [];
  let files = 0;
  let approximate = false;
  for (const message of Array.isArray(prompt) ? prompt : []) {
    if (!message || typeof message !== 'object') continue;
    const role = typeof message.role === 'string' ? message.role : 'user';
    if (typeof message.content === 'string') {
      messages.push({ role, content: message.content });
      continue;
    }
    const texts = [];
    for (const part of Array.isArray(message.content) ? message.content : []) {
      switch (part && part.type) {
        case 'text':
        case 'reasoning':
          texts.push(part.text ?? '');
          break;
        case 'tool-call':
          approximate = true;
          texts.push(`${part.toolName}(${typeof part.input === 'string' ? part.input : JSON.stringify(part.input ?? {})})`);
          break;
        case 'tool-result':
          approximate = true;
          texts.push(toolOutputText(part.output));
          break;
        case 'file': {
          const text = fileText(part);
          if (text === null) files += 1;
          else texts.push(text);
          break;
        }
        default:
          if (part && typeof part.text === 'string') texts.push(part.text);
      }
    }
    messages.push({ role, content: texts.join('\n') });
  }
  return { messages, files, approximate };
}

/** What is sent besides the messages and billed as input: tool definitions, a JSON schema. */
function extraInput(params) {
  const extra = [];
  if (Array.isArray(params.tools) && params.tools.length) {
    extra.push(JSON.stringify(params.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.inputSchema ?? t.args }))));
  }
  const format = params.responseFormat;
  if (format && format.type === 'json' && format.schema) extra.push(JSON.stringify(format.schema));
  return extra.length ? [{ role: 'system', content: extra.join('\n') }] : [];
}

/** True when the usage carries the provider's token totals (AI SDK 6's structured form or 5's flat one). */
function usageReported(usage) {
  if (!usage || typeof usage !== 'object') return false;
  const { inputTokens: i, outputTokens: o } = usage;
  if (i && typeof i === 'object' && o && typeof o === 'object') {
    return (typeof i.total === 'number' || typeof i.noCache === 'number') && (typeof o.total === 'number' || typeof o.text === 'number');
  }
  return typeof i === 'number' && typeof o === 'number';
}

/** Books the usage the provider reported; false when it reported none. */
function settleUsage(reservation, usage) {
  if (!usageReported(usage)) return false;
  const { inputTokens, outputTokens, cachedInputTokens, reasoningTokens } = usage;
  try {
    reservation.settleJson('ai_sdk', JSON.stringify({ usage: { inputTokens, outputTokens, cachedInputTokens, reasoningTokens } }));
  } catch (e) {
    if (e instanceof InvalidArgumentError) return false; // implausible figures: estimate instead
    throw e;
  }
  return true;
}

/** Books a call whose usage is unknown: the prompt as counted, the output estimated from its text. */
function settleEstimated(reservation, text, status) {
  const stream = new NativeStream('openai_chat');
  if (text) stream.push(JSON.stringify({ choices: [{ delta: { content: text } }] }));
  reservation.settleStream(stream, status);
}

/** The text a generate result delivered (for an estimate when usage is missing). */
function resultText(result) {
  const parts = Array.isArray(result && result.content) ? result.content : [];
  return parts
    .map((p) => (p.type === 'tool-call' ? (typeof p.input === 'string' ? p.input : JSON.stringify(p.input ?? '')) : p.text ?? ''))
    .join('');
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
      case 'tool-input-delta':
        streamedTools.add(part.id);
        text += part.delta ?? '';
        break;
      case 'tool-call':
        if (!streamedTools.has(part.toolCallId)) text += typeof part.input === 'string' ? part.input : JSON.stringify(part.input ?? '');
        break;
      case 'error':
        failure = part.error ?? 'stream error';
        break;
      case 'finish':
        if (!reservation.ended && !settleUsage(reservation, part.usage)) settleEstimated(reservation, text, 'ok');
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
 * @param {number} [options.fileTokens] tokens assumed per non-text file part (default 1000, flagged as an estimate)
 */
function wfloMiddleware(options = {}) {
  if (options === null || typeof options !== 'object') throw invalid('wfloMiddleware options must be an object');
  const { workflow, model: modelName, provider, clampMaxTokens = false, fileTokens = DEFAULT_FILE_TOKENS } = options;
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
      const wf = workflow ?? currentWorkflow();
      if (!wf) return params;
      const name = modelName ?? (model && model.modelId);
      if (typeof name !== 'string' || name === '') throw invalid('the wrapped model has no modelId: pass options.model');
      const engine = await wf.engine();
      const { messages, files, approximate } = promptToMessages(params.prompt);
      const extra = extraInput(params);
      const count = engine.countChatTokens(name, [...extra, ...messages]);
      const asked = params.maxOutputTokens;
      const reservation = await wf.reserve({
        model: name,
        provider: provider ?? (model && typeof model.provider === 'string' ? model.provider.split('.')[0] : undefined),
        inputTokens: count.tokens + files * fileTokens,
        // Exact for text; flagged (the engine adds its margin) where we approximate.
        inputEstimated: count.estimated || files > 0 || approximate || extra.length > 0,
        maxOutputTokens: typeof asked === 'number' ? asked : null,
        stream: type === 'stream',
        clampMaxTokens,
      });
      const transformed = { ...params };
      if (clampMaxTokens) transformed.maxOutputTokens = reservation.maxOutputTokens;
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
      if (!reservation.ended && !settleUsage(reservation, result && result.usage)) {
        settleEstimated(reservation, resultText(result), 'ok');
      }
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

module.exports = { wfloMiddleware, promptToMessages };
