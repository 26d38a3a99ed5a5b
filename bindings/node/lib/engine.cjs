'use strict';
// The engine: a store, prices, token counts. Most programs use the default engine (the store
// WFLO_DATABASE_URL / DATABASE_URL names, else the default SQLite file); tests open their own.
const { native, nativeAsync, invalid } = require('./errors.cjs');
const { camelize, budgetNanos, settingsJson } = require('./convert.cjs');
const { Retrier, CircuitBreaker } = require('./resilience.cjs');
const { ResourceLock } = require('./contention.cjs');
const { approvalOf, decisionOf } = require('./approval.cjs');
const { ensureLogging } = require('./events.cjs');
const telemetry = require('./telemetry.cjs');

// The addon's engine class, from lib/native.cjs loaded when the first engine is made (not with
// this file: `const { Engine } = require('wflo')` loads no addon). A missing addon throws its
// error there, and again at every engine after.
let addon;
const nativeEngine = () => (addon ??= require('./native.cjs')).NativeEngine;

class Engine {
  /** @param {import('./native.cjs').NativeEngine} nativeEngine */
  constructor(nativeEngine) {
    ensureLogging();
    this.native = nativeEngine;
    this._alerts = new Set(); // subscriptions, stopped at close
  }

  /**
   * Opens an engine over `url` (a SQLite path, "sqlite://…", "memory://", "postgres://…").
   * The first engine also applies WFLO_LOG (see the README): a bad level throws
   * InvalidArgumentError here.
   */
  static async open(url) {
    if (url !== undefined && url !== null && typeof url !== 'string') throw invalid('url must be a string');
    ensureLogging();
    const NativeEngine = nativeEngine();
    return new Engine(await nativeAsync(() => NativeEngine.openAsync(url ?? null)));
  }

  /** Closes the engine; its alert callbacks get what was already queued, then nothing. */
  async close() {
    for (const sub of this._alerts) sub.stop();
    this._alerts.clear();
    await nativeAsync(() => this.native.close());
  }

  /**
   * Calls `callback(alert)` for every budget alert of this engine's executions: a threshold
   * of a limit reached (`kind: "threshold"`, `percent` of `limitNanos`; by default 50, 80 and
   * 95%, each once, lowest first) or a soft budget reached (`kind: "soft_budget"`). `scope` is
   * "" for the execution's own budget, else the step's label. Alerts arrive in the order they
   * fired, on the JavaScript thread, soon after the call that crossed settled (never inside
   * it), and all of an execution's before its `end()` (or `execute`) resolves; a callback that
   * throws is reported as a process warning. Returns the function that unsubscribes it. A
   * subscription never keeps the process alive.
   */
  onThreshold(callback) {
    const sub = telemetry.subscribe(this.native, callback);
    this._alerts.add(sub);
    return () => {
      this._alerts.delete(sub);
      sub.unsubscribe();
    };
  }

  /**
   * The engine's metrics in the Prometheus text exposition format (cost, calls, refusals,
   * tokens, durations, budgets remaining, alerts), for a `/metrics` endpoint.
   */
  metricsText() {
    return native(() => this.native.metricsText());
  }

  /**
   * A retrier for one logical call whose first attempt begins now (`withRetry` runs one for
   * you). `policy`: {backoff: "exponential"|"linear"|"fixed", maxRetries, baseDelayMs,
   * maxDelayMs, multiplier, jitter, deadlineMs, retryStatuses, retryTimeouts,
   * retryConnectionErrors, seed}; omitted fields keep the engine's defaults (3 retries, 1 s
   * base, 60 s cap, ×2, jitter 0.1). A bad policy throws InvalidArgumentError.
   */
  retrier(policy) {
    const json = settingsJson(policy, 'a retry policy');
    return new Retrier(native(() => this.native.retrier(json)));
  }

