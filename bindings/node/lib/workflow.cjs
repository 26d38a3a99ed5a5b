'use strict';
// WfloWorkflow: the seed's API in JavaScript idiom. An execution with a budget; `execute`
// runs a function or a LangChain/LangGraph runnable inside it; checkpoints and rollback;
// the cost breakdown.
const errors = require('./errors.cjs');
const { native, nativeAsync, invalid } = errors;
const { camelize, budgetNanos, present } = require('./convert.cjs');
const { stateToSave, savedState } = require('./state.cjs');
const { Reservation, reserveOn, reserveRequestOn, throughApprovals } = require('./reservation.cjs');
const { getDefaultEngine, Engine, pureEngine } = require('./engine.cjs');
const { current, runWith } = require('./context.cjs');
const { runnerFor } = require('./runners.cjs');
const { Scope, checkLabel } = require('./scope.cjs');
const { activeTraceparent } = require('./telemetry.cjs');
const { approvalRequestJson, approvalOf } = require('./approval.cjs');

/** `maxCalls` as the engine's whole number, or null for no cap. */
function callCap(maxCalls) {
  if (maxCalls === undefined || maxCalls === null) return null;
  const n = typeof maxCalls === 'bigint' && maxCalls <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(maxCalls) : maxCalls;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`maxCalls must be a whole number of calls from 0, got ${String(maxCalls)}`);
  return n;
}

/** `agentBudgetsUsd` ({name: dollars}) as the engine's {name: nano-USD}, or null for none. */
function agentBudgets(budgets) {
  if (budgets === undefined || budgets === null) return null;
  if (typeof budgets !== 'object' || Array.isArray(budgets)) throw invalid('agentBudgetsUsd must be an object of {agent name: dollars}');
  const out = {};
  for (const [agent, usd] of Object.entries(budgets)) {
    const nanos = budgetNanos(pureEngine(), usd, `agentBudgetsUsd[${JSON.stringify(agent)}]`);
    if (nanos === null) throw invalid(`agentBudgetsUsd[${JSON.stringify(agent)}] must be an amount (leave the agent out for no budget of its own)`);
    out[agent] = nanos;
  }
  return out;
}

class WfloWorkflow {
  /**
   * @param {object} options
   * @param {string} [options.name] the workflow's name
   * @param {number|string|bigint|null} [options.budgetUsd] its budget: dollars (a decimal
   *   string or a number) or nano-USD (a bigint); null or omitted: no limit (0 is a budget of zero)
   * @param {Engine} [options.engine] the engine (default: the process-wide one)
   * @param {string[]} [options.sharedScopes] shared budgets it also draws from
   * @param {string} [options.id] the execution id to start with ("exec-" + 12 hex; default: a new one)
   * @param {number[]} [options.alertThresholds] percents of each limited scope's budget at
   *   which `engine.onThreshold` callbacks hear of it, once each (default [50, 80, 95]; [] for none)
   * @param {number|string|bigint|null} [options.softBudgetUsd] a soft budget, as `budgetUsd`:
   *   reaching it fires an alert (kind "soft_budget") and refuses nothing
   * @param {string} [options.traceparent] the W3C traceparent whose trace the execution joins
   *   (default: the active OpenTelemetry span's, when the application uses OpenTelemetry)
   * @param {number|string|bigint|null} [options.approvalAboveUsd] an approval threshold, as
   *   `budgetUsd`: a call whose worst case passes it waits for a person's approval (gate
   *   `call #n over $<threshold>`) before it reserves; the wait is a promise, never a blocked
   *   thread (see `reserve`)
   * @param {number|bigint|null} [options.maxCalls] the most LLM calls the execution may make
   *   (the original SDK's `max_iterations`): the next is refused with CallLimitError before
   *   anything is reserved; a refused call does not count. Null or omitted: no cap
   * @param {Object<string, number|string|bigint>} [options.agentBudgetsUsd] each agent's own
   *   budget, by the name its framework gives the agent, dollars as `budgetUsd`: a call made
   *   for an agent (request option `agent`) reserves on the agent's scope `agent:<name>`,
   *   limited by its share and by the execution's budget
   */
  constructor({
    name = 'workflow', budgetUsd, engine, sharedScopes = [], id, alertThresholds, softBudgetUsd, traceparent, approvalAboveUsd,
    maxCalls, agentBudgetsUsd,
  } = {}) {
    if (typeof name !== 'string') throw invalid('name must be a string');
    if (engine !== undefined && !(engine instanceof Engine)) throw invalid('engine must be a wflo Engine');
    if (!Array.isArray(sharedScopes)) throw invalid('sharedScopes must be an array of names');
    if (id !== undefined && id !== null && typeof id !== 'string') throw invalid('id must be a string');
    if (alertThresholds !== undefined && alertThresholds !== null && !Array.isArray(alertThresholds)) {
      throw invalid('alertThresholds must be an array of percents');
    }
    if (traceparent !== undefined && traceparent !== null && typeof traceparent !== 'string') {
      throw invalid('traceparent must be a string');
    }
    // Parsed now (by the engine), so a bad amount fails here rather than at start().
    this._budgetNanos = budgetNanos(pureEngine(), budgetUsd);
    this._softBudgetNanos = budgetNanos(pureEngine(), softBudgetUsd, 'softBudgetUsd');
    this._approvalAboveNanos = budgetNanos(pureEngine(), approvalAboveUsd, 'approvalAboveUsd');
    this._maxCalls = callCap(maxCalls);
    this._agentBudgets = agentBudgets(agentBudgetsUsd);
    this._alertThresholds = alertThresholds ?? null;
    this._traceparent = traceparent ?? null;
    this._id = id ?? null;
    this.name = name;
    this.budgetUsd = budgetUsd ?? null;
    this._engine = engine;
    this._sharedScopes = sharedScopes;
    this._native = null;
    this._running = false;
    this._starting = null;
  }

