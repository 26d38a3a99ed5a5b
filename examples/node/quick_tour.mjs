// The quick tour from Node.js: start an execution, track a call, hit the budget, checkpoint,
// roll back, print the breakdown. The README's Node snippet is the part between the tour
// markers; bindings/node/test/pack.test.cjs runs this same file (importing 'wflo') against the
// packed and installed npm package, as ESM, as CommonJS, and through TypeScript's checker.
//
// Run: node examples/node/quick_tour.mjs
import { WfloWorkflow, Engine, BudgetExceededError } from '../../bindings/node/index.mjs';

// tour:start
const engine = await Engine.open('memory://');
const workflow = new WfloWorkflow({ name: 'research-agent', budgetUsd: 0.01, engine });

const record = await workflow.execute(async (_, wf) => {
  // Count the prompt, reserve the worst case BEFORE the request leaves the process…
  const messages = [{ role: 'user', content: 'Find three papers on BPE tokenizers.' }];
  const prompt = engine.countChatTokens('gpt-4o-mini', messages);
  const settled = await wf.step('search', async (search) => {
    const call = await search.reserve({ model: 'gpt-4o-mini', inputTokens: prompt.tokens, maxOutputTokens: 400 });
    // …send it, then settle with the usage the provider reported.
    return call.settleJson('openai_chat', '{"usage":{"prompt_tokens":21,"completion_tokens":180}}');
  });
  console.log(`call cost $${(settled.costNanos / 1e9).toFixed(8)}`);
  await wf.checkpoint('searched', { papers: ['a', 'b', 'c'] });

  // A call that could overspend is refused before anything is sent.
  try {
    await wf.step('write', (write) => write.reserve({ model: 'gpt-4o', inputTokens: 3000, maxOutputTokens: 4000 }));
    throw new Error('expected a refusal');
  } catch (e) {
    if (!(e instanceof BudgetExceededError)) throw e;
    console.log(`refused: needs up to $${e.requestedUsd.toFixed(4)} of a $${e.budgetUsd.toFixed(2)} budget`);
  }

  // Roll back to the last good state and look at where the money went.
  const state = await wf.rollbackToCheckpoint('searched');
  console.log(`rolled back to ${JSON.stringify(state)}`);
  return settled;
});
const b = await workflow.breakdown();
console.log(`total $${b.totalUsd.toFixed(8)} of $${b.budgetUsd}, ${b.calls} call(s), ${b.refusedCalls} refused`);
// tour:end
if (b.calls !== 1 || b.refusedCalls !== 1 || b.totalNanos !== record.costNanos || b.reservedNanos !== 0) {
  throw new Error(`unexpected breakdown: ${JSON.stringify(b)}`);
}
if (b.status !== 'completed' || b.byStep.map((s) => s.step).sort().join() !== 'search,write') {
  throw new Error(`unexpected execution: ${b.status}, steps ${b.byStep.map((s) => s.step)}`);
}
await engine.close();
