'use strict';
// wflo for the OpenAI Agents SDK (`@openai/agents`): a ModelProvider (and a Model wrapper)
// that budgets every model call an agent run makes.
//
// The Agents SDK asks a `Model` for each turn (`getResponse`, `getStreamedResponse`) with a
// `ModelRequest`: instructions, input items, tools, handoffs, settings. The wrapper writes
// that request as the Responses API request it stands for (the SDK's items are the Responses
// items, named in camelCase; a handoff is a function tool) and hands it to the engine, which
// reads it by its `openai_responses` rules and reserves the worst case BEFORE the inner model
// is called — a refusal sends nothing. The output limit the reservation covers goes back into
// the request's `modelSettings.maxTokens`, so the model cannot produce more than was held.
// The call is settled from the usage the SDK reports (`ModelResponse.usage`, a stream's
// `response_done` event), written back in the Responses API's wire names; a stream that ends
// without it is settled from the text it produced, estimated by the engine.
//
// Each call is charged to the agent that made it (`agent` option → the execution's scope
// `agent:<name>`, limited by the workflow's `agentBudgetsUsd` share when it has one): the
// SDK's current span (its public `getCurrentSpan()`) names the running agent, also with tracing
// disabled, so a handoff's calls are charged to the agent handed to without user code.
const { meteringWorkflow } = require('../lib/workflow.cjs');
const { invalid } = require('../lib/errors.cjs');
const { registerRunner } = require('../lib/runners.cjs');

const FORMAT = 'openai_responses';

// ---- The request, as the Responses API request it stands for ----------------------------------

/** An SDK input item as the Responses API item (only the names that differ are changed). */
function itemOf(item) {
  if (!item || typeof item !== 'object') return item;
  switch (item.type) {
    case 'function_call':
      return { type: 'function_call', call_id: item.callId, name: item.name, arguments: item.arguments };
    case 'function_call_result':
      return { type: 'function_call_output', call_id: item.callId, output: item.output };
    default:
      return item;
  }
}

/** A handoff is offered to the model as a function tool. */
const handoffTool = (h) => ({ type: 'function', name: h.toolName, description: h.toolDescription, parameters: h.inputJsonSchema, strict: h.strictJsonSchema });

/** The structured output the agent asks for, as the Responses API's text format. */
function textFormat(outputType) {
  if (!outputType || outputType === 'text' || typeof outputType !== 'object') return undefined;
  return { format: { type: 'json_schema', name: outputType.name, schema: outputType.schema, strict: outputType.strict } };
}

/** The Responses API request a ModelRequest stands for, for the engine to read. */
function requestBodyOf(model, request, stream) {
  const input = request.input;
  return {
    model,
    instructions: typeof request.systemInstructions === 'string' ? request.systemInstructions : undefined,
    input: Array.isArray(input) ? input.map(itemOf) : input,
    tools: [...(request.tools ?? []), ...(request.handoffs ?? []).map(handoffTool)],
    text: textFormat(request.outputType),
    max_output_tokens: request.modelSettings?.maxTokens ?? undefined,
    stream: stream || undefined,
  };
}

/**
 * The running agent's name, from the SDK's current span (`getCurrentSpan()`, public API): the
 * turn's (`TurnSpanData.agent_name`) or, when the runner makes no turn spans, the agent's own
 * (`AgentSpanData.name`). The runner makes them current around each model call also with
 * tracing disabled (no-op spans), in a store all copies of the SDK share (ESM and CommonJS
 * alike). The `ModelRequest` names no agent, and the runner's `agent_start` events are per
 * runner, not per call. Undefined outside an agent run.
 */
function currentAgentName() {
  let span;
  try {
    span = require('@openai/agents').getCurrentSpan();
  } catch {
    return undefined;
  }
  const data = span?.spanData;
  if (!data || typeof data !== 'object') return undefined;
  if (data.type === 'turn' && typeof data.agent_name === 'string' && data.agent_name !== '') return data.agent_name;
  if (data.type === 'agent' && typeof data.name === 'string' && data.name !== '') return data.name;
  return undefined;
}

// ---- The usage, as the Responses API reports it --------------------------------------------------