  /** Opens a stored execution again (in this process or a new one). */
  static async resume(executionId, { engine, sharedScopes = [] } = {}) {
    const wf = new WfloWorkflow({ engine, sharedScopes });
    const eng = await wf.engine();
    wf._native = await nativeAsync(() => eng.native.resumeExecution(executionId, sharedScopes));
    wf._running = true;
    wf.name = wf._native.name;
    return wf;
  }

  /** The execution id ("exec-" + 12 hex) once started, else null. */
  get executionId() {
    return this._native ? this._native.id : null;
  }

  /**
   * The id of the trace the execution belongs to (32 hex digits) once started, else null:
   * the active OpenTelemetry span's trace when it started inside one (or the `traceparent`
   * option's), else a trace of its own.
   */
  get traceId() {
    return this._native ? this._native.traceId : null;
  }

  async engine() {
    if (!this._engine) this._engine = await getDefaultEngine();
    return this._engine;
  }

  /**
   * Starts the workflow's execution (execute does this itself). A workflow is ONE execution:
   * after execute finishes it, the next execute (or start) reopens it — same id, same budget,
   * spend, checkpoints and graph state. For a separate run with a budget of its own, make a
   * new WfloWorkflow.
   */
  async start() {
    if (this._running) return this;
    if (!this._starting) {
      // Read here, in the caller's async context: the span active where start (or execute) was called.
      const traceparent = this._native ? null : (this._traceparent ?? activeTraceparent());
      this._starting = (async () => {
        const eng = await this.engine();
        const shared = this._sharedScopes.length ? this._sharedScopes : null;
        if (this._native) {
          const id = this._native.id;
          this._native = await nativeAsync(() => eng.native.resumeExecution(id, shared));
        } else {
          // Absent ones left out; the engine reads and checks them.
          const options = JSON.stringify(present({
            id: this._id,
            shared_scopes: shared,
            traceparent,
            alert_thresholds: this._alertThresholds,
            soft_budget_nanos: this._softBudgetNanos,
            approval_above_nanos: this._approvalAboveNanos,
            max_calls: this._maxCalls,
            agent_budgets: this._agentBudgets,
          }));
          this._native = await nativeAsync(() => eng.native.startExecution(this.name, this._budgetNanos, options));
        }
        this._running = true;
      })().finally(() => {
        this._starting = null;
      });
    }
    await this._starting;
    return this;
  }

  /**
   * Runs `fnOrGraph` as one execution: a function `(inputs, workflow) => …`, or a LangChain
   * runnable / LangGraph compiled graph, invoked with `config` (e.g. `{configurable:
   * {thread_id}}`) plus wflo's callback handler so every model call is budgeted and metered.
   * Ends the execution completed, failed or budget_exceeded.
   */
  async execute(fnOrGraph, inputs, config) {
    const runner = typeof fnOrGraph === 'function' ? null : runnerFor(fnOrGraph);
    if (typeof fnOrGraph !== 'function' && !runner) {
      const hint = fnOrGraph && fnOrGraph.lc_runnable === true ? ": load its integration first (require('wflo/langchain'))" : '';
      throw invalid(`execute needs a function, or a framework object whose integration is loaded${hint}`);
    }
    if (config !== undefined && (config === null || typeof config !== 'object')) throw invalid('config must be an object');
    await this.start();
    const run = async () => (runner ? runner.run(this, fnOrGraph, inputs, config) : fnOrGraph(inputs, this));
    let result;
    try {
      result = await runWith({ workflow: this, scope: null }, run);
    } catch (e) {
      const err = errors.fromNative(e);
      await this._end(true, err).catch(() => {});
      throw err;
    }
    await this._end(false);
    return result;
  }

