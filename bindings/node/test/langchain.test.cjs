'use strict';
// LangChain.js and LangGraph.js with the real packages against `wflo mock-llm`: every model
// call is reserved before its request and settled from the mock's usage; a call that could
// overspend never reaches the mock; a graph's checkpoints live in wflo's store and roll back.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ChatOpenAI } = require('@langchain/openai');
const { HumanMessage } = require('@langchain/core/messages');
const { StateGraph, MessagesAnnotation, Annotation, START, END } = require('@langchain/langgraph');
const wflo = require('..');
const { WfloCallbackHandler } = require('wflo/langchain');
const { WfloCheckpointSaver, RECORD_CONTENT_TYPE } = require('wflo/langgraph');
const { startMock } = require('./helpers/mock.cjs');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock?.stop());

const memory = () => wflo.Engine.open('memory://');
const served = async () => (await mock.stats())['chat.completions'] ?? 0;

function chat(model, { directives, maxTokens } = {}) {
  return new ChatOpenAI({
    model,
    apiKey: 'mock',
    maxRetries: 0,
    maxTokens,
    configuration: { baseURL: mock.openaiBase(directives) },
  });
}

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  turns: Annotation({ reducer: (a, b) => a + b, default: () => 0 }),
});

/** START → one node per model (each calls its model on the messages so far) → END. */
function graphOf(models, compileOptions) {
  const g = new StateGraph(State);
  let prev = START;
  models.forEach((model, i) => {
    const name = `model_${i}`;
    g.addNode(name, async (state) => ({ messages: [await model.invoke(state.messages)], turns: 1 }));
    g.addEdge(prev, name);
    prev = name;
  });
  g.addEdge(prev, END);
  return g.compile(compileOptions);
}

/** What the mock reported for one reply, in wflo's disjoint fields (from OpenAI's raw usage). */
function mockUsage(message) {
  const u = message.response_metadata.usage;
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
  return { input: u.prompt_tokens - cached, output: u.completion_tokens - reasoning, cacheRead: cached, cacheWrite5m: 0, cacheWrite1h: 0, reasoning };
}

test('execute(graph) reserves every model call before it and records what the mock billed', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'graph', budgetUsd: 0.05, engine });
  const graph = graphOf([chat('gpt-4o-mini', { maxTokens: 60 }), chat('gpt-4o', { maxTokens: 40 })]);
  const before = await served();
  const out = await wf.execute(graph, { messages: [new HumanMessage('Write one line about budgets.')] });
  assert.equal((await served()) - before, 2);
  assert.equal(out.turns, 2);
  const replies = out.messages.slice(1);
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.requestedModel, c.status, c.provider]), [['gpt-4o-mini', 'ok', 'openai'], ['gpt-4o', 'ok', 'openai']]);
  let total = 0;
  for (const [i, call] of calls.entries()) {
    const usage = mockUsage(replies[i]);
    assert.deepEqual(call.usage, usage);
    assert.equal(call.costNanos, wflo.cost(call.requestedModel, usage).nanos);
    assert.equal(call.estimated, false);
    total += call.costNanos;
  }
  // The reservation was the exact prompt (the mock counts with wflo's tokenizer) plus max_tokens.
  const prompt0 = replies[0].response_metadata.usage.prompt_tokens;
  assert.equal(calls[0].reservedNanos, wflo.cost('gpt-4o-mini', { input: prompt0, output: 60 }).nanos);
  const b = await wf.breakdown();
  assert.equal(b.status, 'completed');
  assert.equal(b.totalNanos, total);
  assert.equal(b.reservedNanos, 0);
  await engine.close();
});

test('cache reads the provider reports are priced as cache reads', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'cached', budgetUsd: 0.05, engine });
  const graph = graphOf([chat('gpt-4o-mini', { directives: 'cached=5', maxTokens: 30 })]);
  const out = await wf.execute(graph, { messages: [new HumanMessage('A prompt long enough to have a cached prefix in it.')] });
  const [call] = await wf.calls();
  const usage = mockUsage(out.messages[1]);
  assert.equal(usage.cacheRead, 5);
  assert.equal(call.usage.cacheRead, 5);
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, wflo.cost('gpt-4o-mini', usage).nanos);
  const uncached = wflo.cost('gpt-4o-mini', { input: usage.input + 5, output: usage.output }).nanos;
  assert.ok(call.costNanos < uncached, 'the cached tokens cost less than plain input');
  await engine.close();
});

