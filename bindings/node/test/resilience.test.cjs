'use strict';
// Retries and circuit breakers through the public API: the engine's delays and decisions,
// withRetry's loop (what is retried, what is thrown), breakers opening, failing fast and
// closing again; and withRetry around the real `openai` SDK against `wflo mock-llm`.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { OpenAI, APIConnectionError, APIConnectionTimeoutError } = require('openai');
const wflo = require('..');
const { wrapOpenAI } = require('wflo/openai');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow } = require('./helpers/llm.cjs');

const { Engine, WfloWorkflow, withRetry, failureOf, RetryExhaustedError, CircuitOpenError, BudgetExceededError, InvalidArgumentError,
  ResourceBusyError, ApprovalDeniedError, WfloError } = wflo;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** An error as an HTTP client throws it: a status, and the response's headers. */
const httpError = (status, headers = {}) => Object.assign(new Error(`${status} from the provider`), { status, headers });
const request = (maxTokens) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name three primes.' }], max_tokens: maxTokens });

let engine;
test.before(async () => {
  engine = await Engine.open('memory://');
});
test.after(() => engine.close());

test('the policy delay grows per backoff and stops at the cap', () => {
  const delays = (policy, n) => {
    const r = engine.retrier({ baseDelayMs: 10, maxDelayMs: 50, jitter: 0, ...policy });
    return Array.from({ length: n }, (_, i) => r.delayMs(i + 1));
  };
  assert.deepEqual(delays({ backoff: 'exponential' }, 5), [10, 20, 40, 50, 50]);
  assert.deepEqual(delays({ backoff: 'exponential', multiplier: 3 }, 3), [10, 30, 50]);
  assert.deepEqual(delays({ backoff: 'linear' }, 6), [10, 20, 30, 40, 50, 50]);
  assert.deepEqual(delays({ backoff: 'fixed' }, 3), [10, 10, 10]);
  // The policy as the engine holds it, defaults filled in.
  const policy = engine.retrier({ maxRetries: 5, backoff: 'linear' }).policy;
  assert.deepEqual([policy.maxRetries, policy.backoff, policy.baseDelayMs, policy.maxDelayMs, policy.retryTimeouts], [5, 'linear', 1000, 60000, true]);
});

test('jitter stays within ± the fraction, and a seed repeats the draws', () => {
  const draws = (seed) => {
    const r = engine.retrier({ backoff: 'fixed', baseDelayMs: 100, maxDelayMs: 100, jitter: 0.2, seed });
    return Array.from({ length: 50 }, () => r.delayMs(1));
  };
  const a = draws(7);
  assert.ok(a.every((d) => d >= 80 && d <= 120), a.join(' '));
  assert.ok(new Set(a).size > 10, 'the draws spread');
  assert.deepEqual(draws(7), a, 'the same seed, the same delays');
  assert.notDeepEqual(draws(8), a);
  // A seed past 2^53 (a bigint) is taken whole.
  assert.deepEqual(draws(2n ** 63n + 1n), draws(2n ** 63n + 1n));
});

