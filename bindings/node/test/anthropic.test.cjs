'use strict';
// wrapAnthropic against `wflo mock-llm` with the real `@anthropic-ai/sdk`: cache pricing,
// streams (message_start + cumulative message_delta), refusals through MessageStream,
// failures, and calls outside any workflow.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Anthropic, APIPromise } = require('@anthropic-ai/sdk');
const wflo = require('..');
const { wrapAnthropic } = require('wflo/anthropic');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow, recordingFetch, eventually } = require('./helpers/llm.cjs');

const MODEL = 'claude-sonnet-4-6';
const ask = (content) => [{ role: 'user', content }];
const PROMPT = ask('Tell me, at some length, how a budget for language model calls should be enforced.');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

const client = (directives, clientOptions = {}, wrapOptions) =>
  wrapAnthropic(new Anthropic({ apiKey: 'test', baseURL: mock.anthropicBase(directives), maxRetries: 0, ...clientOptions }), wrapOptions);

/** Anthropic usage (input EXCLUDES cache reads and writes) in wflo's fields. */
const wfloUsage = (u) => ({
  input: u.input_tokens,
  output: u.output_tokens,
  cacheRead: u.cache_read_input_tokens ?? 0,
  cacheWrite5m: u.cache_creation?.ephemeral_5m_input_tokens ?? 0,
  cacheWrite1h: u.cache_creation?.ephemeral_1h_input_tokens ?? 0,
  reasoning: 0,
});
/** Requests the mock served (its "total" also counts each stream and error once more). */
const requests = async () => (await mock.stats()).messages ?? 0;

test('messages.create is settled with cache reads and writes priced at their own rates', async () => {
  const wf = await memoryWorkflow();
  const msg = await wf.execute(() =>
    client('cached=6,cache_write=5,cache_write_1h=4').messages.create({ model: MODEL, max_tokens: 200, system: 'You are terse.', messages: PROMPT }),
  );
  const usage = wfloUsage(msg.usage);
  assert.deepEqual([usage.cacheRead, usage.cacheWrite5m, usage.cacheWrite1h], [6, 5, 4]);
  assert.ok(usage.input > 0 && usage.output > 0);
  const p = wflo.price(MODEL).price;
  const pico = usage.input * p.input + usage.output * p.output + usage.cacheRead * p.cacheRead
    + usage.cacheWrite5m * p.cacheWrite5m + usage.cacheWrite1h * p.cacheWrite1h;
  const expected = Math.ceil(pico / 1000);
  assert.equal(wflo.cost(MODEL, usage).nanos, expected);
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, expected);
  assert.deepEqual([call.provider, call.status, call.stream, call.estimated], ['anthropic', 'ok', false, false]);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a streamed message is settled from message_start (input, cache) and the last message_delta (output)', async () => {
  const wf = await memoryWorkflow();
  const events = [];
  await wf.execute(async () => {
    const stream = await client('cached=6,cache_write=5,reply=40').messages.create({ model: MODEL, max_tokens: 200, messages: PROMPT, stream: true });
    for await (const event of stream) events.push(event);
  });
  const start = events.find((e) => e.type === 'message_start').message.usage;
  const delta = events.filter((e) => e.type === 'message_delta').pop().usage;
  const usage = wfloUsage({ ...start, output_tokens: delta.output_tokens });
  assert.ok(usage.output >= 35, 'the final output count, not the start one');
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, wflo.cost(MODEL, usage).nanos);
  assert.deepEqual([call.status, call.stream, call.estimated, call.usageMissing], ['ok', true, false, false]);
});

test('messages.stream() goes through the metered create', async () => {
  const wf = await memoryWorkflow();
  const message = await wf.execute(() => client('cached=2').messages.stream({ model: MODEL, max_tokens: 200, messages: PROMPT }).finalMessage());
  const [call] = await wf.calls();
  assert.equal(call.costNanos, wflo.cost(MODEL, wfloUsage(message.usage)).nanos);
  assert.deepEqual([call.status, call.stream, call.estimated], ['ok', true, false]);
});