  /**
   * Ends the execution the way its body ended: `end()` when it returned (completed),
   * `end(error)` with the error it raised — the engine finds a budget refusal anywhere along
   * the error's causes (budget_exceeded), else failed. Resolves to the status chosen, or
   * null when the execution was not running. (`execute` does this itself.)
   */
  async end(...raised) {
    this._started();
    return this._end(raised.length > 0, raised[0]);
  }

  /**
   * Runs `fn(scope)` as a step: its calls (however deep) are recorded under `label` and
   * checked against its own budget, if any; `scope.step(...)` inside nests.
   */
  async step(label, fn, { budgetUsd } = {}) {
    return (await this.scope(label, { budgetUsd }))._run(fn);
  }

  /**
   * The step scope `label` (created on first use); `budgetUsd` gives it a limit of its own
   * inside the execution's (null or omitted: none; 0 is a limit of zero).
   */
  async scope(label, { budgetUsd } = {}) {
    checkLabel(label);
    await this.start();
    const budget = budgetNanos(await this.engine(), budgetUsd);
    return new Scope(this, native(() => this._native.scope(label, budget)));
  }

  /** The native object a call on `scope` (default: the running step, else the execution) reserves on. */
  _target(scope) {
    if (scope === undefined || scope === null) {
      const frame = current();
      scope = frame?.workflow === this ? frame.scope : null;
    } else if (!(scope instanceof Scope) || scope.workflow !== this) {
      throw invalid('scope must be a Scope of this workflow');
    }
    return scope ? scope._native : this._native;
  }

  async _end(raised, error) {
    if (!this._running) return null;
    this._running = false;
    const codes = raised ? errors.errorCodes(error) : null;
    const status = await nativeAsync(() => this._native.end(codes));
    // Alerts come through a queue drained by the event loop: one turn of it, and every alert
    // of this execution's calls has reached the engine's onThreshold callbacks.
    if (this._engine._alerts.size > 0) await new Promise(setImmediate);
    return status;
  }

  /**
   * Reserves the worst case of a call on `scope` (default: the running step, else the
   * execution). A call over the `approvalAboveUsd` threshold first waits for its approval —
   * the promise resolves once a person approved it (the event loop runs meanwhile) and
   * rejects with ApprovalDeniedError when they deny it; nothing is reserved until then.
   */
  async reserve(request, scope) {
    await this.start();
    const target = this._target(scope);
    if (this._sharedScopes.length) {
      // Shared scopes live in the store: reserve off the JavaScript thread.
      return this._throughApprovals(async () => new Reservation(await nativeAsync(() => target.reserveAsync(present(request)))));
    }
    return this._throughApprovals(async () => reserveOn(target, request));
  }

  /** Runs a reservation, awaiting any approval gate it meets (see `throughApprovals`). */
  _throughApprovals(reserve) {
    return throughApprovals((id) => this.waitForApproval(id), reserve);
  }

  /**
   * Reserves a provider request on `scope` (default: the running step, else the execution):
   * the engine reads `body` (`format`: "openai_chat", "openai_responses", "anthropic",
   * "gemini", "langchain", "ai_sdk") — prompt, output limit in force, n, stream — and reserves
   * its worst case. Send the reservation's `requestBody`: the limit the reservation covers is
   * written in, and an OpenAI chat stream asks for its usage.
   *
   * Inside `withRetry`, a retry's reservation says which attempt it is and why it was made
   * (recorded with the call), unless `options` says otherwise. A call over the
   * `approvalAboveUsd` threshold waits for its approval first, as in `reserve`.
   *
   * `options.agent` names the agent the call is made for: it reserves on the agent's scope
   * (`agent:<name>`, limited by its `agentBudgetsUsd` share, if any) instead of `scope`.
   *
   * @param {{baseUrl?: string, provider?: string, model?: string, stream?: boolean, clampMaxTokens?: boolean, attempt?: number, retryReason?: string, agent?: string}} [options]
   */
  async reserveRequest(format, body, options, scope) {
    await this.start();
    const retry = current()?.retry;
    if (retry && (options === undefined || options === null || options.attempt === undefined || options.attempt === null)) {
      options = { ...options, attempt: retry.attempt, retryReason: retry.reason };
    }
    const target = this._target(scope);
    return this._throughApprovals(() => reserveRequestOn(target, format, body, options));
  }