/** One of the SDK's token details (a record, or one record per request) as one record, summed. */
function details(value) {
  const out = {};
  for (const rec of Array.isArray(value) ? value : [value]) {
    if (!rec || typeof rec !== 'object') continue;
    for (const [k, v] of Object.entries(rec)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/**
 * The SDK's usage (`Usage`, or a stream's usage data) in the Responses API's names, or null
 * when it reports none (a provider that sent no usage leaves the SDK's counters at zero).
 */
function wireUsage(usage) {
  if (!usage || typeof usage !== 'object') return null;
  const input = usage.inputTokens ?? 0;
  const output = usage.outputTokens ?? 0;
  if (input === 0 && output === 0) return null;
  return {
    input_tokens: input,
    output_tokens: output,
    total_tokens: usage.totalTokens ?? input + output,
    input_tokens_details: details(usage.inputTokensDetails),
    output_tokens_details: details(usage.outputTokensDetails),
  };
}

/** What the call returned, for the engine: its usage, and its output items (text to estimate from). */
const resultOf = (response) => ({ usage: wireUsage(response?.usage), output: (response?.output ?? []).map(itemOf) });

// ---- The metered model ---------------------------------------------------------------------------

const reasonOf = (e) => String(e && e.message ? e.message : e);
const isAbort = (e, request) => (e && e.name === 'AbortError') || Boolean(request?.signal?.aborted);

function endFailed(reservation, e, request) {
  if (!reservation.ended) reservation.release(isAbort(e, request) ? 'aborted' : 'error', reasonOf(e));
}

/** Text a stream event adds to the output (for an estimate when the stream ends without usage). */
function textOf(event) {
  if (!event || typeof event !== 'object') return '';
  if (event.type === 'output_text_delta' && typeof event.delta === 'string') return event.delta;
  const raw = event.type === 'model' ? event.event : null;
  if (raw && typeof raw === 'object') {
    // A function call's arguments, streamed (Responses and Chat Completions raw events).
    if (raw.type === 'response.function_call_arguments.delta' && typeof raw.delta === 'string') return raw.delta;
    const calls = raw.choices?.[0]?.delta?.tool_calls;
    if (Array.isArray(calls)) return calls.map((c) => (c.function?.name ?? '') + (c.function?.arguments ?? '')).join('');
  }
  return '';
}

/**
 * A Model that budgets each call of `model` (an Agents SDK `Model`) inside a workflow and
 * passes through outside any.
 */
class WfloModel {
  constructor(model, name, options) {
    this.model = model;
    this.name = name;
    this.options = options;
  }

  /** Reserves `request` on the current workflow; null outside any. Returns the request to send. */
  async reserve(request, stream) {
    const workflow = this.options.workflow ?? meteringWorkflow();
    if (!workflow) return null;
    // The SDK's OpenAI models keep their model name and client protected (`_model`, `_client`)
    // with no public accessor: read when present; `options.model` / `options.baseUrl` say it
    // for a model that has neither.
    const name = this.name ?? (typeof this.model?._model === 'string' ? this.model._model : undefined);
    if (typeof name !== 'string' || name === '') throw invalid('the model has no name: pass options.model');
    const agent = typeof this.options.agent === 'function' ? this.options.agent(request) : (this.options.agent ?? currentAgentName());
    const baseUrl = this.options.baseUrl ?? (typeof this.model?._client?.baseURL === 'string' ? this.model._client.baseURL : undefined);
    const reservation = await workflow.reserveRequest(FORMAT, requestBodyOf(name, request, stream), {
      baseUrl,
      provider: this.options.provider,
      stream,
      clampMaxTokens: this.options.clampMaxTokens === true,
      agent: typeof agent === 'string' && agent !== '' ? agent : undefined,
    });
    const limit = reservation.requestBody?.max_output_tokens;
    const sent = typeof limit === 'number' ? { ...request, modelSettings: { ...request.modelSettings, maxTokens: limit } } : request;
    return { reservation, sent };
  }

  async getResponse(request) {
    const held = await this.reserve(request, false);
    if (!held) return this.model.getResponse(request);
    const { reservation, sent } = held;
    let response;
    try {
      response = await this.model.getResponse(sent);
    } catch (e) {
      endFailed(reservation, e, request);
      throw e;
    }
    if (!reservation.ended) reservation.settleResult(FORMAT, resultOf(response));
    return response;
  }

  async *getStreamedResponse(request) {
    const held = await this.reserve(request, true);
    if (!held) {
      yield* this.model.getStreamedResponse(request);
      return;
    }
    const { reservation, sent } = held;
    let text = '';
    let status = 'aborted'; // the consumer stopped early
    let failure;
    try {
      for await (const event of this.model.getStreamedResponse(sent)) {
        if (event && event.type === 'response_done') {
          // Settled before the runner sees the end, so its usage is booked once, exactly.
          if (!reservation.ended) reservation.settleResult(FORMAT, { ...resultOf(event.response), text });
        } else {
          text += textOf(event);
        }
        yield event;
      }
      status = 'ok';
    } catch (e) {
      status = isAbort(e, request) ? 'aborted' : 'error';
      failure = e;
      throw e;
    } finally {
      if (!reservation.ended) {
        // No usage came: what was streamed is estimated; nothing streamed and failed: released.
        if (status !== 'ok' && text === '') reservation.release(status, failure === undefined ? undefined : reasonOf(failure));
        else reservation.settleText(text, status);
      }
    }
  }

  getRetryAdvice(args) {
    return typeof this.model.getRetryAdvice === 'function' ? this.model.getRetryAdvice(args) : undefined;
  }
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw invalid('options must be an object');
  if (options.workflow !== undefined && (options.workflow === null || typeof options.workflow.reserveRequest !== 'function')) {
    throw invalid('options.workflow must be a WfloWorkflow');
  }
  if (options.agent !== undefined && typeof options.agent !== 'string' && typeof options.agent !== 'function') {
    throw invalid('options.agent must be an agent name or a function of the request');
  }
  return options;
}

/**
 * Meters `model` (an Agents SDK `Model`, e.g. an agent's `model` instance): see
 * `wfloModelProvider`. `options.model` names the model to price (default: the model's own).
 */
function wrapModel(model, options = {}) {
  if (!model || typeof model.getResponse !== 'function') throw invalid('wrapModel takes an Agents SDK Model');
  if (model instanceof WfloModel) return model;
  checkOptions(options);
  return new WfloModel(model, options.model, options);
}

// ---- The entry points, per copy of the SDK ----------------------------------------------------

// An application may load the SDK twice: `import` gets its ESM build, `require` its CommonJS
// build, and each keeps its own default model provider and default OpenAI client. The entry
// points below act on the copy the application imports: CommonJS from this file, ESM from
// openai-agents.mjs (which calls `entryPoints` with the ESM module).
const copies = [];

/**
 * `wfloModelProvider`, `setDefaultWfloModelProvider` and `runAgent` over one copy of the SDK:
 * `sdk()` returns it (loaded on first use), `owns(agent)` tells its agents.
 */
function entryPoints(sdk, owns) {
  /**
   * A ModelProvider whose models are metered: inside a workflow each model call of an agent run
   * is reserved before it is sent (a call that could overspend rejects with
   * BudgetExceededError, and the run with it), charged to the running agent's scope, and
   * settled with the usage the SDK reports. Outside any workflow the models behave as before.
   *
   * @param {object} [provider] the ModelProvider to meter (default: the SDK's OpenAIProvider)
   * @param {{workflow?: object, agent?: string|Function, provider?: string, baseUrl?: string, clampMaxTokens?: boolean}} [options]
   */
  function wfloModelProvider(provider, options = {}) {
    checkOptions(options);
    let inner = provider;
    return {
      [Symbol.for('wflo.wrapped')]: true,
      async getModel(modelName) {
        inner ??= new (sdk().OpenAIProvider)(); // what `run()` uses unless told otherwise
        const model = await inner.getModel(modelName);
        return new WfloModel(model, modelName ?? options.model, options);
      },
    };
  }

  /**
   * Makes the metered provider the SDK's default, so `run(agent, input)` is budgeted in every
   * workflow with no further code. Returns the provider installed.
   */
  function setDefaultWfloModelProvider(provider, options) {
    const metered = wfloModelProvider(provider, options);
    sdk().setDefaultModelProvider(metered);
    return metered;
  }

  /** Runs `agent` on `input` with a runner whose models are metered (`runOptions` as `run()` takes). */
  function runAgent(agent, input, runOptions = {}, options = {}) {
    const { modelProvider, ...rest } = runOptions ?? {};
    const metered = modelProvider?.[Symbol.for('wflo.wrapped')] ? modelProvider : wfloModelProvider(modelProvider, options);
    return new (sdk().Runner)({ modelProvider: metered }).run(agent, input, rest);
  }

  const points = { wfloModelProvider, setDefaultWfloModelProvider, runAgent };
  copies.unshift({ owns, runAgent }); // the copy loaded last is asked first
  return points;
}

let commonjs;
const sdk = () => (commonjs ??= require('@openai/agents'));
const { wfloModelProvider, setDefaultWfloModelProvider, runAgent } = entryPoints(sdk, (agent) => agent instanceof sdk().Agent);

// `workflow.execute(agent, input)`: an Agents SDK agent (ESM and CommonJS copies alike), run by
// the copy it belongs to.
const isAgent = (t) =>
  t !== null && typeof t === 'object' && typeof t.name === 'string' && Array.isArray(t.handoffs) && typeof t.getSystemPrompt === 'function' && typeof t.clone === 'function';
registerRunner('openai-agents', isAgent, (workflow, agent, input, config) => {
  const copy = copies.find((c) => c.owns(agent)) ?? copies[copies.length - 1];
  return copy.runAgent(agent, input, config, { workflow });
});

module.exports = { wfloModelProvider, wrapModel, setDefaultWfloModelProvider, runAgent, WfloModel };
// For openai-agents.mjs only (not enumerable: not part of the API).
Object.defineProperty(module.exports, 'entryPoints', { value: entryPoints });