  /**
   * This engine's circuit breaker `name`, made with `config` ({failureThreshold,
   * recoveryTimeoutMs, successThreshold, failureRate, window, minCalls, shared}; omitted fields
   * keep the defaults: 5 failures, 60 s, 2 successes, not shared) the first time it is asked
   * for; later calls get the same breaker, whatever settings they pass.
   *
   * `shared: true` keeps the state in the store: every process on the store sees one breaker;
   * give them all the same settings; each check/outcome is a store transaction.
   */
  breaker(name, config) {
    if (typeof name !== 'string') throw invalid('a circuit breaker name must be a string');
    const json = settingsJson(config, 'circuit breaker settings');
    return new CircuitBreaker(native(() => this.native.breaker(name, json)));
  }

  /** Every breaker of this engine with its figures (as `breaker.status()`), by name. */
  breakers() {
    return camelize(JSON.parse(native(() => this.native.breakersJson())));
  }

  /**
   * Circuit breakers as the store knows them, whichever process made them: `{shared:
   * [status…], transitions: [{breaker, shared, from, to, atMs, reason, holder}…]}` — every
   * shared breaker's figures (as `breaker.status()`; only `name`'s when given) and the latest
   * `limit` (default 50) changes of state of every breaker, shared or one process's, oldest
   * first (what `wflo breakers --json` prints).
   */
  breakersOnStore({ name, limit = 50 } = {}) {
    if (name !== undefined && name !== null && typeof name !== 'string') throw invalid('name must be a string');
    if (!Number.isInteger(limit) || limit < 0 || limit > 0xffffffff) throw invalid('limit must be an integer from 0');
    return camelize(JSON.parse(native(() => this.native.breakersOnStoreJson(name ?? null, limit))));
  }

  /**
   * The resource `name` (1 to 200 bytes) of this engine's store: a lock or a semaphore whose
   * slots every engine and process on the same store shares. `settings`: {maxConcurrent (1: a
   * lock), timeoutMs (how long an acquisition waits, default 30 s), contentionThresholdMs (a
   * longer wait counts as contention, default 5 s), leaseMs (a hold's lease, default the
   * engine's)}. Touches no storage; a bad setting throws InvalidArgumentError.
   */
  resource(name, settings) {
    if (typeof name !== 'string') throw invalid('a resource name must be a string');
    const json = settingsJson(settings, 'resource lock settings');
    return new ResourceLock(native(() => this.native.resource(name, json)));
  }

  /**
   * The approvals in the store, newest first (only the pending ones with `pendingOnly`; at
   * most 1000), as `workflow.requestApproval` returns them.
   */
  async approvals({ pendingOnly = false } = {}) {
    if (typeof pendingOnly !== 'boolean') throw invalid('pendingOnly must be a boolean');
    return camelize(JSON.parse(await nativeAsync(() => this.native.approvalsJson(pendingOnly))));
  }

  /**
   * The approval `id` (as `workflow.requestApproval` returns it: pending or decided);
   * NotFoundError when there is none with that id.
   */
  async approval(id) {
    if (typeof id !== 'string') throw invalid('an approval id must be a string');
    return approvalOf(await nativeAsync(() => this.native.approvalJson(id)));
  }

  /**
   * Approves the pending approval `id` (`by`: who decides, default USER@host; `note`: why);
   * resolves to the decided approval. ConflictError when it was already decided,
   * NotFoundError when there is none with that id.
   */
  async approve(id, options) {
    return this._decide(id, true, decisionOf(options, 'approve'));
  }

  /** Denies the pending approval `id`, as `approve` does; its waiter gets ApprovalDeniedError. */
  async deny(id, options) {
    return this._decide(id, false, decisionOf(options, 'deny'));
  }

  async _decide(id, approve, { by, note }) {
    if (typeof id !== 'string') throw invalid('an approval id must be a string');
    return approvalOf(await nativeAsync(() => this.native.decideApproval(id, approve, by, note)));
  }

  /** Registers or overrides prices: {models: [{name, input, output, …}]} in pico-USD per token. */
  setPrices(prices) {
    const text = typeof prices === 'string' ? prices : JSON.stringify(prices);
    native(() => this.native.setPrices(text));
  }

