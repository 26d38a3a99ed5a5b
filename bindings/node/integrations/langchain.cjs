'use strict';
// wflo for LangChain.js (and LangGraph.js, whose nodes call LangChain models): a callback
// handler that reserves a model call's worst case BEFORE its request is sent, settles it from
// the provider's usage after, and releases it when the call fails.
//
// LangChain awaits a handler and rethrows its errors only when the handler was built with
// `raiseError: true` (which also sets `awaitHandlers`); a `raiseError` class field alone does
// not, so the constructor passes it to `super`. A refusal thrown from `handleChatModelStart`
// then rejects the model call before any HTTP request is made.
const { BaseCallbackHandler } = require('@langchain/core/callbacks/base');
const { currentWorkflow, settleFromResult, parseUsage, WfloWorkflow, InvalidArgumentError } = require('../index.cjs');

const invalid = (message) => new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');

// Reservations by LangChain run id, shared by every handler instance in the process: LangChain
// copies handlers (`copy()`), and a program may attach a second wflo handler by hand; either
// way a run is reserved once and settled once.
const runs = new Map();

// One `handleChatModelStart` call covers a batch of prompts (one run each) and passes the same
// `extraParams` object for all of them. When one run of a batch is refused, the model call is
// abandoned as a whole, so the runs already reserved must be given back.
const batches = new WeakMap();

const ROLES = { human: 'user', ai: 'assistant', system: 'system', developer: 'developer', tool: 'tool', function: 'function' };

/** The type of a LangChain message ("human", "ai", …), old and new styles. */
function messageType(m) {
  if (typeof m?.getType === 'function') return m.getType();
  if (typeof m?._getType === 'function') return m._getType();
  return m?.type;
}

/** A LangChain message as the `{role, content, …}` object wflo counts. */
function toChatMessage(m) {
  if (typeof m === 'string') return { role: 'user', content: m };
  const type = messageType(m);
  const role = type === 'generic' || type === 'chat' ? String(m.role ?? 'user') : ROLES[type] ?? String(m?.role ?? 'user');
  const out = { role, content: m?.content ?? '' };
  if (typeof m?.name === 'string' && m.name !== '') out.name = m.name;
  if (Array.isArray(m?.tool_calls) && m.tool_calls.length > 0) {
    // Billed as the function calls the provider is sent: name and JSON arguments.
    out.tool_calls = m.tool_calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: typeof c.args === 'string' ? c.args : JSON.stringify(c.args ?? {}) },
    }));
  }
  if (typeof m?.tool_call_id === 'string') out.tool_call_id = m.tool_call_id;
  return out;
}

const positive = (v) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
const nonEmpty = (v) => (typeof v === 'string' && v !== '' ? v : null);

/** The model a call is for: what the request sends, else what LangSmith metadata says. */
function modelOf(params, metadata) {
  return nonEmpty(params.model) ?? nonEmpty(params.model_name) ?? nonEmpty(params.modelName) ??
    nonEmpty(metadata.ls_model_name) ?? nonEmpty(params.model_id) ?? nonEmpty(params.modelId);
}

/** The request's output cap, or null (the reservation then assumes the model's maximum). */
function maxTokensOf(params, metadata) {
  return positive(metadata.ls_max_tokens) ?? positive(params.max_tokens) ?? positive(params.max_completion_tokens) ??
    positive(params.maxTokens) ?? positive(params.max_output_tokens) ?? positive(params.maxOutputTokens) ??
    positive(params.max_tokens_to_sample) ?? positive(params.generationConfig?.maxOutputTokens);
}

/** Tool definitions sent with the request: billed as prompt tokens (counted as their JSON, estimated). */
function toolsOf(params) {
  const tools = params.tools ?? params.functions;
  return Array.isArray(tools) && tools.length > 0 ? tools : null;
}

/** The first usage_metadata of each prompt's generations (all choices of one request carry the same). */
function usageMetadataOf(output) {
  const found = [];
  for (const gens of output?.generations ?? []) {
    for (const g of gens ?? []) {
      const u = g?.message?.usage_metadata;
      if (u && typeof u === 'object') {
        found.push(u);
        break;
      }
    }
  }
  return found;
}

function textOf(output) {
  const parts = [];
  for (const gens of output?.generations ?? []) {
    for (const g of gens ?? []) {
      const content = g?.message?.content;
      if (typeof g?.text === 'string' && g.text !== '') parts.push(g.text);
      else if (typeof content === 'string') parts.push(content);
      else if (content !== undefined && content !== null) parts.push(JSON.stringify(content));
    }
  }
  return parts.join('');
}

function usageZero() {
  return { input: 0, output: 0, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0, reasoning: 0 };
}

/**
 * A LangChain.js callback handler that budgets every model call of a wflo workflow.
 *
 * The workflow is the one given to the constructor, else the one the call runs in
 * (`workflow.execute(…)`, `workflow.step(…)`); outside any workflow the handler does nothing.
 */