test('a call that could overspend is refused before its request: zero requests reach the mock', async () => {
  const engine = await memory();
  // gpt-4o without max_tokens reserves its maximum output (~$0.16): over a $0.001 budget.
  const wf = new wflo.WfloWorkflow({ name: 'over', budgetUsd: 0.001, engine });
  const graph = graphOf([chat('gpt-4o')]);
  const before = await served();
  await assert.rejects(wf.execute(graph, { messages: [new HumanMessage('Write a novel.')] }), (e) => {
    assert.ok(e instanceof wflo.BudgetExceededError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.budgetUsd, 0.001);
    return true;
  });
  assert.equal((await served()) - before, 0, 'no request was made');
  const b = await wf.breakdown();
  assert.equal(b.status, 'budget_exceeded');
  assert.equal(b.totalNanos, 0);
  assert.equal(b.reservedNanos, 0);
  assert.deepEqual((await wf.calls()).map((c) => c.status), ['refused']);
  await engine.close();
});

test('a graph runs until the call that would pass the budget, which is refused unsent', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'partial', budgetUsd: 0.002, engine });
  const graph = graphOf([chat('gpt-4o-mini', { maxTokens: 50 }), chat('gpt-4o', { maxTokens: 4000 })]);
  const before = await served();
  await assert.rejects(wf.execute(graph, { messages: [new HumanMessage('hello')] }), wflo.BudgetExceededError);
  assert.equal((await served()) - before, 1, 'only the first call was sent');
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.requestedModel, c.status]), [['gpt-4o-mini', 'ok'], ['gpt-4o', 'refused']]);
  const b = await wf.breakdown();
  assert.ok(b.totalNanos > 0 && b.totalNanos <= 2_000_000);
  assert.equal(b.refusedCalls, 1);
  await engine.close();
});

test('a batch with one prompt over the budget is refused whole: nothing sent, nothing left reserved', async () => {
  const engine = await memory();
  // Each prompt reserves ~$0.0006 (1,000 output tokens of gpt-4o-mini): one fits in $0.001, two do not.
  const wf = new wflo.WfloWorkflow({ name: 'batch', budgetUsd: 0.001, engine });
  const model = chat('gpt-4o-mini', { maxTokens: 1000 });
  const before = await served();
  await wf.execute(async () => {
    await assert.rejects(model.generate([[new HumanMessage('first')], [new HumanMessage('second')]], { callbacks: [new WfloCallbackHandler()] }),
      wflo.BudgetExceededError);
  }).catch(() => {});
  assert.equal((await served()) - before, 0);
  const b = await wf.breakdown();
  assert.equal(b.reservedNanos, 0, 'the prompt reserved before the refusal was released');
  assert.equal(b.totalNanos, 0);
  assert.deepEqual((await wf.calls()).map((c) => c.status).sort(), ['aborted', 'refused']);
  await engine.close();
});

test('a failed call gives its reservation back; a streamed call settles from its final usage', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'paths', budgetUsd: 0.05, engine });
  const failing = chat('gpt-4o-mini', { directives: 'status=500', maxTokens: 20 });
  const streaming = chat('gpt-4o-mini', { directives: 'cached=3', maxTokens: 20 });
  let streamed;
  await wf.execute(async () => {
    await assert.rejects(failing.invoke('hi', { callbacks: [new WfloCallbackHandler()] }));
    const stream = await streaming.stream('Tell me about streams.', { callbacks: [new WfloCallbackHandler()] });
    for await (const chunk of stream) streamed = streamed ? streamed.concat(chunk) : chunk;
  });
  const [failed, ok] = await wf.calls();
  assert.equal(failed.status, 'error');
  assert.equal(failed.costNanos, 0);
  assert.equal(ok.status, 'ok');
  const u = streamed.usage_metadata;
  assert.deepEqual(ok.usage, { input: u.input_tokens - 3, output: u.output_tokens, cacheRead: 3, cacheWrite5m: 0, cacheWrite1h: 0, reasoning: 0 });
  assert.equal(ok.costNanos, wflo.cost('gpt-4o-mini', ok.usage).nanos);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
  await engine.close();
});

