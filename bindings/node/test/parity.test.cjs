'use strict';
// The parity suite (tests/vectors/scenarios.json, replay rules in
// tests/vectors/README-scenarios.md) replayed through the public Node API: every request is
// read, every result settled, every amount parsed and every finish status chosen by the
// engine, as in every face. With WFLO_PARITY_DIR set, the ledger is written there as
// node.json; tests/parity/compare.py requires it to equal Rust's byte for byte.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const wflo = require('wflo');

const {
  Engine, WfloWorkflow, NativeStream, BinaryState, WfloError, BudgetExceededError, CircuitOpenError, ResourceBusyError, ApprovalDeniedError,
  ApprovalPendingError, CallLimitError,
} = wflo;

// The addon itself, for the LangGraph checkpointer's one-request call (not a public export).
const addon = require('../lib/native.cjs');
const { nativeAsync } = require('../lib/errors.cjs');

const vectors = path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'scenarios.json');
const { scenarios } = JSON.parse(fs.readFileSync(vectors, 'utf8'));

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** A scenario's request options ({"base_url": …}) as the Node API takes them ({baseUrl: …}). */
const optionsOf = (o) => (o ? Object.fromEntries(Object.entries(o).map(([k, v]) => [camel(k), v])) : undefined);

/**
 * The error a body raised, from the wflo codes along its causes (outermost first): each a
 * wflo error whose `cause` is the next, inside a foreign wrapper as an SDK or framework
 * raises it; `[]` is a foreign error alone.
 */
function raisedError(codes) {
  let cause;
  for (const code of [...codes].reverse()) {
    const e = code === 'BUDGET_EXCEEDED' ? new BudgetExceededError('refused', {}) : new WfloError(code.toLowerCase(), code);
    if (cause !== undefined) e.cause = cause;
    cause = e;
  }
  return new Error('the body raised', cause === undefined ? undefined : { cause });
}

/** A call record with the ledger's fields, as the engine names them. */
const ledgerCall = (c) => ({
  seq: c.seq,
  step: c.step,
  provider: c.provider,
  requested_model: c.requestedModel,
  model: c.model,
  usage: {
    input: c.usage.input,
    output: c.usage.output,
    cache_read: c.usage.cacheRead,
    cache_write_5m: c.usage.cacheWrite5m,
    cache_write_1h: c.usage.cacheWrite1h,
    reasoning: c.usage.reasoning,
  },
  cost_nanos: c.costNanos,
  reserved_nanos: c.reservedNanos,
  overrun_nanos: c.overrunNanos,
  estimated: c.estimated,
  usage_missing: c.usageMissing,
  stream: c.stream,
  status: c.status,
  error: c.error,
});

// The metrics text's lines a ledger keeps (the duration histogram's timings differ run to run).
const METRIC_LINES = ['wflo_cost_usd_total{', 'wflo_calls_total{', 'wflo_refusals_total{', 'wflo_alerts_total{', 'wflo_budget_remaining_usd{'];

// A scenario's price file (relative to tests/vectors), as the ledger records it.
function loadPrices(engine, scenario) {
  if (!scenario.prices_file) return null;
  let changes;
  try {
    changes = engine.loadPrices(path.join(path.dirname(vectors), scenario.prices_file));
  } catch (e) {
    if (!(e instanceof WfloError)) throw e;
    return { error: e.code };
  }
  return {
    added: changes.added,
    changed: changes.changed.map((c) => c.name),
    skipped: changes.skipped.map((s) => s.name),
  };
}

/** A scenario's breaker `config` (the engine's JSON) as the settings `engine.breaker` takes. */
function breakerSettings(config) {
  if (config === undefined || config === null) return undefined;
  const names = {
    failure_threshold: 'failureThreshold',
    recovery_timeout_ms: 'recoveryTimeoutMs',
    success_threshold: 'successThreshold',
    failure_rate: 'failureRate',
    window: 'window',
    min_calls: 'minCalls',
    shared: 'shared',
  };
  const settings = {};
  for (const [key, value] of Object.entries(config)) {
    if (!(key in names)) throw new Error(`a breaker config key the runner does not map: ${key}`);
    settings[names[key]] = value;
  }
  return settings;
}

