'use strict';
// wflo/openai-agents against `wflo mock-llm` with the real `@openai/agents`: agent runs whose
// model calls are reserved before they are sent, settled with the SDK's usage, and charged
// to the agent that made them (handoffs included).
const test = require('node:test');
const assert = require('node:assert/strict');
const { OpenAI } = require('openai');
const { Agent, Runner, run, setTracingDisabled, OpenAIResponsesModel, OpenAIChatCompletionsModel } = require('@openai/agents');
const wflo = require('..');
const { wfloModelProvider, setDefaultWfloModelProvider, wrapModel } = require('wflo/openai-agents');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow } = require('./helpers/llm.cjs');

setTracingDisabled(true); // no trace export: nothing leaves the machine

const MODEL = 'gpt-4o-mini';
const OTHER = 'gpt-4o';

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

const openai = (directives) => new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase(directives), maxRetries: 0 });

/** A ModelProvider on the mock: each model name has its API (responses or chat) and directives. */
function mockProvider(models = { [MODEL]: { api: 'responses' } }) {
  return {
    getModel(name) {
      const m = models[name];
      if (!m) throw new Error(`no mock model ${name}`);
      const client = openai(m.directives);
      return m.api === 'chat' ? new OpenAIChatCompletionsModel(client, name) : new OpenAIResponsesModel(client, name);
    },
  };
}

/** Responses usage (input includes cached, output includes reasoning) in wflo's disjoint fields. */
const usageOf = (u) => {
  const cached = u.inputTokensDetails?.cached_tokens ?? 0;
  const reasoning = u.outputTokensDetails?.reasoning_tokens ?? 0;
  return { input: u.inputTokens - cached, output: u.outputTokens - reasoning, cacheRead: cached, cacheWrite5m: 0, cacheWrite1h: 0, reasoning };
};
const requests = async (kinds = ['chat.completions', 'responses']) => {
  const stats = await mock.stats();
  return [].concat(kinds).reduce((n, k) => n + (stats[k] ?? 0), 0);
};
/** The one request's usage of a model response (its requestUsageEntries[0]). */
const entryOf = (resp) => resp.usage.requestUsageEntries?.[0] ?? resp.usage;

test('a run is settled with the usage the SDK reported, priced by wflo, charged to the agent', async () => {
  const wf = await memoryWorkflow();
  const agent = new Agent({ name: 'Writer', instructions: 'Be brief.', model: MODEL });
  const runner = new Runner({ modelProvider: wfloModelProvider(mockProvider({ [MODEL]: { api: 'responses', directives: 'cached=5,reasoning=7' } })) });
  const result = await wf.execute(() => runner.run(agent, 'Say something about budgets.'));
  assert.equal(result.rawResponses.length, 1);
  const usage = usageOf(entryOf(result.rawResponses[0]));
  assert.ok(usage.cacheRead === 5 && usage.reasoning === 7 && usage.input > 0, JSON.stringify(usage));
  const expected = wflo.cost(MODEL, usage).nanos;
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, expected);
  assert.deepEqual([call.status, call.stream, call.estimated], ['ok', false, false]);
  assert.equal(call.step, 'agent:Writer');
  const b = await wf.breakdown();
  assert.equal(b.totalNanos, expected);
  assert.equal(b.reservedNanos, 0);
});

test('a model call that could overspend is refused before any request; the run rejects', async () => {
  const wf = await memoryWorkflow(0.000001);
  const agent = new Agent({ name: 'Spender', instructions: 'Write a lot.', model: MODEL, modelSettings: { maxTokens: 1000 } });
  const runner = new Runner({ modelProvider: wfloModelProvider(mockProvider()) });
  const before = await requests();
  const err = await wf.execute(() => runner.run(agent, 'hi')).then(() => null, (e) => e);
  assert.ok(err instanceof wflo.BudgetExceededError, String(err));
  assert.equal(err.code, 'BUDGET_EXCEEDED');
  const streamed = await memoryWorkflow(0.000001);
  const err2 = await streamed
    .execute(async () => {
      const res = await runner.run(agent, 'hi', { stream: true });
      for await (const _ of res);
      await res.completed;
    })
    .then(() => null, (e) => e);
  assert.ok(err2 instanceof wflo.BudgetExceededError, String(err2));
  assert.equal(await requests(), before, 'no request reached the provider');
  for (const w of [wf, streamed]) {
    const calls = await w.calls();
    assert.deepEqual(calls.map((c) => c.status), ['refused']);
    assert.equal((await w.breakdown()).status, 'budget_exceeded');
  }
});