  /**
   * `reserve` without the promise, for hot loops: needs a started workflow without shared
   * scopes (those live in the store, so their reservations are asynchronous). It cannot wait
   * for an approval: a call over the `approvalAboveUsd` threshold whose gate is not decided
   * throws ApprovalPendingError (nothing reserved) — use `reserve()`, which waits.
   */
  reserveSync(request, scope) {
    if (!this._native) throw new errors.ClosedError('the workflow has not started: await workflow.start() first', 'CLOSED');
    if (this._sharedScopes.length) throw invalid('a workflow with shared scopes reserves asynchronously: use reserve()');
    return reserveOn(this._target(scope), request);
  }

  /** Records a call made without a reservation, from a provider's response or usage JSON. */
  async recordCall(model, response, format = 'auto') {
    await this.start();
    const text = typeof response === 'string' ? response : JSON.stringify(response);
    return native(() => this._native.recordCall(model, format, text));
  }

  /**
   * Asks a person for approval before `gate` (a step's name) and waits for the decision:
   * resolves to the approval once approved; rejects with ApprovalDeniedError when denied, or
   * when no one decided within `timeoutMs` (default one hour; `onTimeout: "approve"` lets a
   * timeout through instead). Someone approves with `wflo approve ID` (or `engine.approve`),
   * from any process on the store. Asking again for the same gate — a restarted workflow —
   * finds the same approval. Approved spend still goes through the budget.
   *
   * @param {string} gate
   * @param {{why?: string, what?: string, worstCaseUsd?: number|string|bigint|null, timeoutMs?: number, onTimeout?: 'deny'|'approve', requestedBy?: string}} [options]
   *   `what` (default "run <gate>") and `why` are shown to the approver, with the worst case
   *   of the spend behind the gate (dollars as `budgetUsd`) and `requestedBy` (default host:pid).
   */
  async requireApproval(gate, options) {
    const pending = await this.requestApproval(gate, options);
    return this.waitForApproval(pending.id);
  }

  /**
   * Records the approval `requireApproval` asks for without waiting, and resolves to it
   * (pending, or the approval this execution already has for `gate`, decided or not).
   */
  async requestApproval(gate, options) {
    await this.start();
    const json = approvalRequestJson(await this.engine(), gate, options);
    return approvalOf(await nativeAsync(() => this._native.requestApproval(json)));
  }

  /**
   * Waits for approval `id`, off the JavaScript thread, at most `waitMs` (omitted: until its
   * timeout): resolves to the approval once approved, or to it still pending when `waitMs`
   * ran out; rejects with ApprovalDeniedError when denied or timed out.
   */
  async waitForApproval(id, { waitMs } = {}) {
    if (typeof id !== 'string') throw invalid('an approval id must be a string');
    if (waitMs !== undefined && waitMs !== null && (!Number.isInteger(waitMs) || waitMs < 0)) {
      throw invalid(`waitMs must be a whole number of milliseconds from 0, got ${String(waitMs)}`);
    }
    const exec = await this._current();
    return approvalOf(await nativeAsync(() => exec.waitForApproval(id, waitMs ?? null)));
  }

  /**
   * Saves a checkpoint of `state`, committed when the promise resolves; resolves to its info.
   * `state` is anything JSON can hold, or a binary state: a `BinaryState`, or bytes (a Buffer,
   * Uint8Array or ArrayBuffer) in the format `options.contentType` names (omitted: the
   * engine's "application/octet-stream"), stored as they are and given back byte for byte.
   *
   * @param {string} name
   * @param {unknown} state
   * @param {{contentType?: string}} [options]
   */
  async checkpoint(name, state, options) {
    if (typeof name !== 'string' || name === '') throw invalid('checkpoint name must be a non-empty string');
    const saved = stateToSave(state, options);
    await this._current();
    const info = await nativeAsync(() => ('json' in saved
      ? this._native.checkpoint(name, saved.json)
      : this._native.checkpointBinary(name, saved.contentType, saved.data)));
    return camelize(JSON.parse(info));
  }

  /**
   * The state of the latest live checkpoint called `name`, as it was saved (parsed JSON, or a
   * BinaryState); later checkpoints become history.
   */
  async rollbackToCheckpoint(name) {
    await this._current();
    return savedState(await nativeAsync(() => this._native.rollback(name)));
  }