/**
 * A `retry_call` step: each attempt reserves on the execution and ends as the scenario says;
 * after a failure the retrier decides (and nothing sleeps). A refused attempt is the error as
 * the retrier re-words it.
 */
async function retryCall(wf, retrier, step, events) {
  for (const outcome of step.attempts) {
    const attempt = retrier.attempt;
    let reservation;
    try {
      reservation = await wf.reserveRequest(step.format, step.request);
    } catch (e) {
      if (!(e instanceof WfloError)) throw e;
      const refused = retrier.refused(e);
      events.push({ op: 'attempt', attempt, error: refused.code, message: refused.message });
      return;
    }
    events.push({ op: 'attempt', attempt, error: null });
    if ('result' in outcome) {
      reservation.settleResult(step.format, outcome.result, 'ok');
      return;
    }
    const { failure } = outcome;
    if ('text' in outcome) reservation.settleText(outcome.text, 'error');
    else reservation.release('error', failure.message);
    const d = retrier.next(failure);
    events.push(
      d.decision === 'retry'
        ? { op: 'retry', decision: d.decision, attempt: d.attempt, delay_ms: d.delayMs, reason: d.reason }
        : { op: 'retry', decision: d.decision, why: d.why, reason: d.reason },
    );
    if (d.decision !== 'retry') return;
  }
}

/**
 * A `resource` step: the engine's resource with the scenario's settings (snake_case keys pass
 * as they are); each action acquires (the permit kept by workflow), releases or reads the
 * statistics.
 */
async function resourceStep(engine, step, events) {
  const lock = engine.resource(step.name, step.config);
  const permits = new Map();
  for (const action of step.actions) {
    if ('acquire' in action) {
      const workflow = action.acquire;
      let error = null;
      try {
        permits.set(workflow, await lock.acquire(workflow, { timeoutMs: action.timeout_ms }));
      } catch (e) {
        if (!(e instanceof ResourceBusyError)) throw e;
        error = e.code;
      }
      events.push({ op: 'resource', action: 'acquire', workflow, error });
    } else if ('release' in action) {
      await permits.get(action.release).release();
      permits.delete(action.release);
      events.push({ op: 'resource', action: 'release', workflow: action.release });
    } else {
      const s = await lock.stats();
      events.push({
        op: 'resource', action: 'stats', acquisitions: s.acquisitions, contentions: s.contentions,
        timeouts: s.timeouts, holders: s.holders.map((h) => h.workflowId),
      });
    }
  }
}

/** The face's error class for a wflo error code (the base class for codes without one of their own). */
function wfloErrorOf(code) {
  const classes = {
    BUDGET_EXCEEDED: BudgetExceededError,
    CIRCUIT_OPEN: CircuitOpenError,
    RESOURCE_BUSY: ResourceBusyError,
    APPROVAL_DENIED: ApprovalDeniedError,
    APPROVAL_PENDING: ApprovalPendingError,
    CALL_LIMIT: CallLimitError,
  };
  const Cls = classes[code];
  return Cls ? new Cls(code.toLowerCase(), {}) : new WfloError(code.toLowerCase(), code);
}

/**
 * A `breaker_call` step: a function that returns, or raises the wflo error `raise` (or a
 * foreign one), called through the breaker's own `call` wrapper.
 */
async function breakerCall(engine, step, events) {
  const breaker = engine.breaker(step.name, breakerSettings(step.config));
  const raise = step.raise ?? null;
  let called = false;
  let error = null;
  try {
    await breaker.call(async () => {
      called = true;
      if (raise === null) return 'ok';
      throw raise === 'foreign' ? new Error('a foreign failure') : wfloErrorOf(raise);
    });
  } catch (e) {
    if (!called && !(e instanceof CircuitOpenError)) throw e;
    error = called ? raise : e.code;
  }
  events.push({ op: 'breaker_call', raise, error, called, state: breaker.state });
}