test('the output limit the reservation covers is what the model is asked for', async () => {
  const seen = [];
  const recording = {
    getModel(name) {
      const m = new OpenAIResponsesModel(openai(), name);
      return {
        getResponse(req) {
          seen.push(req.modelSettings.maxTokens);
          return m.getResponse(req);
        },
        getStreamedResponse: (req) => m.getStreamedResponse(req),
      };
    },
  };
  const agent = new Agent({ name: 'A', instructions: 'hi', model: MODEL });
  const wf = await memoryWorkflow();
  await wf.execute(() => new Runner({ modelProvider: wfloModelProvider(recording) }).run(agent, 'hi'));
  assert.equal(seen[0], wflo.price(MODEL).price.maxOutput, 'no limit asked: the model maximum, made explicit');
  // $0.0001 buys ~160 output tokens of gpt-4o-mini: clamped under the policy.
  const small = await memoryWorkflow(0.0001);
  const capped = new Agent({ name: 'A', instructions: 'hi', model: MODEL, modelSettings: { maxTokens: 10000 } });
  await small.execute(() => new Runner({ modelProvider: wfloModelProvider(recording, { clampMaxTokens: true }) }).run(capped, 'hi'));
  assert.ok(seen[1] > 16 && seen[1] < 200, `clamped to ${seen[1]}`);
  assert.equal((await small.calls())[0].status, 'ok');
});

test('a streamed run is settled once, exactly; a stream cut before its usage is estimated', async () => {
  const agent = new Agent({ name: 'Streamer', instructions: 'Stream.', model: MODEL });
  const wf = await memoryWorkflow();
  let final;
  await wf.execute(async () => {
    const runner = new Runner({ modelProvider: wfloModelProvider(mockProvider({ [MODEL]: { api: 'responses', directives: 'reasoning=3' } })) });
    const res = await runner.run(agent, 'hi', { stream: true });
    for await (const _ of res);
    await res.completed;
    final = res.rawResponses[0];
  });
  const calls = await wf.calls();
  assert.equal(calls.length, 1, 'one record for the stream');
  assert.deepEqual([calls[0].status, calls[0].stream, calls[0].estimated, calls[0].step], ['ok', true, false, 'agent:Streamer']);
  assert.equal(calls[0].costNanos, wflo.cost(MODEL, usageOf(entryOf(final))).nanos);

  const cut = await memoryWorkflow();
  await cut.execute(async () => {
    const runner = new Runner({ modelProvider: wfloModelProvider(mockProvider({ [MODEL]: { api: 'chat', directives: 'cut=usage,reply=30' } })) });
    const res = await runner.run(agent, 'hi', { stream: true });
    for await (const _ of res);
    await res.completed;
  });
  const [c] = await cut.calls();
  assert.deepEqual([c.status, c.estimated, c.usageMissing], ['ok', true, true]);
  assert.ok(c.usage.output >= 25 && c.costNanos > 0, JSON.stringify(c.usage));
  assert.equal((await cut.breakdown()).reservedNanos, 0);
});

test('a handoff: each agent is charged for its own model calls', async () => {
  const billing = new Agent({ name: 'Billing', instructions: 'You handle billing.', model: OTHER });
  const triage = new Agent({ name: 'Triage', instructions: 'Route the user.', model: MODEL, handoffs: [billing] });
  const provider = wfloModelProvider(
    mockProvider({ [MODEL]: { api: 'chat', directives: 'tool=transfer_to_Billing' }, [OTHER]: { api: 'responses', directives: 'reply=12' } }),
  );
  // The runner's turn spans name the agent; with the runner's tracing off there are none, and
  // the agent's own span does.
  for (const config of [{}, { tracingDisabled: true }]) {
    const wf = await memoryWorkflow();
    const result = await wf.execute(() => new Runner({ ...config, modelProvider: provider }).run(triage, 'I want a refund'));
    assert.equal(result.lastAgent.name, 'Billing');
    const calls = await wf.calls();
    assert.deepEqual(calls.map((c) => [c.requestedModel, c.step]), [[MODEL, 'agent:Triage'], [OTHER, 'agent:Billing']]);
    assert.deepEqual(
      calls.map((c) => c.costNanos),
      result.rawResponses.map((r, i) => wflo.cost(calls[i].requestedModel, usageOf(entryOf(r))).nanos),
    );
    const b = await wf.breakdown();
    assert.equal(b.totalNanos, calls[0].costNanos + calls[1].costNanos);
  }
});

