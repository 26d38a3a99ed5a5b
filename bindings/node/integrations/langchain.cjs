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
const { registerRunner } = require('../lib/runners.cjs');
const { WfloWorkflow, InvalidArgumentError } = require('../index.cjs');
const { meteringWorkflow } = require('../lib/workflow.cjs');

const invalid = (message) => new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');

// Reservations by LangChain run id, shared by every handler instance in the process: LangChain
// copies handlers (`copy()`), and a program may attach a second wflo handler by hand; either
// way a run is reserved once and settled once.
const runs = new Map();

// One `handleChatModelStart` call covers a batch of prompts (one run each) and passes the same
// `extraParams` object for all of them. When one run of a batch is refused, the model call is
// abandoned as a whole, so the runs already reserved must be given back.
const batches = new WeakMap();

/** The type of a LangChain message ("human", "ai", …), old and new styles. */
function messageType(m) {
  if (typeof m?.getType === 'function') return m.getType();
  if (typeof m?._getType === 'function') return m._getType();
  return m?.type;
}

/**
 * A LangChain message as plain data (its type and the fields the engine reads), so its JSON
 * is the message and not LangChain's serialisation envelope.
 */
function plainMessage(m) {
  if (typeof m === 'string' || m === null || typeof m !== 'object') return m;
  const out = { type: messageType(m) ?? m.role ?? 'user', content: m.content ?? '' };
  for (const key of ['role', 'name', 'tool_calls', 'tool_call_id', 'additional_kwargs', 'usage_metadata']) {
    if (m[key] !== undefined && m[key] !== null) out[key] = m[key];
  }
  return out;
}

/** The fields of `obj` among `keys` that are set. */
const pick = (obj, keys) => Object.fromEntries(keys.filter((k) => obj[k] !== undefined && obj[k] !== null).map((k) => [k, obj[k]]));

/** An LLMResult as plain data: its generations with plain messages, and llmOutput. */
/**
 * Streamed chunks as generations for the engine to read: merged into one by LangChain's own
 * `concat` (text, tool-call chunks, usage), else as they came — core counts every one.
 */
function merged(chunks) {
  return chunks.every((c) => typeof c.concat === 'function') ? [chunks.reduce((a, b) => a.concat(b))] : chunks;
}

function plainResult(output) {
  const generations = (output?.generations ?? []).map((gens) =>
    (gens ?? []).map((g) => ({ text: g?.text, message: g?.message ? plainMessage(g.message) : undefined })));
  return { generations, llmOutput: output?.llmOutput };
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
    return this.workflow ?? meteringWorkflow();
  }

  async handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata) {
    await this._start(runId, extraParams, metadata, { messages: (messages?.[0] ?? []).map(plainMessage) });
  }

  /** A completion model: its prompts are plain text, counted without chat framing. */
  async handleLLMStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata) {
    await this._start(runId, extraParams, metadata, { prompts: (prompts ?? []).map(String) });
  }

  /**
   * Reserves the run through the engine (the `langchain` request format: the messages, the
   * invocation parameters and LangSmith's `ls_*` metadata). LangChain cannot rewrite the
   * request, so the body the engine returns is not used.
   */
  async _start(runId, extraParams, metadata, prompt) {
    const workflow = this._workflow();
    if (!workflow || runs.has(runId)) return;
    const batch = extraParams && typeof extraParams === 'object' ? extraParams : null;
    if (batch && batches.get(batch)?.refused) throw batches.get(batch).refused;
    const params = extraParams?.invocation_params ?? {};
    const meta = metadata ?? {};
    const request = {
      // The handler's model stands in (the last name the engine looks for) when the call names none.
      ...(this.model ? { modelId: this.model } : {}),
      ...params,
      ...pick(meta, ['ls_model_name', 'ls_max_tokens', 'ls_provider']),
      ...prompt, // {messages} of a chat model, or {prompts}: a completion model's plain text
    };
    let reservation;
    try {
      reservation = await workflow.reserveRequest('langchain', request);
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
    if (run.reservation.ended) return;
    // The usage of each prompt's generations, else their text and tool calls estimated.
    run.reservation.settleResult('langchain', plainResult(output));
  }

  /** A streamed chunk: kept, so a stream cut midway is billed for what it delivered. */
  handleLLMNewToken(token, idx, runId, parentRunId, tags, fields) {
    const run = runs.get(runId);
    if (run) (run.streamed ??= []).push(fields?.chunk ?? { text: String(token ?? '') });
  }

  async handleLLMError(err, runId) {
    const run = runs.get(runId);
    if (!run) return;
    runs.delete(runId);
    if (run.reservation.ended) return;
    const aborted = err?.name === 'AbortError' || /abort/i.test(String(err?.name ?? ''));
    const status = aborted ? 'aborted' : 'error';
    if (run.streamed) {
      // A stream cut midway: the provider billed the prompt and what it streamed — LangChain's
      // merged chunks, read by the engine (their usage if it came, else their text).
      run.reservation.settleResult('langchain', plainResult({ generations: [merged(run.streamed)] }), status);
    } else {
      // The call failed before the provider produced anything (an HTTP error).
      run.reservation.release(status, String(err?.message ?? err));
    }
  }
}

// `WfloWorkflow.execute(runnable, inputs, config)`: a LangChain runnable or LangGraph graph
// (LangChain's own `lc_runnable` marker, which both module systems' classes carry) is invoked
// with wflo's callback handler added to the caller's.
registerRunner('langchain', (target) => target !== null && typeof target === 'object' && target.lc_runnable === true,
  (workflow, runnable, inputs, config) => {
    const callbacks = [...(Array.isArray(config?.callbacks) ? config.callbacks : []), new WfloCallbackHandler({ workflow })];
    return runnable.invoke(inputs, { ...config, callbacks });
  });

module.exports = { WfloCallbackHandler };
