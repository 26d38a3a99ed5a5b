'use strict';
// trackLlmCall budgets a call from its actual request when it is shown the wrapped client
// that makes it, and up front only when it cannot see the request: a $0.01 workflow of
// 50-token gpt-4o calls spends nearly all of its budget and never more, and a function calling
// through plain fetch is still reserved before it sends. The real `openai` SDK and fetch
// against `wflo mock-llm`; the mock's request counter says what went out.
const test = require('node:test');
const assert = require('node:assert/strict');
const { OpenAI } = require('openai');
const wflo = require('..');
const { wrapOpenAI } = require('wflo/openai');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow } = require('./helpers/llm.cjs');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

const requests = async () => (await mock.stats())['chat.completions'] ?? 0;
const okCalls = async (wf) => (await wf.calls()).filter((c) => c.status === 'ok');
const ask = (content) => [{ role: 'user', content }];

/** Calls `once` until the budget refuses; resolves with [answered, the refusal]. */
async function untilRefused(once) {
  for (let answered = 0; ; answered++) {
    try {
      await once();
    } catch (e) {
      if (e instanceof wflo.BudgetExceededError) return [answered, e];
      throw e;
    }
  }
}

test('shown a wrapped client, a small budget is spent nearly whole and never overspent', async () => {
  const client = wrapOpenAI(new OpenAI({ apiKey: 'x', baseURL: mock.openaiBase('reply=40'), maxRetries: 0 }));
  // The seed's form, no maxTokens: the client is shown as the argument.
  const fact = wflo.trackLlmCall(
    (llm, prompt) => llm.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: ask(prompt) }),
    { model: 'gpt-4o' },
  );
  const wf = await memoryWorkflow('0.01', 'small-budget');
  const before = await requests();
  const [answered, refused] = await wf.execute(() => untilRefused(() => fact(client, 'One short fact about otters.')));
  const spent = (await wf.breakdown()).totalNanos;
  assert.ok(answered >= 10, `answered ${answered}: each call reserved ~$0.0005, not gpt-4o's $0.164 maximum`);
  assert.ok(spent >= 0.9 * 10_000_000, `spent ${spent}: at least 90% of the $0.01`);
  assert.ok(spent <= 10_000_000, 'never over');
  assert.equal((await requests()) - before, answered, 'the refused call sent nothing');
  assert.equal((await okCalls(wf)).length, answered);
  assert.ok((await okCalls(wf)).every((c) => c.reservedNanos < 1_000_000));
  assert.ok(!refused.message.includes('reserved up front'), 'refused from the real request: nothing to explain');
});

test('a client shown as options.client, or held by `this`, is precise too', async () => {
  const client = wrapOpenAI(new OpenAI({ apiKey: 'x', baseURL: mock.openaiBase('reply=5'), maxRetries: 0 }));
  const closure = wflo.trackLlmCall(
    (prompt) => client.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: ask(prompt) }),
    { model: 'gpt-4o', client },
  );
  const agent = {
    llm: client,
    run: wflo.trackLlmCall(function (prompt) {
      return this.llm.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: ask(prompt) });
    }, { model: 'gpt-4o' }),
  };
  const wf = await memoryWorkflow('0.01', 'shown');
  await wf.execute(async () => {
    await closure('hello');
    await agent.run('hello');
  });
  const calls = await okCalls(wf);
  assert.equal(calls.length, 2);
  // Reserved from the requests (50 tokens of output), not gpt-4o's maximum: under $0.001 each.
  assert.ok(calls.every((c) => c.reservedNanos < 1_000_000), JSON.stringify(calls.map((c) => c.reservedNanos)));
});

test('a call the tracker cannot see is reserved up front, and the refusal says how to be precise', async () => {
  const url = `${mock.openaiBase('reply=5')}/chat/completions`;
  const viaFetch = wflo.trackLlmCall(async (prompt) => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 50, messages: ask(prompt) }),
    });
    return r.json();
  }, { model: 'gpt-4o' });

  const small = await memoryWorkflow('0.01', 'blind-small');
  const before = await requests();
  await assert.rejects(small.execute(() => viaFetch('hello')), (e) => {
    assert.ok(e instanceof wflo.BudgetExceededError);
    // The engine's one wording: how it was sized, how to do better.
    assert.match(e.message, /the model's maximum output \(16384 tokens\), as no max_tokens was given/);
    assert.match(e.message, /make the call through a client wflo meters/);
    return true;
  });
  assert.equal(await requests(), before, 'nothing sent: the maximum did not fit');

  const roomy = await memoryWorkflow(1, 'blind-roomy');
  const reply = await roomy.execute(() => viaFetch('hello'));
  const [call] = await okCalls(roomy);
  assert.ok(call.reservedNanos > 100_000_000, "gpt-4o's maximum output, reserved before sending");
  assert.equal(call.usage.output, reply.usage.completion_tokens);

  // A client shown but not wrapped makes nothing precise: still up front.
  const plain = new OpenAI({ apiKey: 'x', baseURL: mock.openaiBase('reply=5'), maxRetries: 0 });
  const unwrapped = wflo.trackLlmCall(
    (prompt) => plain.chat.completions.create({ model: 'gpt-4o', max_tokens: 50, messages: ask(prompt) }),
    { model: 'gpt-4o', client: plain, maxTokens: 50 },
  );
  const sized = await memoryWorkflow(1, 'sized');
  await sized.execute(() => unwrapped('hello'));
  const [up] = await okCalls(sized);
  // max_tokens 50 told to the tracker: reserved up front at 50 tokens of output.
  assert.ok(up.reservedNanos < 1_000_000 && up.reservedNanos > 0);
  const [refusedSized] = await (async () => {
    const tiny = await memoryWorkflow('0.0001', 'tiny');
    const out = [];
    await tiny.execute(() => unwrapped('hello')).catch((e) => out.push(e));
    return out;
  })();
  assert.match(refusedSized.message, /reserved max_tokens=50 of output; .* or give the tracker a smaller max_tokens/);
});