/** A `breakers` step: the breakers on the store, without times or holders. */
function breakersStep(engine, events) {
  const { shared, transitions } = engine.breakersOnStore({ limit: 100 });
  events.push({
    op: 'breakers',
    shared: shared.map((b) => ({ name: b.name, state: b.state, failure_count: b.failureCount })),
    transitions: transitions.map((t) => ({ breaker: t.breaker, shared: t.shared, from: t.from, to: t.to, reason: t.reason })),
  });
}

/**
 * An `approval` step: the request (the engine's JSON) as the workflow's options — a worst case
 * in nano-USD as a bigint — asked without waiting, decided through the engine when the step
 * says, then waited for with a zero wait.
 */
async function approvalStep(engine, wf, step, events) {
  const r = step.request;
  const options = {
    why: r.why,
    what: r.what,
    worstCaseUsd: r.worst_case_nanos === undefined || r.worst_case_nanos === null ? undefined : BigInt(r.worst_case_nanos),
    timeoutMs: r.timeout_ms,
    onTimeout: r.on_timeout,
    requestedBy: r.requested_by,
  };
  const asked = await wf.requestApproval(r.gate, options);
  if (step.decide) {
    const { approve, by, note } = step.decide;
    await (approve ? engine.approve(asked.id, { by, note }) : engine.deny(asked.id, { by, note }));
  }
  const event = { op: 'approval', gate: r.gate, asked: asked.status };
  try {
    const a = await wf.waitForApproval(asked.id, { waitMs: 0 });
    Object.assign(event, { status: a.status, decided_by: a.decidedBy, note: a.note, error: null, timed_out: null });
  } catch (e) {
    if (!(e instanceof ApprovalDeniedError)) throw e;
    Object.assign(event, { status: null, decided_by: e.by, note: e.note, error: e.code, timed_out: e.timedOut });
  }
  events.push(event);
}

/** The scenario's shared scopes defined in order; the names the execution starts with (each once). */
async function defineSharedScopes(engine, scenario) {
  const names = [];
  for (const d of scenario.shared_scopes || []) {
    await engine.defineSharedScope(d.name, { limitUsd: d.limit_usd, period: d.period, allowances: d.allowances });
    if (!names.includes(d.name)) names.push(d.name);
  }
  return names;
}

async function sharedStep(engine, step, events) {
  const f = await engine.sharedScope(step.name);
  events.push({
    op: 'shared', name: f.name, limit_nanos: f.limitNanos, spent_nanos: f.spentNanos, reserved_nanos: f.reservedNanos,
    overrun_nanos: f.overrunNanos, refusing: f.refusing, allowances: f.allowances, allowance_nanos: f.allowanceNanos,
    allowance_holders: f.allowanceHolders,
  });
}

/** A `checkpoint_binary` step's bytes: lowercase `hex`, repeated `repeat` times (absent: once). */
function scenarioBytes(step) {
  const hex = step.hex.repeat(step.repeat ?? 1);
  const bytes = Buffer.from(hex, 'hex'); // Buffer stops at the first non-hex digit: checked below
  assert.equal(bytes.toString('hex'), hex, `${step.name}: the hex of a checkpoint_binary step is lowercase hex`);
  return bytes;
}

/**
 * A `langgraph` step: the request (its values listed as `[type, byte length]`, their bytes one
 * after another) through the addon's LangGraphCheckpointer.call, which runs it in the engine
 * (wflo_core::langgraph::wire); the answer's values kept as `[type, hex]`.
 */
async function langgraphStep(checkpointer, wf, step) {
  const request = { ...step.request };
  const values = (step.values ?? []).map(([kind, hex]) => [kind, scenarioBytes({ name: 'langgraph', hex })]);
  if (step.values !== undefined) request.values = values.map(([kind, data]) => [kind, data.length]);
  let answer;
  try {
    answer = await nativeAsync(() => checkpointer.call(wf._native, JSON.stringify(request), Buffer.concat(values.map(([, d]) => d))));
  } catch (e) {
    if (!(e instanceof WfloError)) throw e;
    return { op: 'langgraph', error: e.code };
  }
  const parsed = JSON.parse(answer.json);
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'values' in parsed) {
    parsed.values = answer.values.map(([kind, data]) => [kind, Buffer.from(data).toString('hex')]);
  }
  return { op: 'langgraph', answer: parsed };
}