test('next() decides: retry numbers and delays, a server wait, then giving up', () => {
  const r = engine.retrier({ maxRetries: 2, baseDelayMs: 2, maxDelayMs: 100, jitter: 0 });
  assert.equal(r.attempt, 1);
  assert.equal(r.refusalNote(), null);
  const first = r.next({ kind: 'http', status: 429, headers: [['retry-after-ms', '30']], message: '429 Too Many Requests' });
  assert.deepEqual([first.decision, first.attempt, first.delayMs], ['retry', 2, 30]);
  assert.match(first.reason, /retry-after/);
  assert.equal(r.attempt, 2);
  assert.equal(r.refusalNote(), 'attempt 2 not sent: attempt 1 failed: 429 Too Many Requests');
  assert.equal(r.refusedMessage('refused'), 'refused (attempt 2 not sent: attempt 1 failed: 429 Too Many Requests)');
  const second = r.next({ kind: 'timeout', message: 'timed out' });
  assert.deepEqual([second.decision, second.attempt, second.delayMs], ['retry', 3, 4]);
  const last = r.next({ kind: 'timeout', message: 'timed out' });
  assert.equal(last.decision, 'give_up');
  assert.match(last.reason, /gave up after 3 attempts/);
  assert.equal('delayMs' in last, false);
  // What the policy retries at all.
  assert.equal(r.retryable({ kind: 'http', status: 400 }), false);
  assert.equal(r.retryable({ kind: 'http', status: 503 }), true);
  assert.equal(r.retryable({ kind: 'refused' }), false);
  assert.equal(engine.retrier({ retryStatuses: [418] }).retryable({ kind: 'http', status: 503 }), false);
  assert.equal(engine.retrier({ retryTimeouts: false }).retryable({ kind: 'timeout' }), false);
});

test('a bad policy, bad settings or a bad failure is an InvalidArgumentError from the engine', () => {
  assert.throws(() => engine.retrier({ maxRetriez: 3 }), (e) => e instanceof InvalidArgumentError && /max_retriez/.test(e.message));
  assert.throws(() => engine.retrier({ jitter: 2 }), InvalidArgumentError);
  assert.throws(() => engine.retrier({ baseDelayMs: 10, maxDelayMs: 5 }), InvalidArgumentError);
  assert.throws(() => engine.retrier('fast'), InvalidArgumentError);
  assert.throws(() => engine.retrier().next({ kind: 'meteor' }), InvalidArgumentError);
  assert.throws(() => engine.breaker('b', { failureThreshold: 0 }), InvalidArgumentError);
  assert.throws(() => engine.breaker('', {}), InvalidArgumentError);
  assert.throws(() => engine.breaker(42), InvalidArgumentError);
});

test('failureOf reads what SDKs and Node throw', () => {
  const h = new Headers({ 'retry-after': '2', 'x-request-id': 'r1' });
  const http = failureOf(httpError(429, h));
  assert.deepEqual([http.kind, http.status, http.message], ['http', 429, '429 from the provider']);
  assert.deepEqual(new Map(http.headers).get('retry-after'), '2');
  assert.deepEqual(failureOf(httpError(503, { 'retry-after-ms': '7' })).headers, [['retry-after-ms', '7']]);
  assert.equal(failureOf(new APIConnectionTimeoutError()).kind, 'timeout');
  assert.equal(failureOf(new APIConnectionError({ message: 'Connection error.' })).kind, 'connection');
  assert.equal(failureOf(Object.assign(new Error('read'), { code: 'ECONNRESET' })).kind, 'connection');
  assert.equal(failureOf(new TypeError('fetch failed', { cause: Object.assign(new Error('c'), { code: 'ECONNREFUSED' }) })).kind, 'connection');
  assert.equal(failureOf(Object.assign(new Error('slow'), { code: 'ETIMEDOUT' })).kind, 'timeout');
  assert.equal(failureOf(new DOMException('aborted', 'AbortError')).kind, 'timeout');
  // The engine's rule says which wflo errors are refusals: the four, and no other code.
  assert.equal(failureOf(new BudgetExceededError('no', {})).kind, 'refused');
  assert.equal(failureOf(new CircuitOpenError('open', {})).kind, 'refused');
  assert.equal(failureOf(new ResourceBusyError('busy', {})).kind, 'refused');
  assert.equal(failureOf(new ApprovalDeniedError('denied', {})).kind, 'refused');
  assert.equal(failureOf(new InvalidArgumentError('bad', 'INVALID_ARGUMENT')).kind, 'other');
  assert.equal(failureOf(new WfloError('odd', 'NOT_A_CODE')).kind, 'other');
  // A look-alike that is no wflo error is not a refusal, whatever its code says.
  assert.equal(failureOf(Object.assign(new Error('x'), { code: 'BUDGET_EXCEEDED' })).kind, 'other');
  assert.equal(failureOf(new RangeError('bug')).kind, 'other');
  assert.equal(failureOf(new RangeError('flaky'), (e) => e instanceof RangeError).kind, 'transient');
});