test('a stream cut midway is billed for what it streamed (estimated, failed); one that never started is released', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'cut', budgetUsd: 1, engine });
  await wf.start();
  const callbacks = [new WfloCallbackHandler({ workflow: wf })];
  const streamed = [];
  await assert.rejects(async () => {
    const stream = await chat('gpt-4o-mini', { directives: 'reply=20,reset=6' }).stream('hello', { callbacks });
    for await (const chunk of stream) streamed.push(chunk.content);
  });
  await assert.rejects(chat('gpt-4o-mini', { directives: 'status=500' }).stream('hello', { callbacks }).then(async (s) => {
    for await (const _ of s); // eslint-disable-line no-unused-vars
  }));
  const [cut, failed] = await wf.calls();
  assert.equal(cut.status, 'error');
  assert.ok(cut.estimated && cut.costNanos > 0, JSON.stringify(cut));
  assert.ok(streamed.length > 0);
  assert.equal(cut.usage.output, wflo.countTokens('gpt-4o-mini', streamed.join('')).tokens);
  assert.equal(failed.status, 'error');
  assert.equal(failed.costNanos, 0);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a handler given a workflow meters calls made outside execute; without one, outside any workflow, it does nothing', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'explicit', budgetUsd: 0.01, engine });
  const model = chat('gpt-4o-mini', { maxTokens: 20 });
  await model.invoke('one', { callbacks: [new WfloCallbackHandler({ workflow: wf })] });
  await model.invoke('two', { callbacks: [new WfloCallbackHandler()] });
  assert.equal(wflo.currentWorkflow(), null);
  const calls = await wf.calls();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].status, 'ok');
  // Two wflo handlers on one call (one given, one from execute) meter it once.
  await wf.execute(async () => model.invoke('three', { callbacks: [new WfloCallbackHandler({ workflow: wf }), new WfloCallbackHandler()] }));
  assert.equal((await wf.calls()).length, 2);
  await engine.close();
});

test('without usage in the reply the output is estimated from its text, flagged; a model the call does not name is taken from the handler', async () => {
  const { FakeListChatModel, FakeLLM } = require('@langchain/core/utils/testing');
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'estimated', budgetUsd: 0.05, engine });
  const chatModel = new FakeListChatModel({ responses: ['hello world, this is a reply'] });
  const llm = new FakeLLM({ response: 'a plain completion' });
  await wf.execute(async () => {
    // A call wflo cannot price is refused rather than left unmetered.
    await assert.rejects(chatModel.invoke('hi', { callbacks: [new WfloCallbackHandler()] }), wflo.InvalidArgumentError);
    const handler = new WfloCallbackHandler({ model: 'gpt-4o-mini' });
    await chatModel.invoke('hi', { callbacks: [handler] });
    await llm.invoke('complete this', { callbacks: [handler] });
  });
  const [chatCall, llmCall] = await wf.calls();
  assert.deepEqual([chatCall.requestedModel, chatCall.status, chatCall.estimated, chatCall.usageMissing], ['gpt-4o-mini', 'ok', true, true]);
  assert.equal(chatCall.usage.input, wflo.countChatTokens('gpt-4o-mini', [{ role: 'user', content: 'hi' }]).tokens);
  assert.equal(chatCall.usage.output, wflo.countTokens('gpt-4o-mini', 'hello world, this is a reply').tokens);
  assert.equal(llmCall.usage.input, wflo.countTokens('gpt-4o-mini', 'complete this').tokens);
  assert.equal(llmCall.usage.output, wflo.countTokens('gpt-4o-mini', 'a plain completion').tokens);
  assert.ok(llmCall.costNanos > 0);
  await engine.close();
});

test('the ESM type declarations are the CommonJS ones', () => {
  for (const name of ['langchain', 'langgraph']) {
    const dir = path.join(__dirname, '..', 'integrations');
    assert.equal(fs.readFileSync(path.join(dir, `${name}.d.mts`), 'utf8'), fs.readFileSync(path.join(dir, `${name}.d.ts`), 'utf8'));
  }
});

test('concurrent workflows running one compiled graph keep their calls and checkpoints apart', async () => {
  const engine = await memory();
  const graph = graphOf([chat('gpt-4o-mini', { maxTokens: 20 })], { checkpointer: new WfloCheckpointSaver() });
  const flows = Array.from({ length: 6 }, (_, i) => new wflo.WfloWorkflow({ name: `c${i}`, budgetUsd: 0.01, engine }));
  const outs = await Promise.all(flows.map((wf, i) =>
    wf.execute(graph.withConfig({ configurable: { thread_id: 'shared-thread-name' } }), { messages: [new HumanMessage(`flow ${i}`)] })));
  for (const [i, wf] of flows.entries()) {
    assert.equal(outs[i].messages[0].content, `flow ${i}`);
    const calls = await wf.calls();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].executionId, wf.executionId);
    const names = (await wf.checkpoints()).map((c) => c.name);
    assert.ok(names.some((n) => n.startsWith('langgraph/shared-thread-name/')));
    // This execution's graph state is its own run alone.
    const snap = await wf.execute(async () => graph.getState({ configurable: { thread_id: 'shared-thread-name' } }));
    assert.deepEqual(snap.values.messages.map((m) => m.content).slice(0, 1), [`flow ${i}`]);
    assert.equal(snap.values.messages.length, 2);
  }
  await engine.close();
});