test('a call that could overspend is refused before any request, and MessageStream hands on the same error', async () => {
  const wf = await memoryWorkflow(0.000001);
  const an = client();
  const body = { model: MODEL, max_tokens: 1000, messages: ask('hi') };
  const before = await requests();
  let emitted;
  const ways = {
    create: () => an.messages.create(body),
    'create stream': () => an.messages.create({ ...body, stream: true }),
    'messages.stream()': () => an.messages.stream(body).on('error', (e) => (emitted = e)).finalMessage(),
    'messages.parse()': () => an.messages.parse(body),
    withResponse: () => an.messages.create(body).withResponse(),
    asResponse: () => an.messages.create(body).asResponse(),
  };
  await wf.execute(async () => {
    for (const [way, call] of Object.entries(ways)) {
      const err = await call().then(() => null, (e) => e);
      assert.ok(err instanceof wflo.BudgetExceededError, `${way}: ${err}`);
      assert.ok(err instanceof Anthropic.AnthropicError, `${way}: an SDK error, not re-wrapped`);
      assert.equal(err.name, 'BudgetExceededError', way);
      assert.equal(err.code, 'BUDGET_EXCEEDED', way);
      assert.equal(err.budgetUsd, 0.000001, way);
      assert.ok(err.requestedUsd > err.budgetUsd, way);
    }
  });
  assert.ok(emitted instanceof wflo.BudgetExceededError && emitted.code === 'BUDGET_EXCEEDED', "MessageStream's error event");
  assert.equal(await requests(), before, 'no request reached the provider');
  const calls = await wf.calls();
  assert.equal(calls.length, Object.keys(ways).length);
  assert.ok(calls.every((c) => c.status === 'refused'));

  const wf2 = await memoryWorkflow(0.000001);
  await assert.rejects(wf2.execute(() => an.messages.stream(body).finalMessage()), wflo.BudgetExceededError);
  assert.equal((await wf2.breakdown()).status, 'budget_exceeded');
  assert.equal(await requests(), before);
});

test('the system prompt is counted, as a string or as blocks', async () => {
  // 2,000 tokens (+25% for Claude's estimated count) cost ~$0.0075; the budget allows $0.002.
  const long = 'budget '.repeat(2000);
  const wf = await memoryWorkflow(0.002);
  const an = client();
  const before = await requests();
  await wf.execute(async () => {
    await an.messages.create({ model: MODEL, max_tokens: 20, messages: ask('hi') });
    for (const system of [long, [{ type: 'text', text: long }]]) {
      await assert.rejects(an.messages.create({ model: MODEL, max_tokens: 20, system, messages: ask('hi') }), wflo.BudgetExceededError);
    }
  });
  assert.equal(await requests(), before + 1);
});

test('a request that asks for a cache write is reserved at the cache-write rate', async () => {
  const text = 'cache me '.repeat(300);
  const system = (cacheControl) => [{ type: 'text', text, ...(cacheControl && { cache_control: cacheControl }) }];
  const wf = await memoryWorkflow();
  const an = client();
  await wf.execute(async () => {
    for (const cc of [null, { type: 'ephemeral' }, { type: 'ephemeral', ttl: '1h' }]) {
      await an.messages.create({ model: MODEL, max_tokens: 20, system: system(cc), messages: ask('hi') });
    }
  });
  const [plain, fiveMinutes, oneHour] = (await wf.calls()).map((c) => c.reservedNanos);
  assert.ok(plain < fiveMinutes && fiveMinutes < oneHour, `${plain} < ${fiveMinutes} < ${oneHour}`);
});

test('the reservation cap is sent when a clamp lowers it; the caller body is untouched', async () => {
  const { fetch, bodies } = recordingFetch();
  const wf = await memoryWorkflow(0.001); // ~60 output tokens of claude-sonnet-4-6
  const body = { model: MODEL, max_tokens: 4000, messages: ask('hi') };
  const copy = structuredClone(body);
  await assert.rejects(wf.execute(() => client().messages.create(body)), wflo.BudgetExceededError);
  const wf2 = await memoryWorkflow(0.001);
  await wf2.execute(() => client(undefined, { fetch }, { clampMaxTokens: true }).messages.create(body));
  assert.ok(bodies[0].max_tokens > 16 && bodies[0].max_tokens < 100, `clamped to ${bodies[0].max_tokens}`);
  assert.deepEqual(body, copy);
  assert.equal((await wf2.calls())[0].status, 'ok');
});

