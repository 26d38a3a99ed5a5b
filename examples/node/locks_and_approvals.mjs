// Resource locks and approval gates from Node.js: a semaphore every process on the store
// shares, and a step that waits for a person's approval (here given by the same program; in
// practice `wflo approve ID` from a terminal, or `wflo serve`).
// The README's snippet is the part between the tour markers;
// bindings/node/test/contention.test.cjs runs this file and checks what it prints.
//
// Run: node examples/node/locks_and_approvals.mjs
import { Engine, WfloWorkflow, ResourceBusyError, ApprovalDeniedError } from '../../bindings/node/index.mjs';

// tour:start
const engine = await Engine.open('memory://');

// At most one migration at a time, whichever process runs it.
const migration = engine.resource('db-migration', { maxConcurrent: 1, timeoutMs: 60_000 });
await migration.withLock('wf-a', async () => {
  try {
    await migration.acquire('wf-b', { timeoutMs: 0 });
  } catch (e) {
    if (e instanceof ResourceBusyError) console.log(`busy: ${e.resource} held by ${e.holders.length}`);
  }
});
console.log(`migrations run: ${(await migration.stats()).acquisitions}`);

// A step behind a person's approval.
const wf = new WfloWorkflow({ name: 'newsletter', budgetUsd: '1.00', engine });
const approver = setInterval(async () => {
  for (const a of await engine.approvals({ pendingOnly: true })) {
    await (a.gate === 'publish' ? engine.approve(a.id, { by: 'ana' }) : engine.deny(a.id, { by: 'bo', note: 'not today' }));
  }
}, 20);
await wf.execute(async (_, w) => {
  const ok = await w.requireApproval('publish', { why: 'emails customers', worstCaseUsd: '0.25' });
  console.log(`publish approved by ${ok.decidedBy}`);
  try {
    await w.requireApproval('delete-index', { why: 'drops the search index' });
  } catch (e) {
    if (e instanceof ApprovalDeniedError) console.log(`delete-index denied by ${e.by}: ${e.note}`);
  }
});
clearInterval(approver);
// tour:end
await engine.close();
