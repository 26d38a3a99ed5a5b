'use strict';
// Resource locks and semaphores through the public API: at most maxConcurrent holders among
// concurrent tasks, waits that leave the event loop running, ResourceBusyError on timeout,
// slots shared by two engines on one SQLite file, statistics that add up; and the README's
// example (examples/node/locks_and_approvals.mjs).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const wflo = require('..');

const { Engine, WfloWorkflow, ResourceLock, Permit, ResourceBusyError, WfloError, InvalidArgumentError } = wflo;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let engine;
test.before(async () => {
  engine = await Engine.open('memory://');
});
test.after(() => engine.close());

test('a semaphore of 2 shared by 6 concurrent tasks never has more than 2 inside', async () => {
  const gpu = engine.resource('gpu', { maxConcurrent: 2, timeoutMs: 5000 });
  assert.ok(gpu instanceof ResourceLock);
  assert.deepEqual(gpu.config, { maxConcurrent: 2, timeoutMs: 5000, contentionThresholdMs: 5000, leaseMs: null });
  let inside = 0;
  let most = 0;
  const order = [];
  const task = (i) =>
    gpu.withLock(`wf-${i}`, async (permit) => {
      assert.ok(permit instanceof Permit);
      inside += 1;
      most = Math.max(most, inside);
      assert.ok(inside <= 2, `${inside} tasks inside a semaphore of 2`);
      order.push(i);
      await sleep(15);
      assert.ok(inside <= 2, `${inside} tasks inside a semaphore of 2`);
      inside -= 1;
      return i;
    });
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map(task));
  assert.deepEqual(results, [0, 1, 2, 3, 4, 5]);
  assert.equal(most, 2, 'two held it at once');
  assert.equal(order.length, 6);
  const stats = await gpu.stats();
  assert.equal(stats.acquisitions, 6);
  assert.equal(stats.timeouts, 0);
  assert.deepEqual(stats.holders, [], 'withLock released every slot');
});

test('acquire waits off the JavaScript thread: timers keep firing while it waits', async () => {
  const lock = engine.resource('event-loop', { timeoutMs: 2000 });
  const first = await lock.acquire('wf-a');
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 5);
  setTimeout(() => first.release(), 120);
  const started = Date.now();
  const second = await lock.acquire('wf-b');
  clearInterval(timer);
  assert.ok(Date.now() - started >= 100, 'it waited for the release');
  assert.ok(second.waitedMs >= 100, `waitedMs ${second.waitedMs}`);
  assert.ok(ticks >= 10, `only ${ticks} timer ticks while acquire waited`);
  await second.release();
});

test('no slot in time: ResourceBusyError with who holds it and how long it waited', async () => {
  const lock = engine.resource('db-migration');
  const held = await lock.acquire('wf-holder');
  const started = Date.now();
  const err = await lock.acquire('wf-waiter', { timeoutMs: 60 }).then(
    () => assert.fail('acquired a held lock'),
    (e) => e,
  );
  assert.ok(Date.now() - started >= 55);
  assert.ok(err instanceof ResourceBusyError && err instanceof WfloError);
  assert.equal(err.code, 'RESOURCE_BUSY');
  assert.equal(err.resource, 'db-migration');
  assert.ok(err.waitedMs >= 55 && err.waitedMs < 1000, `waitedMs ${err.waitedMs}`);
  assert.equal(err.holders.length, 1);
  assert.match(err.holders[0], /^wf-holder \(.+:\d+\)$/);
  assert.match(err.message, /db-migration/);
  // timeoutMs 0: no wait at all.
  await assert.rejects(lock.acquire('wf-waiter', { timeoutMs: 0 }), (e) => e instanceof ResourceBusyError && e.waitedMs === 0);
  await held.release();
  await held.release(); // twice is fine
  assert.equal(held.released, true);
  const after = await lock.acquire('wf-waiter', { timeoutMs: 0 });
  assert.equal(after.waitedMs, 0);
  assert.equal(await after.renew(), true);
  await after.release();
});

test('withLock releases the slot when its function throws; a workflow ending on RESOURCE_BUSY has failed', async () => {
  const lock = engine.resource('throwing');
  await assert.rejects(lock.withLock('wf-1', async () => {
    throw new Error('boom');
  }), /boom/);
  const p = await lock.acquire('wf-2', { timeoutMs: 0 });
  const wf = new WfloWorkflow({ engine, name: 'busy' });
  await assert.rejects(wf.execute(() => lock.acquire(wf.executionId, { timeoutMs: 0 })), ResourceBusyError);
  assert.equal((await engine.execution(wf.executionId)).execution.status, 'failed');
  await p.release();
});