test('a stream cut before its final usage is recorded estimated, usage missing, never free', async () => {
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    for await (const _ of await client('cut=usage,reply=30').messages.create({ model: MODEL, max_tokens: 200, messages: PROMPT, stream: true }));
  });
  const [call] = await wf.calls();
  assert.deepEqual([call.status, call.estimated, call.usageMissing], ['ok', true, true]);
  assert.ok(call.usage.input > 0 && call.usage.output >= 25, JSON.stringify(call.usage));
  assert.ok(call.costNanos > 0);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a consumer that stops early settles the call once, as aborted', async () => {
  const wf = await memoryWorkflow();
  const an = client('reply=60');
  const before = await requests();
  await wf.execute(async () => {
    const stream = await an.messages.create({ model: MODEL, max_tokens: 200, messages: PROMPT, stream: true });
    for await (const _ of stream) break;
    // Not `await helper.done()`: against the mock, a body read aborted this way can stay
    // pending in the platform's fetch (seen without wflo too); the call is settled at the abort.
    const helper = an.messages.stream({ model: MODEL, max_tokens: 200, messages: PROMPT });
    helper.on('text', () => helper.abort());
    helper.done().catch(() => {}); // the helper rejects with its abort
    await eventually(async () => (await wf.calls()).length === 2, 'the aborted helper to settle');
  });
  assert.equal(await requests(), before + 2);
  const calls = await wf.calls();
  assert.equal(calls.length, 2, 'one record per call');
  for (const c of calls) assert.ok(c.status === 'aborted' && c.costNanos > 0, 'aborted, the prompt billed');
  // Stopped at message_start: the output is estimated. (After abort() the SDK may still hand
  // on events it had buffered — up to the final usage — so the second may be exact.)
  assert.ok(calls[0].usageMissing && calls[0].estimated);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a stream that fails mid-way settles as error', async () => {
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    const helper = client('reset=2,reply=60').messages.stream({ model: MODEL, max_tokens: 200, messages: PROMPT });
    const err = await helper.finalMessage().then(() => null, (e) => e);
    assert.ok(err instanceof Anthropic.AnthropicError && !(err instanceof wflo.WfloError), String(err));
  });
  const [call] = await wf.calls();
  assert.deepEqual([call.status, call.estimated], ['error', true]);
  assert.ok(call.costNanos > 0);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test("provider errors release the reservation and reach the caller as the SDK's own errors; retries are one call", async () => {
  const wf = await memoryWorkflow();
  const body = { model: MODEL, max_tokens: 100, messages: ask('hi') };
  const before = await requests();
  await wf.execute(async () => {
    await assert.rejects(client('status=429').messages.create(body), Anthropic.RateLimitError);
    await assert.rejects(client('status=500').messages.stream(body).finalMessage(), Anthropic.InternalServerError);
    await assert.rejects(client('status=500', { maxRetries: 2 }).messages.create(body), Anthropic.InternalServerError);
  });
  assert.equal(await requests(), before + 1 + 1 + 3, 'the retried call reached the provider three times');
  const calls = await wf.calls();
  assert.equal(calls.length, 3, 'the retried call is one reservation');
  for (const c of calls) assert.deepEqual([c.status, c.costNanos], ['error', 0]);
  const b = await wf.breakdown();
  assert.deepEqual([b.reservedNanos, b.totalNanos], [0, 0]);
});

test('withResponse() and asResponse() keep working, and the call is settled', async () => {
  const wf = await memoryWorkflow();
  const an = client();
  await wf.execute(async () => {
    const { data, response, request_id } = await an.messages.create({ model: MODEL, max_tokens: 100, messages: ask('hi') }).withResponse();
    assert.equal(request_id, 'req_mock');
    assert.equal(response.status, 200);
    const raw = await an.messages.create({ model: MODEL, max_tokens: 100, messages: ask('hi'), stream: true }).asResponse();
    assert.match(await raw.text(), /message_stop/);
    await eventually(async () => (await wf.calls()).length === 2, 'the asResponse stream to settle');
    const [first] = await wf.calls();
    assert.equal(first.costNanos, wflo.cost(MODEL, wfloUsage(data.usage)).nanos);
  });
  const calls = await wf.calls();
  assert.ok(calls.every((c) => c.status === 'ok' && !c.estimated));
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('calls outside any workflow are untouched', async () => {
  const { fetch, bodies } = recordingFetch();
  const an = client(undefined, { fetch });
  const wf = await memoryWorkflow();
  await wf.start();
  const body = { model: MODEL, max_tokens: 100, messages: ask('hi') };
  const promise = an.messages.create(body);
  assert.ok(promise instanceof APIPromise, "the SDK's own promise");
  await promise;
  await an.messages.stream(body).finalMessage();
  assert.deepEqual(bodies, [body, { ...body, stream: true }], 'sent exactly as given');
  assert.equal((await wf.calls()).length, 0);
});
