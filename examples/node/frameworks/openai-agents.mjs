// The OpenAI Agents SDK (`@openai/agents`) under a wflo budget: each model call of an agent run
// is reserved before it is sent and charged to the agent that makes it (after a handoff, the
// agent handed to), and an agent with a share of its own (`agentBudgetsUsd`) is refused, before
// its request leaves, once a call could take it past that share. The README's snippet is the
// part between the tour markers; bindings/node/test/openai-agents.test.cjs runs this file
// against `wflo mock-llm` and checks the ledger it prints with the mock's own counts.
//
// Run it where `wflo` and `@openai/agents` are installed: node openai-agents.mjs
// (the SDK's OpenAI client reads OPENAI_API_KEY, and OPENAI_BASE_URL if set).
import { setOpenAIAPI } from '@openai/agents';
// Chat Completions, where `wflo mock-llm` can answer with the handoff (either API is metered).
setOpenAIAPI('chat_completions');

// tour:start
import { Agent, run, setTracingDisabled } from '@openai/agents';
import { BudgetExceededError, Engine, WfloWorkflow } from 'wflo';
import { setDefaultWfloModelProvider } from 'wflo/openai-agents';

setTracingDisabled(true); // the SDK exports traces to OpenAI unless told not to
setDefaultWfloModelProvider(); // every run's models: the SDK's OpenAI provider, metered

const billing = new Agent({
  name: 'Billing',
  instructions: 'You handle refunds.',
  model: 'gpt-4o',
  modelSettings: { maxTokens: 500 }, // up to $0.005 a turn
});
const triage = new Agent({ name: 'Triage', instructions: 'Route the user.', model: 'gpt-4o-mini', handoffs: [billing] });

const engine = await Engine.open('memory://');
const workflow = new WfloWorkflow({
  name: 'support',
  budgetUsd: '0.05',
  agentBudgetsUsd: { Billing: '0.001' }, // Billing's own share; Triage draws on the whole $0.05
  engine,
});
try {
  await workflow.execute(() => run(triage, 'I was charged twice, please refund me.'));
} catch (e) {
  if (!(e instanceof BudgetExceededError)) throw e;
  console.log(`refused before sending: ${e.scope}, limit $${e.budgetUsd}`);
}
for (const call of await workflow.calls()) {
  console.log(call.step, call.requestedModel, call.status, `$${call.costNanos / 1e9}`);
}
// tour:end
console.log(JSON.stringify(await workflow.calls())); // for the test
