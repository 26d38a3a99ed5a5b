'use strict';
// wflo for Google's Gen AI SDK (`@google/genai`): wrapGenAI(client) meters
// `models.generateContent` and `models.generateContentStream` on that client.
//
// The SDK turns one public call into one or more HTTP requests (automatic function calling
// and continuation run a loop) through `generateContentInternal` /
// `generateContentStreamInternal`; each of those is one request, so those are the methods
// replaced on the instance when the SDK has them (else the public ones). The SDK's parameters
// ({model, contents, config}) are written as the REST body they stand for (systemInstruction,
// tools and the generation settings out of `config`) and handed to the engine, which reads it
// by its `gemini` rules and reserves the worst case BEFORE the request — a refusal sends
// nothing. The output limit the reservation covers is written back into
// `config.maxOutputTokens`. A response is settled from its `usageMetadata` (gemini usage
// rules: prompt, candidates, cached content, thoughts); a stream is fed to the engine's
// stream meter and settled once when it ends, is cut, fails or is stopped.
const { NativeStream, InvalidArgumentError } = require('../index.cjs');
const { meteringWorkflow } = require('../lib/workflow.cjs');

const FORMAT = 'gemini';

/** The generation settings of `config` the engine reads, under the REST body's names. */
const GENERATION_KEYS = ['maxOutputTokens', 'candidateCount', 'responseSchema', 'responseJsonSchema', 'responseMimeType', 'thinkingConfig'];

/** The REST body the SDK's parameters stand for (what the engine reads). */
function requestBodyOf(params) {
  const config = params.config ?? {};
  const generationConfig = {};
  for (const k of GENERATION_KEYS) if (config[k] !== undefined) generationConfig[k] = config[k];
  return {
    contents: params.contents,
    systemInstruction: config.systemInstruction,
    tools: config.tools,
    generationConfig,
  };
}

/** The model as priced: `models/gemini-2.5-flash` is `gemini-2.5-flash`. */
const modelOf = (params) => (typeof params.model === 'string' ? params.model.replace(/^models\//, '') : undefined);

const reasonOf = (e) => String(e && e.message ? e.message : e);
const isAbort = (e, params) => (e && e.name === 'AbortError') || Boolean(params?.config?.abortSignal?.aborted);

async function reserve(workflow, params, stream, options, client) {
  const reservation = await workflow.reserveRequest(FORMAT, requestBodyOf(params), {
    model: modelOf(params),
    stream,
    baseUrl: options.baseUrl ?? baseUrlOf(client),
    provider: options.provider,
    clampMaxTokens: options.clampMaxTokens === true,
  });
  const limit = reservation.requestBody?.generationConfig?.maxOutputTokens;
  const sent = typeof limit === 'number' ? { ...params, config: { ...params.config, maxOutputTokens: limit } } : params;
  return { reservation, sent };
}

/** The client's base URL, when it was given one (`httpOptions.baseUrl`). */
function baseUrlOf(client) {
  const url = client?.apiClient?.clientOptions?.httpOptions?.baseUrl;
  return typeof url === 'string' ? url : undefined;
}

function endFailed(reservation, e, params) {
  if (!reservation.ended) reservation.release(isAbort(e, params) ? 'aborted' : 'error', reasonOf(e));
}

/** An async generator of the SDK's chunks, metered: settled once, however it ends. */
async function* meteredStream(source, reservation, params) {
  const native = new NativeStream(FORMAT);
  let status = 'aborted'; // the consumer stopped early
  try {
    for await (const chunk of source) {
      try {
        native.push(JSON.stringify(chunk));
      } catch {
        // A chunk the meter cannot read must not break the caller's stream.
      }
      yield chunk;
    }
    status = 'ok';
  } catch (e) {
    status = isAbort(e, params) ? 'aborted' : 'error';
    throw e;
  } finally {
    if (!reservation.ended) reservation.settleStream(native, status);
  }
}

/**
 * Meters `client` (a `GoogleGenAI` instance) in place and returns it. Inside a workflow each
 * generateContent / generateContentStream request (each one of an automatic function-calling
 * loop too) is budgeted before it leaves the process — a call that could overspend rejects
 * with BudgetExceededError and is never sent — and settled with the response's
 * usageMetadata (streams once, when they end). Outside any workflow the client behaves as before.
 *
 * @param {object} client
 * @param {{clampMaxTokens?: boolean, provider?: string, baseUrl?: string}} [options]
 */
function wrapGenAI(client, options = {}) {
  const models = client && client.models;
  if (!models || typeof models.generateContent !== 'function') {
    throw new InvalidArgumentError('invalid argument: expected a GoogleGenAI client instance', 'INVALID_ARGUMENT');
  }
  if (models[wrappedMark]) return client;
  const internal = typeof models.generateContentInternal === 'function' && typeof models.generateContentStreamInternal === 'function';
  const [unary, streamed] = internal ? ['generateContentInternal', 'generateContentStreamInternal'] : ['generateContent', 'generateContentStream'];

  const generate = models[unary];
  models[unary] = async function metered(params, ...rest) {
    const workflow = meteringWorkflow();
    if (!workflow || !params || typeof params !== 'object') return generate.call(this ?? models, params, ...rest);
    const { reservation, sent } = await reserve(workflow, params, false, options, client);
    let response;
    try {
      response = await generate.call(this ?? models, sent, ...rest);
    } catch (e) {
      endFailed(reservation, e, params);
      throw e;
    }
    if (!reservation.ended) reservation.settleResult(FORMAT, response ?? null);
    return response;
  };

  const generateStream = models[streamed];
  models[streamed] = async function meteredStreamCall(params, ...rest) {
    const workflow = meteringWorkflow();
    if (!workflow || !params || typeof params !== 'object') return generateStream.call(this ?? models, params, ...rest);
    const { reservation, sent } = await reserve(workflow, params, true, options, client);
    let source;
    try {
      source = await generateStream.call(this ?? models, sent, ...rest);
    } catch (e) {
      endFailed(reservation, e, params);
      throw e;
    }
    return meteredStream(source, reservation, params);
  };
  Object.defineProperty(models, wrappedMark, { value: true });
  return client;
}

const wrappedMark = Symbol.for('wflo.wrapped');

module.exports = { wrapGenAI };