/** A workflow on a fresh in-memory engine with each agent's own share (`agentBudgetsUsd`). */
async function sharedWorkflow(agentBudgetsUsd, budgetUsd = 1) {
  const engine = await wflo.Engine.open('memory://');
  return new wflo.WfloWorkflow({ name: 'agents', engine, budgetUsd, agentBudgetsUsd });
}

test('per-agent budgets: the agent past its own share is refused before any request, another goes on', async () => {
  // gpt-4o-mini output is $0.60 per million tokens: a 1,000-token turn holds ~$0.0006, and a
  // 900-token answer spends ~$0.00054 of the Researcher's $0.001 — the next turn cannot fit.
  const wf = await sharedWorkflow({ Researcher: '0.001' });
  const settings = { maxTokens: 1000 };
  const researcher = new Agent({ name: 'Researcher', instructions: 'Dig deep.', model: MODEL, modelSettings: settings });
  const writer = new Agent({ name: 'Writer', instructions: 'Write it up.', model: MODEL, modelSettings: settings });
  const runner = new Runner({ modelProvider: wfloModelProvider(mockProvider({ [MODEL]: { api: 'responses', directives: 'reply=900' } })) });
  let refused;
  let sentWhileRefused;
  const outputs = [];
  await wf.execute(async () => {
    outputs.push((await runner.run(researcher, 'Find the papers.')).rawResponses);
    const before = await requests();
    refused = await runner.run(researcher, 'Find more.').then(() => null, (e) => e);
    sentWhileRefused = (await requests()) - before;
    for (let i = 0; i < 2; i++) outputs.push((await runner.run(writer, 'Write the summary.')).rawResponses);
  });
  assert.ok(refused instanceof wflo.BudgetExceededError, String(refused));
  assert.equal(refused.code, 'BUDGET_EXCEEDED');
  assert.equal(refused.scope, 'agent:Researcher');
  assert.equal(refused.limitNanos, 1_000_000);
  assert.equal(sentWhileRefused, 0, 'the refused turn sent nothing');
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.step, c.status]), [
    ['agent:Researcher', 'ok'],
    ['agent:Researcher', 'refused'],
    ['agent:Writer', 'ok'],
    ['agent:Writer', 'ok'],
  ]);
  const done = calls.filter((c) => c.status === 'ok');
  assert.deepEqual(done.map((c) => c.costNanos), outputs.map(([r]) => wflo.cost(MODEL, usageOf(entryOf(r))).nanos));
  assert.ok(done[0].usage.output >= 850, JSON.stringify(done[0].usage));
  const b = await wf.breakdown();
  assert.equal(b.totalNanos, done.reduce((n, c) => n + c.costNanos, 0));
  assert.equal(b.reservedNanos, 0);
  assert.ok(b.totalNanos > 1_000_000, "the Writer spent past the Researcher's share");
});

test("per-agent budgets across a handoff: the agent handed to is held to its own share", async () => {
  const billing = new Agent({ name: 'Billing', instructions: 'You handle billing.', model: OTHER, modelSettings: { maxTokens: 500 } });
  const triage = new Agent({ name: 'Triage', instructions: 'Route the user.', model: MODEL, handoffs: [billing] });
  const provider = wfloModelProvider(
    mockProvider({ [MODEL]: { api: 'chat', directives: 'tool=transfer_to_Billing' }, [OTHER]: { api: 'responses' } }),
  );
  // gpt-4o: 500 output tokens hold $0.005, past Billing's $0.001; Triage has no share of its own.
  const wf = await sharedWorkflow({ Billing: '0.001' });
  const before = await requests();
  const err = await wf.execute(() => new Runner({ modelProvider: provider }).run(triage, 'I want a refund')).then(() => null, (e) => e);
  assert.ok(err instanceof wflo.BudgetExceededError, String(err));
  assert.equal(err.scope, 'agent:Billing');
  assert.equal(await requests(), before + 1, "Triage's turn was sent, Billing's never");
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.step, c.requestedModel, c.status]), [
    ['agent:Triage', MODEL, 'ok'],
    ['agent:Billing', OTHER, 'refused'],
  ]);
  assert.ok(calls[0].costNanos > 0);
});