test('withRetry: a flaky function is retried until it succeeds, onRetry hears each retry', async () => {
  const seen = [];
  const retries = [];
  class Flaky extends Error {}
  const result = await withRetry(
    async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw new Flaky(`flaky ${attempt}`);
      return 'done';
    },
    {
      engine,
      policy: { baseDelayMs: 2, maxDelayMs: 10, jitter: 0 },
      retryable: (e) => e instanceof Flaky,
      onRetry: (r) => retries.push([r.attempt, r.delayMs, r.error.message]),
    },
  );
  assert.equal(result, 'done');
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(retries, [[2, 2, 'flaky 1'], [3, 4, 'flaky 2']]);
});

test("withRetry waits what the server's retry-after asks when it is longer than the backoff", async () => {
  const delays = [];
  let calls = 0;
  const started = Date.now();
  const out = await withRetry(
    async () => {
      calls += 1;
      if (calls === 1) throw httpError(429, new Headers({ 'retry-after-ms': '40' }));
      return calls;
    },
    { engine, policy: { baseDelayMs: 1, maxDelayMs: 5, jitter: 0 }, onRetry: (r) => delays.push(r.delayMs) },
  );
  assert.equal(out, 2);
  assert.deepEqual(delays, [40]);
  assert.ok(Date.now() - started >= 35, 'the timer slept');
});

test('withRetry: a 400 is thrown as it is, after one attempt; so is an unclassified error', async () => {
  let calls = 0;
  const bad = httpError(400);
  await assert.rejects(
    withRetry(async () => {
      calls += 1;
      throw bad;
    }, { engine, policy: { baseDelayMs: 1, jitter: 0 } }),
    (e) => e === bad,
  );
  assert.equal(calls, 1);
  const bug = new TypeError('undefined is not a function');
  await assert.rejects(withRetry(() => { throw bug; }, { engine }), (e) => e === bug);
});

test('withRetry: out of attempts is a RetryExhaustedError with the engine reason and the last error', async () => {
  const thrown = [];
  await assert.rejects(
    withRetry(async (attempt) => {
      const e = httpError(500);
      e.attempt = attempt;
      thrown.push(e);
      throw e;
    }, { engine, policy: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2, jitter: 0 } }),
    (e) => {
      assert.ok(e instanceof RetryExhaustedError);
      assert.equal(e.name, 'RetryExhaustedError');
      assert.equal(e.attempts, 3);
      assert.equal(e.lastError, thrown[2]);
      assert.equal(e.cause, thrown[2]);
      assert.match(e.message, /^500 from the provider; gave up after 3 attempts \(max_retries 2\)$/);
      return true;
    },
  );
  assert.equal(thrown.length, 3);
  // A deadline that the next wait would pass gives up early.
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls += 1;
      throw httpError(503);
    }, { engine, policy: { maxRetries: 5, baseDelayMs: 50, maxDelayMs: 50, jitter: 0, deadlineMs: 20 } }),
    (e) => e instanceof RetryExhaustedError && /deadline/.test(e.message) && e.attempts === 1,
  );
  assert.equal(calls, 1);
});