  /**
   * Loads a price file over the table — wflo's schema or LiteLLM's
   * model_prices_and_context_window.json as published — and returns what changed
   * ({origin, format, models, added, changed: [{name, fields: [{field, before, after}]}],
   * unchanged, skipped: [{name, line, reason}]}). The whole file is checked first: a bad entry
   * throws InvalidArgumentError naming the line, and nothing is applied. (Every engine also
   * loads the file WFLO_PRICES names when it opens.)
   */
  loadPrices(path) {
    if (typeof path !== 'string') throw invalid('path must be a string');
    return JSON.parse(native(() => this.native.loadPrices(path)));
  }

  /** Where the prices come from: {source, version, retrieved, models, files, overrides}. */
  priceTable() {
    return JSON.parse(native(() => this.native.priceTableJson()));
  }

  countTokens(model, text) {
    if (typeof text !== 'string') throw invalid('text must be a string');
    return native(() => this.native.countTokens(model, text));
  }

  async countTokensAsync(model, text) {
    if (typeof text !== 'string') throw invalid('text must be a string');
    return nativeAsync(() => this.native.countTokensAsync(model, text));
  }

  countChatTokens(model, messages) {
    const text = typeof messages === 'string' ? messages : JSON.stringify(messages);
    return native(() => this.native.countChatTokens(model, text));
  }

  /** The cost of a usage ({input, output, cacheRead, cacheWrite5m, cacheWrite1h, reasoning}). */
  cost(model, usage) {
    const nanos = native(() => this.native.cost(model, usage ?? {}));
    return { nanos, usd: nanos / 1e9 };
  }

  price(model) {
    return camelize(JSON.parse(native(() => this.native.priceJson(model))));
  }

  /** Nano-USD from dollars given as a number (toward zero; NaN and negatives refused). */
  usdToNanos(usd) {
    return native(() => this.native.usdToNanos(usd));
  }

  /** Nano-USD from a decimal dollar string ("2.50", "$0.000075"), never through a float. */
  parseUsd(text) {
    if (typeof text !== 'string') throw invalid('parseUsd takes a decimal string of dollars');
    return native(() => this.native.parseUsd(text));
  }

  /**
   * A budget shared by every process using the same store. `limitUsd`: dollars (a decimal
   * string or a number) or nano-USD (a bigint); null or omitted: no limit. `allowances`:
   * false books every call in the store (strict fairness between processes) instead of
   * serving calls from local allowances; omitted keeps the scope's setting.
   */
  async defineSharedScope(name, { limitUsd = null, period = 'none', allowances = null } = {}) {
    const limit = budgetNanos(this, limitUsd, 'limitUsd');
    if (allowances !== null && typeof allowances !== 'boolean') {
      throw invalid(`allowances is true, false or null, not ${String(allowances)}`);
    }
    await nativeAsync(() => this.native.defineSharedScope(name, limit, period, allowances));
  }

  async sharedScope(name) {
    return camelize(JSON.parse(await nativeAsync(() => this.native.sharedScopeJson(name))));
  }

  /** A stored execution: its record, breakdown, calls, checkpoints and rollbacks. */
  async execution(id) {
    return camelize(JSON.parse(await nativeAsync(() => this.native.executionJson(id))));
  }

  async listExecutions(limit = 20) {
    return camelize(JSON.parse(await nativeAsync(() => this.native.listExecutionsJson(limit))));
  }
}

let defaultEngine = null;
/** The process-wide engine most code uses (opened on first use). */
async function getDefaultEngine() {
  if (!defaultEngine) defaultEngine = Engine.open(undefined);
  return defaultEngine;
}

/** Replaces the default engine (tests; programs that open their own). */
function setDefaultEngine(engine) {
  defaultEngine = Promise.resolve(engine);
}

// Pure helpers (prices, counting) need no store: they use a private in-memory engine.
let pure = null;
function pureEngine() {
  if (!pure) {
    const NativeEngine = nativeEngine();
    pure = new Engine(native(() => NativeEngine.open('memory://')));
  }
  return pure;
}

module.exports = { Engine, getDefaultEngine, setDefaultEngine, pureEngine };