  /** The state of one checkpoint by its id (superseded ones included), as it was saved. */
  async checkpointState(id) {
    const checkpointId = wholeNumber(id, 'a checkpoint id');
    this._started();
    return savedState(await nativeAsync(() => this._native.checkpointState(checkpointId)));
  }

  /** The execution, started if it never was (reads and checkpoints do not reopen it). */
  async _current() {
    if (!this._native) await this.start();
    return this._native;
  }

  _started() {
    if (!this._native) throw new errors.ClosedError('the workflow has not started: call execute() or start() first', 'CLOSED');
    return this._native;
  }

  /** The latest live checkpoint's state (where a resumed workflow continues) as it was saved, or null. */
  async latestCheckpoint() {
    await this._current();
    const state = await nativeAsync(() => this._native.latestCheckpoint());
    return state === null ? null : savedState(state);
  }

  async checkpoints() {
    await this._current();
    return camelize(JSON.parse(await nativeAsync(() => this._native.checkpointsJson())));
  }

  /**
   * The checkpoints saved after sequence `afterSequence` (0: all), in order, and the
   * execution's number of rollbacks so far: `{ checkpoints, rollbacks }`. A reader that keeps
   * its own index of the checkpoints reads only what is new, and reads everything again when
   * `rollbacks` changed (a rollback changes which earlier checkpoints are live). The count is
   * read before the list, so a rollback made in between is seen on the next call.
   *
   * @param {number} afterSequence a whole number from 0 (a checkpoint's `sequence`)
   */
  async checkpointsSince(afterSequence) {
    const after = wholeNumber(afterSequence, 'afterSequence');
    await this._current();
    return sinceOf(await nativeAsync(() => this._native.checkpointsSince(after)));
  }

  /**
   * `checkpointsSince(afterSequence)` and `checkpointState(id)` in one call (one trip into the
   * library): `{ checkpoints, rollbacks, state }`. For a reader that keeps an index and loads
   * the state it names: a state never changes, so it stands even when `checkpoints` show the
   * index was out of date.
   *
   * @param {number} afterSequence a whole number from 0 (a checkpoint's `sequence`)
   * @param {number} id a checkpoint's id
   */
  async checkpointsSinceWithState(afterSequence, id) {
    const after = wholeNumber(afterSequence, 'afterSequence');
    const checkpointId = wholeNumber(id, 'a checkpoint id');
    this._started();
    const { since, state } = await nativeAsync(() => this._native.checkpointsSinceWithState(after, checkpointId));
    return { ...sinceOf(since), state: savedState(state) };
  }

  async calls() {
    await this._current();
    return camelize(JSON.parse(await nativeAsync(() => this._native.callsJson())));
  }

  /** Where the money went: totalUsd, budgetUsd, remainingUsd, reservedUsd, byModel, byStep. */
  async breakdown() {
    await this._current();
    return camelize(JSON.parse(native(() => this._native.breakdownJson())));
  }

  /** @deprecated the seed SDK's name for `breakdown()`. */
  getCostBreakdown() {
    return this.breakdown();
  }
}

/** The workflow (and step scope) the calling code runs in, or null. */
function currentWorkflow() {
  const frame = current();
  return frame ? frame.workflow : null;
}

/**
 * The workflow an SDK call made now is metered on by the integrations, or null: none outside a
 * workflow, and none inside a `trackLlmCall` function, which reserved for its call already
 * (one call is never charged twice).
 */
function meteringWorkflow() {
  const frame = current();
  return frame && !frame.metered ? frame.workflow : null;
}

/**
 * Settles a reservation from a call's result: an OpenAI or Anthropic response, a LangChain
 * message or result, a Vercel AI SDK result, or anything with `usage` (`format`: its API, or
 * "auto" to read the shape). Without usage, the engine estimates the output from the text the
 * result carries (every choice, tool calls), flagged — never free. A string result is that text.
 */
function settleFromResult(reservation, result, format = 'auto') {
  // settleResult reads a JS string as JSON text: a string result goes as a JSON string, which
  // the engine reads as the generated text.
  return reservation.settleResult(format, typeof result === 'string' ? JSON.stringify(result) : result ?? null);
}

/** A whole number from 0 (a bigint within the safe range too), else InvalidArgumentError. */
function wholeNumber(value, what) {
  const n = typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw invalid(`${what} must be a whole number from 0, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return n;
}

/** `{ checkpoints, rollbacks }` from the library's JSON of them. */
function sinceOf(json) {
  const { checkpoints, rollbacks } = JSON.parse(json);
  return { checkpoints: camelize(checkpoints), rollbacks };
}

module.exports = { WfloWorkflow, currentWorkflow, meteringWorkflow, settleFromResult };