test('as the default provider, run() is metered in a workflow and untouched outside', async () => {
  setDefaultWfloModelProvider(mockProvider());
  const agent = new Agent({ name: 'Default', instructions: 'hi', model: MODEL });
  const wf = await memoryWorkflow();
  await wf.execute(() => run(agent, 'hi'));
  const before = await requests();
  const outside = await run(agent, 'hi');
  assert.equal(typeof outside.finalOutput, 'string');
  assert.equal(await requests(), before + 1);
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.step]), [['ok', 'agent:Default']]);
});

test('workflow.execute(agent, input) runs the agent with metered models; wrapModel meters a Model instance', async () => {
  const wf = await memoryWorkflow();
  const viaExecute = new Agent({ name: 'Direct', instructions: 'hi', model: MODEL });
  const result = await wf.execute(viaExecute, 'hello', { modelProvider: mockProvider() });
  assert.equal(typeof result.finalOutput, 'string');
  const instance = new Agent({ name: 'Instance', instructions: 'hi', model: wrapModel(new OpenAIResponsesModel(openai(), MODEL)) });
  const wf2 = await memoryWorkflow();
  await wf2.execute(() => run(instance, 'hi'));
  for (const [w, scope] of [[wf, 'agent:Direct'], [wf2, 'agent:Instance']]) {
    const calls = await w.calls();
    assert.deepEqual(calls.map((c) => [c.status, c.requestedModel, c.step]), [['ok', MODEL, scope]]);
  }
});

test("the README's example (examples/node/frameworks/openai-agents.mjs) runs as ESM and its ledger is the mock's", async () => {
  // Run as a user's file: in a project whose node_modules hold `wflo` (this package) and the
  // Agents SDK (this package's copy), importing both by name.
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-agents-example-'));
  const pkg = path.join(__dirname, '..');
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(pkg, path.join(project, 'node_modules', 'wflo'), 'dir');
  fs.symlinkSync(path.join(pkg, 'node_modules', '@openai'), path.join(project, 'node_modules', '@openai'), 'dir');
  const example = path.join(project, 'openai-agents.mjs');
  fs.copyFileSync(path.join(pkg, '..', '..', 'examples', 'node', 'frameworks', 'openai-agents.mjs'), example);
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|OPENAI_)/i.test(k))),
    OPENAI_API_KEY: 'test',
    OPENAI_BASE_URL: mock.openaiBase('tool=transfer_to_Billing'), // Triage hands over to Billing
    OPENAI_AGENTS_DISABLE_TRACING: '1',
  };
  const before = await mock.stats();
  const out = await new Promise((resolve) => {
    const done = (error, stdout, stderr) => resolve({ error, stdout, stderr });
    execFile(process.execPath, [example], { cwd: project, env, timeout: 60_000 }, done);
  });
  fs.rmSync(project, { recursive: true, force: true });
  assert.equal(out.error, null, out.stderr);
  const lines = out.stdout.trim().split('\n');
  const calls = JSON.parse(lines.pop());
  assert.deepEqual(calls.map((c) => [c.step, c.requestedModel, c.status]), [
    ['agent:Triage', MODEL, 'ok'],
    ['agent:Billing', OTHER, 'refused'],
  ]);
  const [triage] = calls;
  assert.ok(triage.costNanos > 0 && !triage.estimated, JSON.stringify(triage));
  assert.equal(triage.costNanos, wflo.cost(MODEL, triage.usage).nanos);
  const after = await mock.stats();
  assert.equal(after.total - before.total, 1, "Triage's turn reached the mock, Billing's never did");
  assert.deepEqual(lines, [
    'refused before sending: agent:Billing, limit $0.001',
    `agent:Triage ${MODEL} ok $${triage.costNanos / 1e9}`,
    `agent:Billing ${OTHER} refused $0`,
  ]);
});
