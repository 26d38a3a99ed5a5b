'use strict';
// wrapGenAI against `wflo mock-llm` (Gemini's wire format) with the real `@google/genai`:
// what is recorded, what is refused before any request, and streams.
const test = require('node:test');
const assert = require('node:assert/strict');
const { GoogleGenAI } = require('@google/genai');
const wflo = require('..');
const { wrapGenAI } = require('wflo/genai');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow } = require('./helpers/llm.cjs');

const MODEL = 'gemini-2.5-flash';

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

/** A metered client on the mock; `directives` shape the mock's answers. */
const client = (directives, options) =>
  wrapGenAI(new GoogleGenAI({ apiKey: 'test', httpOptions: { baseUrl: directives ? `${mock.url}/mock/${directives}` : mock.url } }), options);

/** Gemini usage (prompt includes cached; thoughts apart from candidates) in wflo's fields. */
const usageOf = (u) => {
  const cached = u.cachedContentTokenCount ?? 0;
  return { input: u.promptTokenCount - cached, output: u.candidatesTokenCount ?? 0, cacheRead: cached, cacheWrite5m: 0, cacheWrite1h: 0, reasoning: u.thoughtsTokenCount ?? 0 };
};
const requests = async () => {
  const stats = await mock.stats();
  return Object.entries(stats).filter(([k]) => k !== 'total').reduce((n, [, v]) => n + v, 0);
};

test('generateContent is settled with its usageMetadata, priced by wflo', async () => {
  const wf = await memoryWorkflow();
  const ai = client('cached=5,reasoning=7');
  const res = await wf.execute(() => ai.models.generateContent({ model: MODEL, contents: 'Say something about budgets.', config: { maxOutputTokens: 200 } }));
  const usage = usageOf(res.usageMetadata);
  assert.ok(usage.cacheRead === 5 && usage.reasoning === 7 && usage.input > 0 && usage.output > 0, JSON.stringify(res.usageMetadata));
  const expected = wflo.cost(MODEL, usage).nanos;
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, expected);
  assert.deepEqual([call.status, call.stream, call.estimated], ['ok', false, false]);
  const b = await wf.breakdown();
  assert.equal(b.totalNanos, expected);
  assert.equal(b.reservedNanos, 0);
  assert.equal(typeof res.text, 'string', "the SDK's own response class");
});

test('a call that could overspend is refused before any request, unary and streamed', async () => {
  const wf = await memoryWorkflow(0.000001);
  const ai = client();
  const before = await requests();
  const params = { model: MODEL, contents: 'hi', config: { maxOutputTokens: 1000 } };
  await wf.execute(async () => {
    await assert.rejects(ai.models.generateContent(params), wflo.BudgetExceededError);
    await assert.rejects(ai.models.generateContentStream(params), wflo.BudgetExceededError);
    const chat = ai.chats.create({ model: MODEL, config: { maxOutputTokens: 1000 } });
    await assert.rejects(chat.sendMessage({ message: 'hi' }), wflo.BudgetExceededError);
  });
  assert.equal(await requests(), before, 'no request reached the provider');
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => c.status), ['refused', 'refused', 'refused']);
});

test('the reservation cap is sent when none was asked; a clamped cap replaces a larger ask', async () => {
  /** A metered client whose request bodies (as the SDK sends them) are kept in `sent`. */
  const recording = (options) => {
    const ai = client(undefined, options);
    const sent = [];
    const request = ai.apiClient.request.bind(ai.apiClient);
    ai.apiClient.request = (opts) => {
      sent.push(JSON.parse(opts.body));
      return request(opts);
    };
    return { ai, sent };
  };
  const plain = recording();
  const wf = await memoryWorkflow();
  const params = { model: MODEL, contents: 'hi' };
  await wf.execute(() => plain.ai.models.generateContent(params));
  assert.equal(plain.sent[0].generationConfig.maxOutputTokens, wflo.price(MODEL).price.maxOutput);
  assert.deepEqual(params, { model: MODEL, contents: 'hi' }, "the caller's parameters are not modified");
  // $0.0002 buys ~80 output tokens of gemini-2.5-flash: refused as asked, clamped under the policy.
  const ask = { model: MODEL, contents: 'hi', config: { maxOutputTokens: 60000 } };
  await assert.rejects((await memoryWorkflow(0.0002)).execute(() => plain.ai.models.generateContent(ask)), wflo.BudgetExceededError);
  const clamped = recording({ clampMaxTokens: true });
  const small = await memoryWorkflow(0.0002);
  await small.execute(() => clamped.ai.models.generateContent(ask));
  const cap = clamped.sent[0].generationConfig.maxOutputTokens;
  assert.ok(cap > 0 && cap < 200, `clamped to ${cap}`);
  assert.equal((await small.calls())[0].status, 'ok');
});

test('a stream is settled once with its usage; a stream cut before its usage is estimated', async () => {
  const wf = await memoryWorkflow();
  let last;
  let chunks = 0;
  await wf.execute(async () => {
    for await (const chunk of await client('reasoning=3').models.generateContentStream({ model: MODEL, contents: 'Stream me something.' })) {
      chunks++;
      if (chunk.usageMetadata) last = chunk.usageMetadata;
    }
  });
  assert.ok(chunks > 1);
  const calls = await wf.calls();
  assert.equal(calls.length, 1, 'one record for the stream');
  assert.deepEqual([calls[0].status, calls[0].stream, calls[0].estimated], ['ok', true, false]);
  assert.equal(calls[0].costNanos, wflo.cost(MODEL, usageOf(last)).nanos);

  const cut = await memoryWorkflow();
  await cut.execute(async () => {
    for await (const _ of await client('cut=usage,reply=30').models.generateContentStream({ model: MODEL, contents: 'hi' }));
  });
  const [c] = await cut.calls();
  assert.deepEqual([c.status, c.estimated, c.usageMissing], ['ok', true, true]);
  assert.ok(c.usage.output >= 25 && c.costNanos > 0, JSON.stringify(c.usage));

  const early = await memoryWorkflow();
  await early.execute(async () => {
    for await (const _ of await client('reply=60').models.generateContentStream({ model: MODEL, contents: 'hi' })) break;
  });
  const e = await early.calls();
  assert.equal(e.length, 1);
  assert.equal(e[0].status, 'aborted');
  assert.equal((await early.breakdown()).reservedNanos, 0);
});

test('provider errors release the reservation; calls outside any workflow are untouched', async () => {
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    await assert.rejects(client('status=429').models.generateContent({ model: MODEL, contents: 'hi' }));
  });
  const [call] = await wf.calls();
  assert.deepEqual([call.status, call.costNanos], ['error', 0]);
  assert.equal((await wf.breakdown()).reservedNanos, 0);

  const other = await memoryWorkflow();
  await other.start();
  const res = await client().models.generateContent({ model: MODEL, contents: 'hi' });
  assert.ok(res.usageMetadata.promptTokenCount > 0);
  assert.equal((await other.calls()).length, 0);
});