/** A state the face returned, as the ledger keeps it: JSON parsed, bytes as lowercase hex. */
function stateEvent(op, state) {
  return state instanceof BinaryState
    ? { op, binary: { content_type: state.contentType, hex: state.data.toString('hex') } }
    : { op, state };
}

async function replay(index, scenario) {
  const engine = await Engine.open('memory://');
  const prices = loadPrices(engine, scenario);
  const sharedScopes = await defineSharedScopes(engine, scenario);
  const alerts = [];
  engine.onThreshold((a) => {
    alerts.push({ scope: a.scope, kind: a.kind, percent: a.percent, limit_nanos: a.limitNanos, spent_nanos: a.spentNanos });
  });
  const wf = new WfloWorkflow({
    name: scenario.name,
    budgetUsd: scenario.budget_usd,
    engine,
    id: `exec-${(index + 1).toString(16).padStart(12, '0')}`,
    traceparent: scenario.traceparent,
    alertThresholds: scenario.alert_thresholds,
    softBudgetUsd: scenario.soft_budget_usd,
    approvalAboveUsd: scenario.approval_above_usd,
    maxCalls: scenario.max_calls,
    agentBudgetsUsd: scenario.agent_budgets_usd,
    sharedScopes,
  });
  await wf.start();
  const events = [];
  let checkpointer = null; // the scenario's LangGraph checkpointer, made at its first langgraph step
  for (const step of scenario.steps) {
    switch (step.op) {
      case 'scope':
        if (step.parent) await (await wf.scope(step.parent)).child(step.label, { budgetUsd: step.budget_usd });
        else await wf.scope(step.label, { budgetUsd: step.budget_usd });
        events.push({ op: 'scope', label: step.label });
        break;
      case 'breaker': {
        const breaker = engine.breaker(step.name, breakerSettings(step.config));
        for (const action of step.actions) {
          let error = null;
          if (action === 'check') {
            try {
              breaker.check();
            } catch (e) {
              if (!(e instanceof CircuitOpenError)) throw e;
              error = e.code;
            }
          } else if (action === 'failure') breaker.recordFailure();
          else if (action === 'success') breaker.recordSuccess();
          else if (action === 'reset') breaker.reset();
          else throw new Error(`${scenario.name}: unknown breaker action ${action}`);
          events.push({ op: 'breaker', action, state: breaker.state, error });
        }
        break;
      }
      case 'breaker_call':
        await breakerCall(engine, step, events);
        break;
      case 'breakers':
        breakersStep(engine, events);
        break;
      case 'resource':
        await resourceStep(engine, step, events);
        break;
      case 'approval':
        await approvalStep(engine, wf, step, events);
        break;
      case 'shared':
        await sharedStep(engine, step, events);
        break;
      case 'retry_call':
        await retryCall(wf, engine.retrier(step.policy), step, events);
        break;
      case 'call': {
        const breaker = step.breaker ? engine.breaker(step.breaker) : null;
        if (breaker) {
          try {
            breaker.check();
          } catch (e) {
            if (!(e instanceof CircuitOpenError)) throw e;
            events.push({ op: 'call', body: null, error: e.code });
            break;
          }
        }
        const scope = step.scope ? await wf.scope(step.scope) : null;
        let reservation;
        try {
          reservation = await wf.reserveRequest(step.format, step.request, optionsOf(step.options), scope);
        } catch (e) {
          if (!(e instanceof WfloError)) throw e;
          events.push({ op: 'call', body: null, error: e.code });
          break;
        }
        events.push({ op: 'call', body: reservation.requestBody, error: null });
        const outcome = step.outcome;
        if ('result' in outcome) {
          reservation.settleResult(step.format, outcome.result, outcome.status);
        } else if ('stream' in outcome) {
          const stream = new NativeStream(step.format);
          for (const event of outcome.stream) stream.push(JSON.stringify(event));
          reservation.settleStream(stream, outcome.status);
        } else if ('error' in outcome) {
          reservation.release('error', outcome.error);
        } else if ('text' in outcome) {
          reservation.settleText(outcome.text, outcome.status);
        } else {
          throw new Error(`${scenario.name}: unknown outcome ${JSON.stringify(outcome)}`);
        }
        if (breaker) {
          if ('error' in outcome) breaker.recordFailure();
          else breaker.recordSuccess();
        }
        break;
      }
      case 'checkpoint':
        await wf.checkpoint(step.name, step.state);
        events.push({ op: 'checkpoint', name: step.name });
        break;
      case 'checkpoint_binary': {
        // No content_type: the option left out (undefined), and the engine names the bytes.
        let info;
        try {
          info = await wf.checkpoint(step.name, scenarioBytes(step), { contentType: step.content_type });
        } catch (e) {
          if (typeof e.code !== 'string') throw e;
          events.push({ op: 'checkpoint_binary', name: step.name, error: e.code });
          break;
        }
        events.push({ op: 'checkpoint_binary', name: step.name, content_type: info.contentType, state_bytes: info.stateBytes });
        break;
      }
      case 'checkpoints_since': {
        const { checkpoints, rollbacks } = await wf.checkpointsSince(step.after);
        events.push({
          op: 'checkpoints_since',
          names: checkpoints.map((c) => c.name),
          sequences: checkpoints.map((c) => c.sequence),
          superseded: checkpoints.map((c) => c.superseded),
          rollbacks,
        });
        break;
      }
      case 'checkpoints_since_with_state': {
        let found;
        try {
          found = await wf.checkpointsSinceWithState(step.after, step.id);
        } catch (e) {
          if (typeof e.code !== 'string') throw e;
          events.push({ op: 'checkpoints_since_with_state', error: e.code });
          break;
        }
        const { checkpoints, rollbacks, state } = found;
        events.push({
          ...stateEvent('checkpoints_since_with_state', state),
          names: checkpoints.map((c) => c.name),
          sequences: checkpoints.map((c) => c.sequence),
          superseded: checkpoints.map((c) => c.superseded),
          rollbacks,
        });
        break;
      }
      case 'langgraph':
        checkpointer ??= new addon.LangGraphCheckpointer();
        events.push(await langgraphStep(checkpointer, wf, step));
        break;
      case 'rollback':
        events.push(stateEvent('rollback', await wf.rollbackToCheckpoint(step.name)));
        break;
      case 'latest':
        events.push(stateEvent('latest', await wf.latestCheckpoint()));
        break;
      default:
        throw new Error(`${scenario.name}: unknown op ${step.op}`);
    }
  }
  const status = scenario.end === null ? await wf.end() : await wf.end(raisedError(scenario.end));
  const calls = (await wf.calls()).map(ledgerCall);
  const breakdown = await wf.breakdown();
  const metrics = engine.metricsText().split('\n').filter((l) => METRIC_LINES.some((m) => l.startsWith(m)));
  await engine.close();
  return {
    name: scenario.name,
    events,
    status,
    calls,
    spent_nanos: breakdown.totalNanos,
    reserved_nanos: breakdown.reservedNanos,
    prices,
    price_table: breakdown.priceTable,
    alerts,
    trace_id: scenario.traceparent ? wf.traceId : null,
    metrics,
  };
}