test('graph checkpoints live in wflo\'s store; rolling back restores an earlier graph state', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-langgraph-'));
  const file = path.join(dir, 'graph.db');
  let engine = await wflo.Engine.open(file);
  const wf = new wflo.WfloWorkflow({ name: 'chat', budgetUsd: 0.05, engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const model = chat('gpt-4o-mini', { maxTokens: 30 });
  const graph = graphOf([model], { checkpointer: saver });
  const thread = { configurable: { thread_id: 'conversation-1' } };
  const contents = (state) => state.messages.map((m) => m.content);

  // Two turns in one execution (the handler finds the workflow through the async context).
  let one;
  let two;
  await wf.execute(async () => {
    const ask = (text) => graph.invoke({ messages: [new HumanMessage(text)] }, { ...thread, callbacks: [new WfloCallbackHandler()] });
    one = await ask('First question?');
    await wf.checkpoint('after-first-answer', { note: 'a checkpoint of my own' });
    two = await ask('Second question?');
  });
  assert.equal(one.turns, 1);
  assert.equal(two.turns, 2);
  assert.equal(two.messages.length, 4);

  // State and cost in one store: the execution holds both the calls and the graph's checkpoints.
  const stored = await engine.execution(wf.executionId);
  assert.deepEqual(stored.calls.map((c) => c.status), ['ok', 'ok']);
  const graphCheckpoints = stored.checkpoints.filter((c) => c.name.startsWith('langgraph/conversation-1/'));
  assert.ok(graphCheckpoints.length >= 6, `${graphCheckpoints.length} graph checkpoints`);
  assert.ok(stored.checkpoints.some((c) => c.name.startsWith('langgraph-writes/conversation-1/')));
  assert.equal((await graph.getState(thread)).values.turns, 2);

  // Rolling the workflow back to a checkpoint of its own rolls the graph back with it.
  assert.deepEqual(await wf.rollbackToCheckpoint('after-first-answer'), { note: 'a checkpoint of my own' });
  let current = await graph.getState(thread);
  assert.equal(current.values.turns, 1);
  assert.deepEqual(contents(current.values), contents(one));

  // The execution resumed: the graph continues from there, the second turn asked again.
  const resumed = await wflo.WfloWorkflow.resume(wf.executionId, { engine });
  const graph2 = graphOf([model], { checkpointer: new WfloCheckpointSaver({ workflow: resumed }) });
  const again = await resumed.execute(graph2.withConfig(thread), { messages: [new HumanMessage('Second question, asked again?')] });
  assert.equal(again.turns, 2);
  assert.deepEqual(contents(again).slice(0, 3), [...contents(one), 'Second question, asked again?']);

  // Roll back to LangGraph's own checkpoint after the first answer, by its wflo name.
  const history = [];
  for await (const snap of graph2.getStateHistory(thread)) history.push(snap);
  assert.ok(!history.some((s) => contents(s.values).includes('Second question?')), 'the rolled-back turn is history');
  const afterFirst = history.find((s) => s.values.turns === 1 && s.next.length === 0);
  assert.ok(afterFirst, 'the checkpoint after the first turn is in the history');
  const rolled = await resumed.rollbackToCheckpoint(saver.checkpointName(afterFirst.config));
  assert.ok(rolled instanceof wflo.BinaryState, 'a LangGraph checkpoint is a binary record');
  assert.equal(rolled.contentType, RECORD_CONTENT_TYPE);
  assert.deepEqual(WfloCheckpointSaver.configOf(rolled), {
    configurable: { thread_id: 'conversation-1', checkpoint_ns: '', checkpoint_id: afterFirst.config.configurable.checkpoint_id },
  });
  current = await graph2.getState(thread);
  assert.equal(current.config.configurable.checkpoint_id, afterFirst.config.configurable.checkpoint_id);
  assert.equal(current.values.turns, 1);
  assert.deepEqual(contents(current.values), contents(one));
  assert.deepEqual((await resumed.calls()).map((c) => c.status), ['ok', 'ok', 'ok'], 'spend is not undone by a rollback');
  const executionId = wf.executionId;
  await engine.close();

  // Another process: the same store, the execution resumed, the graph state where it was.
  engine = await wflo.Engine.open(file);
  const later = await wflo.WfloWorkflow.resume(executionId, { engine });
  const graph3 = graphOf([model], { checkpointer: new WfloCheckpointSaver({ workflow: later }) });
  const state = await graph3.getState(thread);
  assert.equal(state.values.turns, 1);
  assert.deepEqual(contents(state.values), contents(one));
  assert.equal(state.values.messages[1].constructor.name, 'AIMessage');
  assert.equal(state.values.messages[1].usage_metadata.output_tokens, one.messages[1].usage_metadata.output_tokens);
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