test('withRetry: a budget refusal is never retried; a refused retry says which attempt was not sent', async () => {
  // The first attempt fails after its output was billed: too little is left for the retry.
  const wf = new WfloWorkflow({ name: 'refused-retry', engine, budgetUsd: '0.0002' });
  const primes = '2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199';
  let attempts = 0;
  const err = await wf
    .execute(() =>
      withRetry(async (attempt) => {
        attempts = attempt;
        const r = await wf.reserveRequest('openai_chat', request(200));
        r.settleText(primes, 'error');
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }, { policy: { backoff: 'fixed', baseDelayMs: 1, maxDelayMs: 1, jitter: 0 } }),
    )
    .catch((e) => e);
  assert.ok(err instanceof BudgetExceededError, String(err));
  assert.equal(attempts, 2, 'the second attempt was refused before it was sent');
  assert.equal(err.retryNote, 'attempt 2 not sent: attempt 1 failed: socket hang up');
  assert.ok(err.message.endsWith(' (attempt 2 not sent: attempt 1 failed: socket hang up)'), err.message);
  assert.equal(err.scope, wf.executionId);
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.attempt]), [['error', 1], ['refused', 2]]);
  assert.match(calls[1].retryReason, /^socket hang up; retry 1 after 1 ms/);
  assert.equal((await wf.breakdown()).status, 'budget_exceeded');

  // Refused on the first attempt: thrown at once, as the engine worded it.
  const zero = new WfloWorkflow({ name: 'zero', engine, budgetUsd: '0' });
  let tries = 0;
  const first = await zero
    .execute(() => withRetry(async () => {
      tries += 1;
      await zero.reserveRequest('openai_chat', request(10));
    }))
    .catch((e) => e);
  assert.ok(first instanceof BudgetExceededError);
  assert.equal(tries, 1);
  assert.equal(first.retryNote, null);
  assert.doesNotMatch(first.message, /not sent/);
});

/**
 * Functions that each end in one of wflo's four refusals, provoked for real: a budget of zero,
 * an open breaker, a busy resource asked with timeout 0, a denied approval.
 */
async function refusals(name) {
  const zero = new WfloWorkflow({ name: `${name}-zero`, engine, budgetUsd: '0' });
  await zero.start();
  const tripped = engine.breaker(`${name}-tripped`, { failureThreshold: 1, recoveryTimeoutMs: 60_000 });
  tripped.recordFailure();
  const lock = engine.resource(`${name}-lock`, { maxConcurrent: 1 });
  await lock.acquire(`${name}-holder`);
  const gated = new WfloWorkflow({ name: `${name}-gated`, engine });
  await gated.start();
  const approval = await gated.requestApproval('publish');
  await engine.deny(approval.id, { by: 'ops', note: 'not today' });
  return [
    [BudgetExceededError, () => zero.reserveRequest('openai_chat', request(10))],
    [CircuitOpenError, () => tripped.call(() => 'never called')],
    [ResourceBusyError, () => lock.acquire(`${name}-waiter`, { timeoutMs: 0 })],
    [ApprovalDeniedError, () => gated.waitForApproval(approval.id)],
  ];
}

test("a breaker records none of wflo's refusals (budget, open breaker, busy resource, denied approval); other errors are failures", async () => {
  const b = engine.breaker('guards-refusals', { failureThreshold: 2, recoveryTimeoutMs: 60_000 });
  const figures = () => {
    const s = b.status();
    return { failureCount: s.failureCount, successCount: s.successCount, totalCalls: s.totalCalls, totalFailures: s.totalFailures };
  };
  const before = figures();
  for (const [Refusal, fn] of await refusals('breaker')) {
    let thrown;
    const err = await b.call(async () => {
      try {
        return await fn();
      } catch (e) {
        thrown = e;
        throw e;
      }
    }).catch((e) => e);
    assert.ok(err instanceof Refusal, `${Refusal.name}: ${err}`);
    assert.equal(err, thrown, 'rethrown as it is');
    assert.deepEqual(figures(), before, `${Refusal.name} is neither a failure nor a success`);
    assert.equal(b.state, 'closed');
  }
  // A wflo error that is no refusal, and any other error, are failures of what was called.
  await assert.rejects(b.call(() => { throw new InvalidArgumentError('bad', 'INVALID_ARGUMENT'); }), InvalidArgumentError);
  assert.deepEqual(figures(), { ...before, failureCount: 1, totalCalls: 1, totalFailures: 1 });
  await assert.rejects(b.call(async () => { throw new TypeError('broken'); }), TypeError);
  assert.deepEqual(figures(), { ...before, failureCount: 2, totalCalls: 2, totalFailures: 2 });
  assert.equal(b.state, 'open');
});