test('every scenario replays through the public API; the ledger is written for the parity check', async () => {
  const ledgers = [];
  for (const [i, scenario] of scenarios.entries()) ledgers.push(await replay(i, scenario));
  const byName = (name) => ledgers.find((l) => l.name === name);
  // The scenarios do what they say (as Rust's reference replay checks).
  for (const l of ledgers) assert.equal(l.reserved_nanos, 0, l.name);
  assert.equal(byName('chat_limit_made_explicit').events[0].body.max_completion_tokens, 16384);
  const refused = byName('refused_before_sending');
  assert.deepEqual([refused.events[0].error, refused.status, refused.calls[0].status], ['BUDGET_EXCEEDED', 'budget_exceeded', 'refused']);
  assert.equal(byName('stream_with_usage').events[0].body.stream_options.include_usage, true);
  const tool = byName('tool_call_without_usage').calls[0];
  assert.ok(tool.estimated && tool.usage.output > 0);
  assert.equal(byName('server_error_failed_run').status, 'failed');
  assert.equal(byName('zero_is_a_budget').events[0].error, 'BUDGET_EXCEEDED');
  assert.equal(byName('no_limit_unpriced_model').calls[0].model, null);
  const alerted = byName('budget_alerts');
  assert.deepEqual(
    alerted.alerts.map((a) => [a.scope, a.kind, a.percent]),
    [['critic', 'threshold', 50], ['', 'threshold', 50], ['', 'soft_budget', 100], ['', 'threshold', 80], ['', 'threshold', 95]],
  );
  assert.equal(alerted.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.ok(alerted.metrics.includes('wflo_alerts_total{scope_kind="execution",scope="budget_alerts",kind="threshold"} 3'), alerted.metrics.join('\n'));
  assert.deepEqual([byName('chat_settled').alerts, byName('chat_settled').trace_id], [[], null]);
  const backoff = byName('retry_backoff_then_success');
  assert.deepEqual(backoff.events.map((e) => e.op), ['attempt', 'retry', 'attempt', 'retry', 'attempt']);
  assert.equal(backoff.events[1].delay_ms, 9, "the server's retry-after-ms beat the backoff");
  assert.deepEqual(backoff.calls.map((c) => c.status), ['error', 'error', 'ok']);
  const refusedRetry = byName('retry_refused_by_budget').events[2];
  assert.deepEqual([refusedRetry.attempt, refusedRetry.error], [2, 'BUDGET_EXCEEDED']);
  assert.ok(refusedRetry.message.includes('(attempt 2 not sent: attempt 1 failed: connection reset)'), refusedRetry.message);
  const gaveUp = byName('retry_gives_up').events;
  assert.deepEqual([gaveUp[1].why, gaveUp[5].why], ['not_retryable', 'exhausted']);
  assert.match(gaveUp[5].reason, /gave up after 2 attempts/);
  const fast = byName('breaker_fails_fast');
  assert.deepEqual(fast.events[5], { op: 'call', body: null, error: 'CIRCUIT_OPEN' });
  assert.deepEqual(fast.calls.map((c) => c.status), ['ok']);
  const busy = byName('resource_lock_busy_then_free').events;
  assert.deepEqual(busy.filter((e) => e.action === 'acquire').map((e) => e.error), [null, 'RESOURCE_BUSY', null, null, null, 'RESOURCE_BUSY']);
  assert.deepEqual(busy[2], { op: 'resource', action: 'stats', acquisitions: 1, contentions: 0, timeouts: 1, holders: ['wf-a'] });
  const gates = byName('approval_gates');
  const approvals = gates.events.filter((e) => e.op === 'approval');
  assert.deepEqual(approvals.map((e) => [e.gate, e.asked, e.status, e.error]), [
    ['publish', 'pending', 'approved', null],
    ['delete-index', 'pending', null, 'APPROVAL_DENIED'],
    ['publish', 'approved', 'approved', null],
  ]);
  assert.deepEqual([approvals[1].decided_by, approvals[1].note, approvals[1].timed_out], ['bo', 'not on a Friday', false]);
  assert.deepEqual(gates.calls.map((c) => c.status), ['ok']);
  const threshold = byName('approval_threshold_gates_costly_calls');
  assert.deepEqual(threshold.events.map((e) => e.error), [null, null, null, 'APPROVAL_DENIED', 'APPROVAL_DENIED']);
  assert.deepEqual(threshold.calls.map((c) => c.requested_model), ['gpt-4o', 'gpt-4o-mini']);
  const wrapped = byName('breaker_wrapper_counts_failures_not_refusals').events;
  assert.deepEqual(wrapped.slice(0, 8).map((e) => e.state), [...Array(7).fill('closed'), 'open']);
  assert.deepEqual(wrapped[8], { op: 'breaker_call', raise: null, error: 'CIRCUIT_OPEN', called: false, state: 'open' });
  assert.deepEqual(wrapped[11].shared, [{ name: 'provider:openai', state: 'open', failure_count: 1 }]);
  assert.deepEqual(wrapped[11].transitions.map((t) => [t.breaker, t.reason]), [
    ['search-tool', '2 consecutive failures'],
    ['provider:openai', '1 consecutive failures'],
  ]);
  const limited = byName('agent_budgets_and_call_cap');
  assert.deepEqual(limited.events.map((e) => e.error), [null, 'BUDGET_EXCEEDED', null, null, 'CALL_LIMIT']);
  assert.deepEqual(limited.calls.map((c) => [c.step, c.status]), [
    ['agent:researcher', 'ok'],
    ['agent:researcher', 'refused'],
    ['agent:writer', 'ok'],
    ['', 'ok'],
    ['', 'refused'],
  ]);
  assert.equal(limited.status, 'failed');
  const binary = byName('binary_checkpoint_states').events;
  assert.deepEqual(binary.map((e) => e.op), [
    'checkpoint', 'checkpoint_binary', 'checkpoint_binary', 'latest', 'rollback', 'latest', 'checkpoint_binary', 'latest', 'rollback', 'latest',
  ]);
  assert.deepEqual(binary[2], { op: 'checkpoint_binary', name: 'history', content_type: 'msgpack', state_bytes: 7200 });
  assert.equal(binary[4].binary.hex, Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex'), 'every byte value comes back');
  assert.deepEqual(binary[7], { op: 'latest', binary: { content_type: 'application/octet-stream', hex: '' } });
  assert.deepEqual(binary[9], { op: 'latest', state: { step: 1, notes: ['start'] } });
  const refusals = byName('binary_checkpoint_refusals').events;
  assert.equal(refusals[2].content_type, 'application/octet-stream', 'bytes without a content type are named by the engine');
  assert.deepEqual(refusals.filter((e) => e.error).map((e) => e.error), Array(4).fill('INVALID_ARGUMENT'));

  const dir = process.env.WFLO_PARITY_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'node.json'), `${JSON.stringify({ face: 'node', scenarios: ledgers }, null, 2)}\n`);
  }
});