class WfloCallbackHandler extends BaseCallbackHandler {
  /**
   * @param {object} [options]
   * @param {WfloWorkflow} [options.workflow] the workflow to meter calls on (default: the current one)
   * @param {string} [options.model] the model name to price calls with when the call does not say
   */
  constructor(options = {}) {
    super({ raiseError: true });
    const { workflow, model } = options ?? {};
    if (workflow !== undefined && workflow !== null && !(workflow instanceof WfloWorkflow)) {
      throw invalid('WfloCallbackHandler: workflow must be a WfloWorkflow');
    }
    if (model !== undefined && model !== null && (typeof model !== 'string' || model === '')) {
      throw invalid('WfloCallbackHandler: model must be a non-empty string');
    }
    this.name = 'wflo';
    this.workflow = workflow ?? null;
    this.model = model ?? null;
  }

  /** The workflow a call made now is metered on, or null. */
  _workflow() {
    return this.workflow ?? currentWorkflow();
  }

  async handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata) {
    await this._start(runId, extraParams, metadata, (engine, model) => {
      const chat = (messages?.[0] ?? []).map(toChatMessage);
      const tools = toolsOf(extraParams?.invocation_params ?? {});
      if (tools) chat.push({ role: 'system', tools });
      return engine.countChatTokens(model, chat);
    });
  }

  async handleLLMStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata) {
    await this._start(runId, extraParams, metadata, (engine, model) =>
      engine.countTokens(model, (prompts ?? []).map(String).join('')));
  }

  async _start(runId, extraParams, metadata, count) {
    const workflow = this._workflow();
    if (!workflow || runs.has(runId)) return;
    const batch = extraParams && typeof extraParams === 'object' ? extraParams : null;
    if (batch && batches.get(batch)?.refused) throw batches.get(batch).refused;
    const params = extraParams?.invocation_params ?? {};
    const meta = metadata ?? {};
    const model = modelOf(params, meta) ?? this.model;
    if (!model) {
      throw invalid('wflo cannot tell which model this LangChain call uses (no invocation_params.model nor ' +
        'metadata.ls_model_name); pass new WfloCallbackHandler({ model })');
    }
    const engine = await workflow.engine();
    const tokens = count(engine, model);
    let reservation;
    try {
      reservation = await workflow.reserve({
        model,
        provider: nonEmpty(meta.ls_provider),
        inputTokens: tokens.tokens,
        inputEstimated: tokens.estimated,
        maxOutputTokens: maxTokensOf(params, meta),
        stream: params.stream === true,
      });
    } catch (e) {
      if (batch) this._abandonBatch(batch, e);
      throw e;
    }
    const refused = batch ? batches.get(batch)?.refused : null;
    if (refused) {
      // Another prompt of the batch was refused while this one was being reserved.
      reservation.release('aborted', 'another prompt of the batch was refused');
      throw refused;
    }
    runs.set(runId, { reservation, workflow });
    if (batch) {
      const entry = batches.get(batch) ?? { runIds: [], refused: null };
      entry.runIds.push(runId);
      batches.set(batch, entry);
    }
  }

  /** A run of the batch was refused: release the runs it already reserved. */
  _abandonBatch(batch, error) {
    const entry = batches.get(batch) ?? { runIds: [], refused: null };
    entry.refused = error;
    batches.set(batch, entry);
    for (const id of entry.runIds) {
      const run = runs.get(id);
      runs.delete(id);
      if (run && !run.reservation.ended) run.reservation.release('aborted', 'another prompt of the batch was refused');
    }
    entry.runIds = [];
  }

  async handleLLMEnd(output, runId) {
    const run = runs.get(runId);
    if (!run) return;
    runs.delete(runId);
    const { reservation } = run;
    if (reservation.ended) return;
    const usages = usageMetadataOf(output);
    try {
      if (usages.length === 1) {
        reservation.settleJson('langchain', JSON.stringify({ usage_metadata: usages[0] }));
        return;
      }
      if (usages.length > 1) {
        // Several prompts in one run (plain LLMs): the sum of their usages.
        const sum = usageZero();
        for (const u of usages) {
          const one = parseUsage('langchain', JSON.stringify({ usage_metadata: u }));
          for (const k of Object.keys(sum)) sum[k] += one[k] ?? 0;
        }
        reservation.settle(sum);
        return;
      }
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      // Malformed usage: fall through to the provider's token counts or an estimate.
    }
    const tokenUsage = output?.llmOutput?.tokenUsage ?? output?.llmOutput?.token_usage;
    const promptTokens = tokenUsage?.promptTokens ?? tokenUsage?.prompt_tokens;
    if (positive(promptTokens)) {
      reservation.settle({ input: promptTokens, output: tokenUsage.completionTokens ?? tokenUsage.completion_tokens ?? 0 });
      return;
    }
    // No usage at all: the output is estimated from the text with the tokenizer (flagged).
    settleFromResult(reservation, { content: textOf(output) });
  }

  async handleLLMError(err, runId) {
    const run = runs.get(runId);
    if (!run) return;
    runs.delete(runId);
    if (run.reservation.ended) return;
    const aborted = err?.name === 'AbortError' || /abort/i.test(String(err?.name ?? ''));
    run.reservation.release(aborted ? 'aborted' : 'error', String(err?.message ?? err));
  }
}

module.exports = { WfloCallbackHandler, toChatMessage };