test('withRetry gives up at once on every refusal the function throws; the refusal surfaces unchanged', async () => {
  for (const [Refusal, fn] of await refusals('retry')) {
    let calls = 0;
    let thrown;
    const err = await withRetry(async () => {
      calls += 1;
      try {
        return await fn();
      } catch (e) {
        thrown = e;
        throw e;
      }
    }, { engine, policy: { maxRetries: 3, backoff: 'fixed', baseDelayMs: 1, maxDelayMs: 1, jitter: 0 }, retryable: () => true }).catch((e) => e);
    assert.ok(err instanceof Refusal, `${Refusal.name}: ${err}`);
    assert.equal(err, thrown, `${Refusal.name} surfaces unchanged`);
    assert.equal(calls, 1, `${Refusal.name} was not retried`);
  }
});

test('a breaker opens after N failures and then fails fast without calling the function', async () => {
  const b = engine.breaker('opens', { failureThreshold: 3, recoveryTimeoutMs: 60_000 });
  assert.equal(b.name, 'opens');
  assert.equal(b.state, 'closed');
  let calls = 0;
  const failing = async () => {
    calls += 1;
    throw httpError(503);
  };
  for (let i = 0; i < 3; i++) await assert.rejects(b.call(failing), (e) => e.status === 503);
  assert.equal(b.state, 'open');
  const err = await b.call(failing).catch((e) => e);
  assert.ok(err instanceof CircuitOpenError);
  assert.ok(err instanceof wflo.WfloError);
  assert.equal(err.code, 'CIRCUIT_OPEN');
  assert.equal(err.name, 'CircuitOpenError');
  assert.equal(err.circuitName, 'opens');
  assert.equal(err.failures, 3);
  assert.ok(err.retryInMs > 59_000 && err.retryInMs <= 60_000, String(err.retryInMs));
  assert.match(err.message, /circuit breaker 'opens' is open after 3 failure/);
  assert.equal(calls, 3, 'the open breaker did not call the function');
  assert.throws(() => b.check(), CircuitOpenError);
  const s = b.status();
  assert.deepEqual([s.state, s.failureCount, s.totalCalls, s.totalFailures, s.rejected], ['open', 3, 3, 3, 2]);
  assert.deepEqual(s.transitions.map((t) => [t.from, t.to, t.reason]), [['closed', 'open', '3 consecutive failures']]);
  // An open breaker is a refusal: withRetry does not retry it.
  let tried = 0;
  await assert.rejects(withRetry(() => b.call(() => (tried += 1)), { engine, policy: { baseDelayMs: 1 } }), CircuitOpenError);
  assert.equal(tried, 0);
  b.reset();
  assert.equal(b.state, 'closed');
  assert.equal(await b.call(async () => 'ok'), 'ok');
});

test('after the recovery timeout a breaker turns half-open; trial calls close or reopen it', async () => {
  const b = engine.breaker('recovers', { failureThreshold: 2, recoveryTimeoutMs: 50, successThreshold: 2 });
  b.recordFailure();
  b.recordFailure();
  assert.equal(b.state, 'open');
  await sleep(60);
  assert.equal(b.state, 'half_open');
  assert.equal(await b.call(async () => 1), 1);
  assert.equal(b.state, 'half_open', 'one success of two');
  assert.equal(await b.call(async () => 2), 2);
  assert.equal(b.state, 'closed');
  // A failed trial opens it again.
  b.recordFailure();
  b.recordFailure();
  await sleep(60);
  await assert.rejects(b.call(async () => { throw new Error('still down'); }), /still down/);
  assert.equal(b.state, 'open');
  assert.throws(() => b.check(), CircuitOpenError);
  assert.deepEqual(
    b.status().transitions.map((t) => t.to),
    ['open', 'half_open', 'closed', 'open', 'half_open', 'open'],
  );
});

