'use strict';
// A provider slower than the client's timeout, through wrapOpenAI and the real `openai` SDK
// against `wflo mock-llm` (latency=MS). The client gives up; wflo must then hold nothing,
// record the call once as an error that cost nothing, and keep the books balanced to the
// nano-USD. (429/500, resets, cut streams and retried errors are in openai.test.cjs.)
const test = require('node:test');
const assert = require('node:assert/strict');
const { OpenAI } = require('openai');
const wflo = require('..');
const { wrapOpenAI } = require('wflo/openai');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow } = require('./helpers/llm.cjs');

const MODEL = 'gpt-4o-mini';
const ask = [{ role: 'user', content: 'Is anyone there?' }];
const TIMEOUT_MS = 300;

let mock;
test.before(async () => {
  mock = await startMock();
  wflo.countChatTokens(MODEL, ask); // the tokenizer's first load is not the provider's time
});
test.after(() => mock.stop());

/** A metered client whose provider answers after 2 s, and which gives up after 300 ms. */
const slowClient = (options = {}) =>
  wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase('latency=2000'), timeout: TIMEOUT_MS, maxRetries: 0, ...options }));

/** Nothing reserved, no overrun, the total is the sum of the records, to the nano-USD. */
async function balanced(wf) {
  const calls = await wf.calls();
  const b = await wf.breakdown();
  assert.equal(b.reservedNanos, 0, 'a reservation was left held');
  assert.equal(b.overrunNanos, 0);
  assert.equal(b.totalNanos, calls.reduce((n, c) => n + c.costNanos, 0));
  assert.equal(b.remainingNanos, b.budgetNanos - b.totalNanos);
  return calls;
}

function assertReleased(call, stream) {
  assert.deepEqual([call.status, call.costNanos, call.stream], ['error', 0, stream]);
  assert.match(call.error ?? '', /timed out|timeout/i);
}

for (const stream of [false, true]) {
  test(`a ${stream ? 'stream' : 'response'} slower than the client's timeout is released`, async () => {
    const wf = await memoryWorkflow();
    const oa = slowClient();
    const started = Date.now();
    await wf.execute(() =>
      assert.rejects(oa.chat.completions.create({ model: MODEL, messages: ask, stream }), OpenAI.APIConnectionTimeoutError),
    );
    const waited = Date.now() - started;
    assert.ok(waited < 1500, `the client waited ${waited} ms for a provider it had given up on`);
    const calls = await balanced(wf);
    assert.equal(calls.length, 1);
    assertReleased(calls[0], stream);
  });
}

test('timeouts the SDK retries are one metered call', async () => {
  // The SDK retries a timeout inside the create() wflo meters: one reservation, one record.
  const wf = await memoryWorkflow();
  const before = (await mock.stats())['chat.completions'] ?? 0;
  await wf.execute(() =>
    assert.rejects(slowClient({ maxRetries: 1 }).chat.completions.create({ model: MODEL, messages: ask }), OpenAI.APIConnectionTimeoutError),
  );
  assert.equal(((await mock.stats())['chat.completions'] ?? 0) - before, 2, 'the SDK did not retry');
  const calls = await balanced(wf);
  assert.equal(calls.length, 1);
  assertReleased(calls[0], false);
});