test('amounts: decimal strings are parsed by the engine, bigints are nano-USD, null is no limit and 0 a zero budget', async () => {
  const engine = await Engine.open('memory://');
  assert.equal(engine.parseUsd('0.000075'), 75_000);
  assert.equal(engine.parseUsd('$2.50'), 2_500_000_000);
  // Past what a float holds exactly: never rounded through Number().
  assert.equal(engine.parseUsd('1234567.123456789'), 1_234_567_123_456_789);
  assert.throws(() => engine.parseUsd('1e-3'), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ budgetUsd: '-1', engine }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ budgetUsd: -1n, engine }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ budgetUsd: {}, engine }), wflo.InvalidArgumentError);
  const budgetOf = async (budgetUsd) => {
    const wf = new WfloWorkflow({ budgetUsd, engine });
    await wf.start();
    return (await wf.breakdown()).budgetNanos;
  };
  assert.equal(await budgetOf('0.1'), 100_000_000);
  assert.equal(await budgetOf(0.1), 100_000_000);
  assert.equal(await budgetOf(123n), 123);
  assert.equal(await budgetOf('0'), 0);
  assert.equal(await budgetOf(0), 0);
  assert.equal(await budgetOf(null), null);
  assert.equal(await budgetOf(undefined), null);
  await engine.close();
});

test('the finish status: a budget refusal anywhere along the causes is budget_exceeded, any other error failed', async () => {
  const engine = await Engine.open('memory://');
  const endWith = async (...raised) => {
    const wf = new WfloWorkflow({ engine });
    await wf.start();
    return wf.end(...raised);
  };
  const refusal = new BudgetExceededError('refused', {});
  assert.equal(await endWith(), 'completed');
  assert.equal(await endWith(undefined), 'failed');
  assert.equal(await endWith(new Error('boom')), 'failed');
  assert.equal(await endWith(refusal), 'budget_exceeded');
  assert.equal(await endWith(new Error('wrapped', { cause: new Error('twice', { cause: refusal }) })), 'budget_exceeded');
  assert.equal(await endWith(new AggregateError([new Error('other'), refusal])), 'budget_exceeded');
  assert.equal(await endWith(new wflo.InternalError('x', 'INTERNAL')), 'failed');
  // A cause chain that loops ends.
  const a = new Error('a');
  a.cause = new Error('b', { cause: a });
  assert.equal(await endWith(a), 'failed');
  await engine.close();
});