test('one breaker per name per engine: the first settings stand, every caller shares the state', async () => {
  const a = engine.breaker('shared', { failureThreshold: 1 });
  const again = engine.breaker('shared', { failureThreshold: 10 });
  assert.equal(again.config.failureThreshold, 1);
  a.recordFailure();
  assert.equal(again.state, 'open');
  assert.ok(engine.breakers().some((s) => s.name === 'shared' && s.state === 'open'));
  const other = await Engine.open('memory://');
  assert.equal(other.breaker('shared').state, 'closed', 'another engine has breakers of its own');
  assert.deepEqual(other.breakers().map((s) => s.name), ['shared']);
  await other.close();
  // A budget refusal inside breaker.call is no failure of what the breaker guards.
  const guarded = engine.breaker('guarded', { failureThreshold: 1 });
  await assert.rejects(guarded.call(async () => { throw new BudgetExceededError('refused', {}); }), BudgetExceededError);
  assert.deepEqual([guarded.state, guarded.status().totalCalls], ['closed', 0]);
});

test('a shared breaker lives in the store: two engines on one SQLite file step one breaker', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-shared-breaker-'));
  const file = path.join(dir, 'wflo.db');
  const a = await Engine.open(file);
  const b = await Engine.open(file);
  t.after(async () => {
    await a.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const settings = { failureThreshold: 2, recoveryTimeoutMs: 3_600_000, successThreshold: 1, shared: true };
  const viaA = a.breaker('provider:openai', settings);
  const viaB = b.breaker('provider:openai', settings);
  assert.equal(viaA.config.shared, true);
  // One failure through each engine: together they reach the threshold.
  viaA.check();
  viaA.recordFailure();
  assert.equal(viaB.state, 'closed', 'one failure of two');
  viaB.check();
  viaB.recordFailure();
  for (const breaker of [viaA, viaB]) {
    assert.throws(() => breaker.check(), CircuitOpenError);
    assert.equal(breaker.state, 'open');
  }
  let refused;
  try {
    viaA.check();
  } catch (e) {
    refused = e;
  }
  assert.ok(refused instanceof CircuitOpenError);
  assert.deepEqual([refused.code, refused.circuitName, refused.failures], ['CIRCUIT_OPEN', 'provider:openai', 2]);
  assert.ok(refused.retryInMs > 0 && refused.retryInMs <= 3_600_000);
  // The other engine reads it from the store: open, opened once, by the second failure.
  const onStore = b.breakersOnStore();
  assert.deepEqual(onStore.shared.map((s) => [s.name, s.shared, s.state, s.failureCount]), [['provider:openai', true, 'open', 2]]);
  assert.deepEqual(
    onStore.transitions.map((tr) => [tr.breaker, tr.shared, tr.from, tr.to, tr.reason]),
    [['provider:openai', true, 'closed', 'open', '2 consecutive failures']],
  );
  assert.equal(typeof onStore.transitions[0].atMs, 'number');
  assert.match(onStore.transitions[0].holder, /:\d+$/, 'host:pid');
  assert.equal(viaB.status().shared, true);
  assert.equal(viaB.status().rejected, 3);
  // A reset through one engine closes it for the other.
  viaB.reset();
  assert.equal(viaA.state, 'closed');
  viaA.check();
  const after = a.breakersOnStore({ name: 'provider:openai' });
  assert.deepEqual(after.shared.map((s) => s.state), ['closed']);
  assert.deepEqual(after.transitions.map((tr) => [tr.from, tr.to, tr.reason]), [['closed', 'open', '2 consecutive failures'], ['open', 'closed', 'reset']]);
  // A breaker of one engine: its change of state is recorded in the store, its state is not.
  const own = a.breaker('tool:search', { failureThreshold: 1 });
  own.recordFailure();
  assert.equal(own.state, 'open');
  assert.equal(b.breaker('tool:search', { failureThreshold: 1 }).state, 'closed', 'not shared: the other engine has its own');
  const all = b.breakersOnStore({ limit: 50 });
  assert.deepEqual(all.shared.map((s) => s.name), ['provider:openai'], 'only shared breakers have their state in the store');
  assert.deepEqual(
    all.transitions.filter((tr) => tr.breaker === 'tool:search').map((tr) => [tr.shared, tr.from, tr.to, tr.reason]),
    [[false, 'closed', 'open', '1 consecutive failures']],
  );
  assert.equal(b.breakersOnStore({ limit: 1 }).transitions.length, 1, 'the latest `limit` changes');
  assert.deepEqual(b.breakersOnStore({ name: 'nobody' }), { shared: [], transitions: [] });
  assert.throws(() => b.breakersOnStore({ limit: -1 }), InvalidArgumentError);
  assert.throws(() => b.breakersOnStore({ name: 7 }), InvalidArgumentError);
});

test('a shared breaker of a closed engine throws a wflo error instead of answering', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-shared-breaker-'));
  const e = await Engine.open(path.join(dir, 'wflo.db'));
  const breaker = e.breaker('provider:closed', { shared: true });
  breaker.recordFailure();
  await e.close();
  for (const step of [() => breaker.state, () => breaker.recordFailure(), () => breaker.recordSuccess(), () => breaker.reset(), () => breaker.status(), () => breaker.check(), () => e.breakersOnStore()]) {
    assert.throws(step, wflo.WfloError);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('withRetry around the openai SDK: two 429s, then success — three requests, three call records', async (t) => {
  const mock = await startMock();
  t.after(() => mock.stop());
  const key = `node-retry-${process.pid}-${Date.now()}`;
  const oa = wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase(`status=429,fail=2,key=${key},retry_after_ms=5`), maxRetries: 0 }));
  const wf = await memoryWorkflow(1, 'retry-openai');
  const delays = [];
  const res = await wf.execute(() =>
    withRetry(() => oa.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }), {
      policy: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 10, jitter: 0 },
      onRetry: (r) => delays.push([r.attempt, r.delayMs, r.error.status]),
    }),
  );
  assert.ok(res.choices[0].message.content.length > 0);
  assert.deepEqual(delays, [[2, 5, 429], [3, 5, 429]], "the server's retry-after-ms, read from the SDK's headers");
  const stats = await mock.stats();
  assert.equal(stats['chat.completions'], 3, JSON.stringify(stats));
  assert.equal(stats['status.429'], 2, JSON.stringify(stats));
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.costNanos]).slice(0, 2), [['error', 0], ['error', 0]]);
  assert.equal(calls.length, 3);
  assert.deepEqual(calls.map((c) => c.attempt), [1, 2, 3], 'each call records its attempt');
  assert.equal(calls[0].retryReason, null);
  assert.match(calls[1].retryReason, /^429 .*; retry 1 after 5 ms \(the server's retry-after\)$/);
  assert.match(calls[2].retryReason, /retry 2 after 5 ms/);
  assert.equal(calls[2].status, 'ok');
  assert.ok(calls[2].costNanos > 0);
  assert.equal((await wf.breakdown()).totalNanos, calls[2].costNanos);
});

test("the README's resilience example runs: two retries, then the breaker fails fast", async () => {
  const example = path.join(__dirname, '..', '..', '..', 'examples', 'node', 'resilience.mjs');
  const out = await new Promise((resolve) => {
    execFile(process.execPath, [example], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(out.error, null, out.stderr);
  assert.deepEqual(out.stdout.trim().split('\n'), [
    'attempt 2 in 5 ms',
    'attempt 3 in 10 ms',
    'got answer',
    'failed: search is down',
    'failed: search is down',
    'fails fast: search-api is open',
  ]);
});
