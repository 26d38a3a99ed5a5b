'use strict';
// Approval gates through the public API: a workflow waiting at its gate is approved by the
// real `wflo approve` in another process; a denial and a timeout are ApprovalDeniedError with
// who, why and whether it timed out; the same gate asked again finds the same approval.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const wflo = require('..');
const { wfloBin } = require('./helpers/mock.cjs');

const { Engine, WfloWorkflow, ApprovalDeniedError, WfloError, ConflictError, NotFoundError, InvalidArgumentError } = wflo;

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
  let pending;
  for (let i = 0; i < 200 && !pending; i++) {
    pending = (await engine.approvals({ pendingOnly: true })).find((a) => a.executionId === wf.executionId);
    if (!pending) await sleep(5);
  }
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
  let pending;
  for (let i = 0; i < 200 && !pending; i++) {
    pending = (await engine.approvals({ pendingOnly: true })).find((a) => a.executionId === wf.executionId);
    if (!pending) await sleep(5);
  }
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
