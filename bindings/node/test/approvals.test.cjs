'use strict';
// Approval gates through the public API: a workflow waiting at its gate is approved by the
// real `wflo approve` in another process; a denial and a timeout are ApprovalDeniedError with
// who, why and whether it timed out; the same gate asked again finds the same approval. A
// workflow's approval threshold (`approvalAboveUsd`) gates its costly calls — through the real
// `openai` SDK against `wflo mock-llm` — without ever blocking the event loop.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const wflo = require('..');
const { OpenAI } = require('openai');
const { wrapOpenAI } = require('wflo/openai');
const { wfloBin, startMock } = require('./helpers/mock.cjs');
const { isRefusal, errorCodes } = require('../lib/errors.cjs');

const { Engine, WfloWorkflow, ApprovalDeniedError, ApprovalPendingError, WfloError, ConflictError, NotFoundError, InvalidArgumentError } = wflo;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const run = (args) =>
  new Promise((resolve, reject) =>
    execFile(wfloBin, args, (err, stdout, stderr) => (err ? reject(new Error(`wflo ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );

let dir;
let db;
let engine;
test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-approvals-'));
  db = path.join(dir, 'wflo.db');
  engine = await Engine.open(db);
});
test.after(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a workflow waits at its gate until `wflo approve ID --db FILE` approves it from another process', async () => {
  const wf = new WfloWorkflow({ engine, name: 'newsletter', budgetUsd: '1' });
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 5);
  const approved = wf.execute(async (_, w) => {
    const a = await w.requireApproval('publish', { why: 'emails customers', worstCaseUsd: '0.25', timeoutMs: 20_000 });
    return a;
  });
  // The pending approval, as an operator lists it.
  const pending = await pendingOf(() => wf.executionId);
  assert.ok(pending, 'the approval was recorded');
  assert.deepEqual(
    [pending.gate, pending.what, pending.why, pending.worstCaseNanos, pending.status, pending.onTimeout],
    ['publish', 'run publish', 'emails customers', 250_000_000, 'pending', 'deny'],
  );
  assert.match(pending.requestedBy, /:\d+$/);
  const listed = await run(['approvals', '--db', db, '--json']);
  assert.ok(listed.includes(pending.id), listed);
  await run(['approve', pending.id, '--db', db, '--by', 'ana', '--note', 'checked the copy']);
  const a = await approved;
  clearInterval(timer);
  assert.deepEqual([a.id, a.status, a.decidedBy, a.note], [pending.id, 'approved', 'ana', 'checked the copy']);
  assert.ok(ticks >= 5, `only ${ticks} timer ticks while the workflow waited`);
  assert.equal((await engine.execution(wf.executionId)).execution.status, 'completed');
});

test('a denial is ApprovalDeniedError with who denied it and why; the workflow has failed', async () => {
  const wf = new WfloWorkflow({ engine, name: 'cleanup' });
  const waiting = wf.execute((_, w) => w.requireApproval('delete-index', { why: 'drops the search index', timeoutMs: 20_000 }));
  const pending = await pendingOf(() => wf.executionId);
  const denied = await engine.deny(pending.id, { by: 'bo', note: 'not on a Friday' });
  assert.deepEqual([denied.status, denied.decidedBy, denied.note], ['denied', 'bo', 'not on a Friday']);
  const err = await waiting.then(() => assert.fail('a denied gate opened'), (e) => e);
  assert.ok(err instanceof ApprovalDeniedError && err instanceof WfloError);
  assert.equal(err.code, 'APPROVAL_DENIED');
  assert.deepEqual([err.approvalId, err.gate, err.timedOut, err.by, err.note], [pending.id, 'delete-index', false, 'bo', 'not on a Friday']);
  assert.match(err.message, /denied by bo: not on a Friday/);
  assert.equal((await engine.execution(wf.executionId)).execution.status, 'failed');
  // Decided already: a second decision conflicts; an unknown id is not found.
  await assert.rejects(engine.approve(pending.id), ConflictError);
  await assert.rejects(engine.deny('appr-000000000000'), NotFoundError);
});

test('no decision within timeoutMs: denied as timed out, or let through with onTimeout "approve"', async () => {
  const wf = new WfloWorkflow({ engine, name: 'timeouts' });
  await wf.start();
  const started = Date.now();
  const err = await wf.requireApproval('deploy', { timeoutMs: 100 }).then(() => assert.fail('opened'), (e) => e);
  assert.ok(Date.now() - started >= 90);
  assert.ok(err instanceof ApprovalDeniedError);
  assert.deepEqual([err.gate, err.timedOut, err.by], ['deploy', true, 'timeout']);
  assert.match(err.message, /not given in time/);
  const lenient = await wf.requireApproval('nightly', { timeoutMs: 50, onTimeout: 'approve' });
  assert.deepEqual([lenient.status, lenient.onTimeout], ['expired', 'approve']);
  await wf.end();
});

test('asking for the same gate again finds the same approval; waitMs bounds one wait', async () => {
  const wf = new WfloWorkflow({ engine, name: 'same-gate' });
  const first = await wf.requestApproval('publish', { why: 'first ask' });
  assert.equal(first.status, 'pending');
  const still = await wf.waitForApproval(first.id, { waitMs: 0 });
  assert.deepEqual([still.id, still.status], [first.id, 'pending']);
  const again = await wf.requestApproval('publish', { why: 'asked after a restart' });
  assert.deepEqual([again.id, again.why], [first.id, 'first ask']);
  await engine.approve(first.id, { by: 'ana' });
  // A restarted workflow (the same execution, resumed) asks again: approved already.
  const resumed = await WfloWorkflow.resume(wf.executionId, { engine });
  const a = await resumed.requireApproval('publish', { why: 'asked after a restart' });
  assert.deepEqual([a.id, a.status, a.decidedBy], [first.id, 'approved', 'ana']);
  // Another execution's gate of the same name is its own.
  const other = await new WfloWorkflow({ engine }).requestApproval('publish');
  assert.notEqual(other.id, first.id);
  await wf.end();
});

test('bad approval arguments are InvalidArgumentError', async () => {
  const wf = new WfloWorkflow({ engine });
  await assert.rejects(wf.requestApproval(''), InvalidArgumentError);
  await assert.rejects(wf.requestApproval(3), InvalidArgumentError);
  await assert.rejects(wf.requestApproval('g', { whatever: 1 }), InvalidArgumentError);
  await assert.rejects(wf.requestApproval('g', { worstCaseUsd: '-1' }), InvalidArgumentError);
  await assert.rejects(wf.requestApproval('g', { onTimeout: 'maybe' }), InvalidArgumentError);
  await assert.rejects(wf.waitForApproval('appr-x', { waitMs: -5 }), InvalidArgumentError);
  await assert.rejects(engine.approve('appr-x', { note: 5 }), InvalidArgumentError);
  await assert.rejects(engine.approvals({ pendingOnly: 'yes' }), InvalidArgumentError);
  await wf.end();
});

/** Polls the store until `execution` has a pending approval; returns it. Generous: a loaded
 * CI machine can take seconds to get there, and a missing gate still fails, just later. */
async function pendingOf(execution) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const found = (await engine.approvals({ pendingOnly: true })).find((a) => a.executionId === execution());
    if (found) return found;
    await sleep(10);
  }
  throw new Error('no pending approval appeared');
}

test('approvalAboveUsd: a costly openai call waits for its approval with the event loop running; a denied one is never sent; a cheap one meets no gate', async () => {
  const mock = await startMock();
  try {
    const sent = async () => (await mock.stats())['chat.completions'] ?? 0;
    const oa = wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase(), maxRetries: 0 }));
    const costly = (content) => ({ model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: 4000 }); // up to ~$0.04
    const cheap = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say yes.' }], max_tokens: 20 };
    const wf = new WfloWorkflow({ engine, name: 'gated-calls', budgetUsd: '1', approvalAboveUsd: '0.001' });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 5);
    const run = wf.execute(async () => {
      const first = await oa.chat.completions.create(costly('Summarise the quarter in detail.'));
      const denied = await oa.chat.completions.create(costly('Now write the whole report.')).then(
        () => assert.fail('a denied call went out'),
        (e) => e,
      );
      const small = await oa.chat.completions.create(cheap);
      return { first, denied, small };
    });

    // Gate 1: pending in the store; nothing reserved, nothing sent; the event loop runs.
    const gate1 = await pendingOf(() => wf.executionId);
    assert.equal(gate1.gate, 'call #1 over $0.001');
    assert.match(gate1.what, /^a gpt-4o call that may cost up to \$0\.04/);
    assert.equal((await engine.approval(gate1.id)).status, 'pending');
    const ticksBefore = ticks;
    await sleep(60);
    assert.ok(ticks - ticksBefore >= 3, `only ${ticks - ticksBefore} timer ticks while the call waited`);
    assert.equal(await sent(), 0, 'nothing was sent before the approval');
    assert.equal((await wf.breakdown()).reservedNanos, 0, 'nothing was reserved before the approval');
    await engine.approve(gate1.id, { by: 'ana' });

    // Gate 2: the next costly call's own gate; the first call went out exactly once.
    const gate2 = await pendingOf(() => wf.executionId);
    assert.equal(gate2.gate, 'call #2 over $0.001');
    assert.notEqual(gate2.id, gate1.id);
    assert.equal(await sent(), 1, 'the approved call was sent once');
    await engine.deny(gate2.id, { by: 'bo', note: 'too big' });

    const { first, denied, small } = await run;
    clearInterval(timer);
    assert.equal(first.choices[0].message.role, 'assistant');
    assert.ok(denied instanceof ApprovalDeniedError, String(denied));
    assert.deepEqual([denied.code, denied.approvalId, denied.gate, denied.by, denied.note], ['APPROVAL_DENIED', gate2.id, 'call #2 over $0.001', 'bo', 'too big']);
    assert.ok(small.usage.total_tokens > 0);
    assert.equal(await sent(), 2, 'the denied call was never sent; the cheap one was');
    // Recorded: the approved costly call and the cheap one; the cheap one met no gate.
    const calls = await wf.calls();
    assert.deepEqual(calls.map((c) => [c.requestedModel, c.status]), [['gpt-4o', 'ok'], ['gpt-4o-mini', 'ok']]);
    const gates = (await engine.approvals()).filter((a) => a.executionId === wf.executionId);
    assert.deepEqual(gates.map((a) => [a.gate, a.status]).sort(), [['call #1 over $0.001', 'approved'], ['call #2 over $0.001', 'denied']]);
    assert.equal((await wf.breakdown()).reservedNanos, 0);
  } finally {
    mock.stop();
  }
});

test('reserveSync cannot wait: an undecided gate is ApprovalPendingError (a refusal); after the approval it reserves', async () => {
  const wf = new WfloWorkflow({ engine, name: 'gated-sync', approvalAboveUsd: 0.001 });
  await wf.start();
  const big = { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 4000 };
  const pending = (() => {
    try {
      wf.reserveSync(big);
    } catch (e) {
      return e;
    }
    return assert.fail('reserved over the threshold without an approval');
  })();
  assert.ok(pending instanceof ApprovalPendingError && pending instanceof WfloError, String(pending));
  assert.equal(pending.code, 'APPROVAL_PENDING');
  assert.equal(pending.gate, 'call #1 over $0.001');
  assert.match(pending.what, /^a gpt-4o call that may cost up to/);
  assert.ok(isRefusal(pending), 'the engine calls a pending approval a refusal');
  assert.deepEqual(errorCodes(pending), ['APPROVAL_PENDING']);
  const stored = await engine.approval(pending.approvalId);
  assert.deepEqual([stored.id, stored.status, stored.executionId], [pending.approvalId, 'pending', wf.executionId]);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
  // A breaker does not count it.
  const breaker = engine.breaker('gated-sync-breaker', { failureThreshold: 1 });
  await assert.rejects(breaker.call(() => wf.reserveSync(big)), ApprovalPendingError);
  assert.equal(breaker.state, 'closed');
  // Waiting for the decision, then reserving again: the same gate, now approved.
  const waiting = wf.waitForApproval(pending.approvalId);
  await engine.approve(pending.approvalId);
  assert.equal((await waiting).status, 'approved');
  const r = wf.reserveSync(big);
  assert.ok(r.amountNanos > 1_000_000);
  r.release('aborted');
  await wf.end();
  await assert.rejects(engine.approval('appr-000000000000'), NotFoundError);
  await assert.rejects(engine.approval(5), InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ engine, approvalAboveUsd: '-1' }), InvalidArgumentError);
});

test('approvalAboveUsd holds on a resumed workflow, and reserve() waits across shared scopes too', async () => {
  await engine.defineSharedScope('gated-team', { limitUsd: '5' });
  const wf = new WfloWorkflow({ engine, name: 'gated-shared', approvalAboveUsd: '0.001', sharedScopes: ['gated-team'] });
  await wf.start();
  const resumed = await WfloWorkflow.resume(wf.executionId, { engine, sharedScopes: ['gated-team'] });
  const reserving = resumed.reserve({ model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 4000 });
  const gate = await pendingOf(() => wf.executionId);
  assert.equal(gate.gate, 'call #1 over $0.001');
  await run(['approve', gate.id, '--db', db]);
  const r = await reserving;
  assert.ok(r.amountNanos > 1_000_000);
  r.release('aborted');
  await resumed.end();
});
