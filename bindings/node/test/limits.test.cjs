'use strict';
// Execution limits (the original SDK's max_iterations and per_agent_budgets): `maxCalls` caps
// the LLM calls of an execution with CallLimitError, and `agentBudgetsUsd` gives each agent
// its own share, charged through the request option `agent`. Calls go through the real
// `openai` SDK to `wflo mock-llm`, so a refused call is seen never to reach the provider.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { OpenAI } = require('openai');
const wflo = require('..');
const { wrapOpenAI } = require('wflo/openai');
const { startMock } = require('./helpers/mock.cjs');

const { Engine, WfloWorkflow, CallLimitError, BudgetExceededError, WfloError } = wflo;
const MODEL = 'gpt-4o-mini';
const ask = (content) => ({ model: MODEL, messages: [{ role: 'user', content }], max_completion_tokens: 50 });

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

const chatRequests = async () => (await mock.stats())['chat.completions'] ?? 0;

test('maxCalls: the (n+1)th call is refused with CallLimitError before anything is reserved or sent', async () => {
  const engine = await Engine.open('memory://');
  const wf = new WfloWorkflow({ name: 'capped', engine, budgetUsd: 1, maxCalls: 2 });
  const oa = wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase(), maxRetries: 0 }));
  await wf.start();
  const before = await chatRequests();
  await wf.execute(async () => {
    await oa.chat.completions.create(ask('one'));
    await oa.chat.completions.create(ask('two'));
  });
  assert.equal(await chatRequests(), before + 2);

  let refused;
  await assert.rejects(
    wf.execute(() => oa.chat.completions.create(ask('three'))),
    (e) => {
      refused = e;
      return e instanceof CallLimitError;
    },
  );
  assert.ok(refused instanceof WfloError && refused.code === 'CALL_LIMIT', String(refused));
  assert.deepEqual([refused.maxCalls, refused.execution], [2, wf.executionId]);
  assert.match(refused.message, /limit of 2 LLM call/);
  assert.equal(await chatRequests(), before + 2, 'the refused call never reached the provider');
  const b = await wf.breakdown();
  assert.equal(b.reservedNanos, 0, 'nothing is held for the refused call');
  assert.deepEqual((await wf.calls()).map((c) => c.status), ['ok', 'ok', 'refused']);
});

test('maxCalls: a call refused for another reason does not use up the cap; a resumed execution counts its calls', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-limits-'));
  const engine = await Engine.open(path.join(dir, 'w.db'));
  const wf = new WfloWorkflow({ name: 'resumed', engine, budgetUsd: 1, maxCalls: 2 });
  const first = await wf.reserveRequest('openai_chat', ask('a'));
  first.settle({ input: 10, output: 5 });
  // Over the execution's budget: BUDGET_EXCEEDED, and the cap keeps its second call.
  await assert.rejects(wf.reserveRequest('openai_chat', { ...ask('b'), model: 'gpt-4o', max_completion_tokens: 200_000 }), BudgetExceededError);
  await wf.end();

  const again = await WfloWorkflow.resume(wf.executionId, { engine });
  (await again.reserveRequest('openai_chat', ask('c'))).settle({ input: 10, output: 5 });
  await assert.rejects(again.reserveRequest('openai_chat', ask('d')), CallLimitError);
  // reserve() (a call without a request body) is capped the same way.
  await assert.rejects(again.reserve({ model: MODEL, inputTokens: 10, maxOutputTokens: 10 }), CallLimitError);
  assert.deepEqual((await again.calls()).map((c) => c.status), ['ok', 'refused', 'ok', 'refused', 'refused']);
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("agentBudgetsUsd: the agent that used up its share is refused while another agent goes on", async () => {
  const engine = await Engine.open('memory://');
  // gpt-4o-mini output: $0.60 per million tokens: a 1,000-token call holds about $0.0006 and,
  // settled at 900 tokens (less than it held: no overrun), spends $0.00054.
  const wf = new WfloWorkflow({ name: 'agents', engine, budgetUsd: 1, agentBudgetsUsd: { researcher: '0.001', critic: 0.5 } });
  const research = { ...ask('research'), max_completion_tokens: 1000 };
  const r1 = await wf.reserveRequest('openai_chat', research, { agent: 'researcher' });
  r1.settle({ input: 10, output: 900 });
  let refused;
  await assert.rejects(wf.reserveRequest('openai_chat', research, { agent: 'researcher' }), (e) => {
    refused = e;
    return e instanceof BudgetExceededError;
  });
  assert.equal(refused.scope, 'agent:researcher');
  assert.equal(refused.limitNanos, 1_000_000);
  // The writer has no share of its own: the execution's budget is its limit, and it goes on.
  for (let i = 0; i < 3; i++) (await wf.reserveRequest('openai_chat', research, { agent: 'writer' })).settle({ input: 10, output: 900 });
  const b = await wf.breakdown();
  assert.equal(b.reservedNanos, 0);
  const steps = (await wf.calls()).map((c) => [c.step, c.status]);
  assert.deepEqual(steps, [
    ['agent:researcher', 'ok'],
    ['agent:researcher', 'refused'],
    ['agent:writer', 'ok'],
    ['agent:writer', 'ok'],
    ['agent:writer', 'ok'],
  ]);
  assert.equal(b.totalNanos, 4 * wflo.cost(MODEL, { input: 10, output: 900 }).nanos);
  await engine.close();
});

test('the execution budget still applies to an agent with a larger share', async () => {
  const engine = await Engine.open('memory://');
  const wf = new WfloWorkflow({ name: 'outer', engine, budgetUsd: '0.0005', agentBudgetsUsd: { researcher: 10 } });
  const e = await wf.reserveRequest('openai_chat', { ...ask('x'), max_completion_tokens: 1000 }, { agent: 'researcher' }).catch((x) => x);
  assert.ok(e instanceof BudgetExceededError, String(e));
  assert.equal(e.scope, wf.executionId, "the execution's own scope refused");
  await engine.close();
});

test('bad limits are refused when the workflow is made', () => {
  assert.throws(() => new WfloWorkflow({ maxCalls: -1 }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ maxCalls: 1.5 }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ agentBudgetsUsd: ['0.1'] }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ agentBudgetsUsd: { a: '-1' } }), wflo.InvalidArgumentError);
  assert.throws(() => new WfloWorkflow({ agentBudgetsUsd: { a: null } }), wflo.InvalidArgumentError);
  assert.equal(new WfloWorkflow({ maxCalls: 3n })._maxCalls, 3);
});

test('CallLimitError is a refusal: found along causes, not counted by a breaker', async () => {
  const { isRefusal, errorCodes } = require('../lib/errors.cjs');
  const e = new CallLimitError('capped', { execution: 'exec-000000000001', max_calls: 1 });
  assert.equal(isRefusal(e), true);
  assert.deepEqual(errorCodes(new Error('wrapped', { cause: e })), ['CALL_LIMIT']);
  const engine = await Engine.open('memory://');
  const breaker = engine.breaker('limits-test', { failureThreshold: 1 });
  await assert.rejects(breaker.call(() => {
    throw e;
  }), CallLimitError);
  assert.equal(breaker.state, 'closed');
  await engine.close();
});