test('bad settings and arguments are InvalidArgumentError', async () => {
  assert.throws(() => engine.resource('x', { maxConcurrent: 0 }), InvalidArgumentError);
  assert.throws(() => engine.resource('x', { leaseMs: 0 }), InvalidArgumentError);
  assert.throws(() => engine.resource('x', { nonsense: 1 }), InvalidArgumentError);
  assert.throws(() => engine.resource('', {}), InvalidArgumentError);
  assert.throws(() => engine.resource(7), InvalidArgumentError);
  const lock = engine.resource('args');
  await assert.rejects(lock.acquire(42), InvalidArgumentError);
  await assert.rejects(lock.acquire('wf', { timeoutMs: -1 }), InvalidArgumentError);
  await assert.rejects(lock.withLock('wf', 'not a function'), InvalidArgumentError);
});

test('two engines on one SQLite file share the slots', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-contention-'));
  const file = path.join(dir, 'wflo.db');
  const a = await Engine.open(file);
  const b = await Engine.open(file);
  try {
    const held = await a.resource('shared', { maxConcurrent: 1 }).acquire('wf-a');
    const fromB = b.resource('shared', { maxConcurrent: 1 });
    await assert.rejects(fromB.acquire('wf-b', { timeoutMs: 30 }), (e) => e instanceof ResourceBusyError && /^wf-a /.test(e.holders[0]));
    assert.deepEqual((await fromB.stats()).holders.map((h) => h.workflowId), ['wf-a']);
    const waiting = fromB.acquire('wf-b', { timeoutMs: 2000 });
    await sleep(30);
    await held.release();
    const got = await waiting;
    assert.ok(got.waitedMs >= 25, `waitedMs ${got.waitedMs}`);
    const seenByA = await a.resource('shared').stats();
    assert.deepEqual(seenByA.holders.map((h) => h.workflowId), ['wf-b']);
    assert.deepEqual([seenByA.acquisitions, seenByA.timeouts], [2, 1]);
    await got.release();
  } finally {
    await a.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the statistics add up: acquisitions, waits, contentions, timeouts; resetStats keeps the holds', async () => {
  const lock = engine.resource('stats', { maxConcurrent: 1, contentionThresholdMs: 20, timeoutMs: 2000 });
  const first = await lock.acquire('wf-1');
  setTimeout(() => first.release(), 80);
  const second = await lock.acquire('wf-2'); // waits ~80 ms: past the 20 ms threshold
  await assert.rejects(lock.acquire('wf-3', { timeoutMs: 0 }), ResourceBusyError); // no wait: a timeout, not contention
  const s = await lock.stats();
  assert.equal(s.resource, 'stats');
  assert.equal(s.acquisitions, 2);
  assert.equal(s.timeouts, 1);
  assert.equal(s.contentions, 1);
  assert.equal(s.totalWaitMs, first.waitedMs + second.waitedMs);
  assert.equal(s.maxWaitMs, Math.max(first.waitedMs, second.waitedMs));
  assert.ok(s.maxWaitMs >= 70, `maxWaitMs ${s.maxWaitMs}`);
  assert.equal(s.holders.length, 1);
  const h = s.holders[0];
  assert.equal(h.workflowId, 'wf-2');
  assert.match(h.holder, /:\d+$/);
  assert.ok(h.leaseUntilMs > h.acquiredAtMs && typeof h.holdId === 'string');
  await lock.resetStats();
  const zero = await lock.stats();
  assert.deepEqual([zero.acquisitions, zero.contentions, zero.timeouts, zero.totalWaitMs, zero.maxWaitMs], [0, 0, 0, 0, 0]);
  assert.deepEqual(zero.holders.map((x) => x.workflowId), ['wf-2']);
  await second.release();
});

test("the README's locks-and-approvals example runs: a busy lock, an approved gate and a denied one", async () => {
  const example = path.join(__dirname, '..', '..', '..', 'examples', 'node', 'locks_and_approvals.mjs');
  const out = await new Promise((resolve) => {
    execFile(process.execPath, [example], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(out.error, null, out.stderr);
  assert.deepEqual(out.stdout.trim().split('\n'), [
    'busy: db-migration held by 1',
    'migrations run: 1',
    'publish approved by ana',
    'delete-index denied by bo: not today',
  ]);
});
