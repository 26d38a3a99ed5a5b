'use strict';
// wrapOpenAI against `wflo mock-llm` with the real `openai` SDK: what is recorded, what is
// refused before any request, streams, failures, and calls outside any workflow.
const test = require('node:test');
const assert = require('node:assert/strict');
const { OpenAI, APIPromise } = require('openai');
const wflo = require('..');
const { wrapOpenAI } = require('wflo/openai');
const { startMock } = require('./helpers/mock.cjs');
const { memoryWorkflow, recordingFetch, eventually } = require('./helpers/llm.cjs');

const MODEL = 'gpt-4o-mini';
const ask = (content) => [{ role: 'user', content }];

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

/** A metered client on the mock; `directives` shape the mock's answers. */
const client = (directives, clientOptions = {}, wrapOptions) =>
  wrapOpenAI(new OpenAI({ apiKey: 'test', baseURL: mock.openaiBase(directives), maxRetries: 0, ...clientOptions }), wrapOptions);

/** Chat usage (prompt includes cached, completion includes reasoning) in wflo's disjoint fields. */
const chatUsage = (u) => {
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
  return { input: u.prompt_tokens - cached, output: u.completion_tokens - reasoning, cacheRead: cached, cacheWrite5m: 0, cacheWrite1h: 0, reasoning };
};
const responsesUsage = (u) => {
  const cached = u.input_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.output_tokens_details?.reasoning_tokens ?? 0;
  return { input: u.input_tokens - cached, output: u.output_tokens - reasoning, cacheRead: cached, cacheWrite5m: 0, cacheWrite1h: 0, reasoning };
};
/** Requests the mock served (its "total" also counts each stream and error once more). */
const requests = async (kinds = ['chat.completions', 'responses']) => {
  const stats = await mock.stats();
  return [].concat(kinds).reduce((n, k) => n + (stats[k] ?? 0), 0);
};

test('chat.completions.create is settled with the usage the provider reported, priced by wflo', async () => {
  const wf = await memoryWorkflow();
  const oa = client('cached=5,reasoning=7');
  const res = await wf.execute(() => oa.chat.completions.create({ model: MODEL, messages: ask('Say something about budgets.'), max_completion_tokens: 200 }));
  const usage = chatUsage(res.usage);
  assert.ok(usage.cacheRead === 5 && usage.reasoning === 7 && usage.input > 0, JSON.stringify(res.usage));
  const expected = wflo.cost(MODEL, usage).nanos;
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, expected);
  assert.deepEqual([call.provider, call.status, call.stream, call.estimated], ['openai', 'ok', false, false]);
  const b = await wf.breakdown();
  assert.equal(b.totalNanos, expected);
  assert.equal(b.reservedNanos, 0);
  assert.equal(res._request_id, 'req_mock', 'the SDK still adds its request id');
});

test('the reservation cap is sent when none was asked, a clamped cap replaces a larger ask, the caller body is untouched', async () => {
  const maxOutput = wflo.price(MODEL).price.maxOutput;
  const { fetch, bodies } = recordingFetch();
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    const oa = client(undefined, { fetch });
    const body = { model: MODEL, messages: ask('hi') };
    const copy = structuredClone(body);
    await oa.chat.completions.create(body);
    assert.deepEqual(body, copy, 'the caller body is not modified');
    await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), max_tokens: 50 });
    await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), n: 2 });
    await oa.responses.create({ model: MODEL, input: 'hi' });
  });
  assert.equal(bodies[0].max_completion_tokens, maxOutput);
  assert.equal(bodies[1].max_tokens, 50, 'an ask the budget covers is sent as it is');
  assert.equal('max_completion_tokens' in bodies[1], false);
  // Each of n choices may use the model's whole output: n times it is reserved (the engine's
  // rule for every face), and the per-choice limit sent is the model's maximum.
  assert.equal(bodies[2].max_completion_tokens, maxOutput, 'each of n choices may use the whole cap');
  assert.ok((await wf.calls())[2].reservedNanos >= wflo.cost(MODEL, { output: 2 * maxOutput }).nanos, 'n × the cap is reserved');
  assert.equal(bodies[3].max_output_tokens, maxOutput);

  // $0.0001 buys ~160 output tokens of gpt-4o-mini: refused as asked, clamped under the policy.
  const ask10k = { model: MODEL, messages: ask('hi'), max_completion_tokens: 10000 };
  const strict = await memoryWorkflow(0.0001);
  await assert.rejects(strict.execute(() => client().chat.completions.create(ask10k)), wflo.BudgetExceededError);
  const clamped = recordingFetch();
  const wf2 = await memoryWorkflow(0.0001);
  await wf2.execute(() => client(undefined, { fetch: clamped.fetch }, { clampMaxTokens: true }).chat.completions.create(ask10k));
  const sent = clamped.bodies[0].max_completion_tokens;
  assert.ok(sent > 16 && sent < 200, `clamped to ${sent}`);
  const [call] = await wf2.calls();
  assert.equal(call.status, 'ok');
  assert.ok(call.reservedNanos <= 100_000);
});

test('responses.create counts instructions and input, and is settled with its usage', async () => {
  const wf = await memoryWorkflow();
  const oa = client('cached=5,reasoning=7');
  const res = await wf.execute(() => oa.responses.create({ model: MODEL, instructions: 'Be brief.', input: 'Tell me about budgets.', max_output_tokens: 300 }));
  const usage = responsesUsage(res.usage);
  const [call] = await wf.calls();
  assert.deepEqual(call.usage, usage);
  assert.equal(call.costNanos, wflo.cost(MODEL, usage).nanos);
  assert.equal(call.status, 'ok');
  assert.equal(typeof res.output_text, 'string', "the SDK's own transform still runs");

  // 2,000 tokens of prompt cost $0.0003; the budget allows $0.00005: only a prompt that is
  // actually counted — instructions, a string input, input items — gets refused.
  const long = 'budget '.repeat(2000);
  const small = await memoryWorkflow(0.00005);
  const before = await requests('responses');
  await small.execute(async () => {
    await oa.responses.create({ model: MODEL, input: 'hi', max_output_tokens: 10 });
    for (const body of [
      { instructions: long, input: 'hi' },
      { input: long },
      { input: [{ role: 'user', content: [{ type: 'input_text', text: long }] }] },
    ]) {
      await assert.rejects(oa.responses.create({ model: MODEL, max_output_tokens: 10, ...body }), wflo.BudgetExceededError);
    }
  });
  assert.equal(await requests('responses'), before + 1);
});

test('a call that could overspend is refused before any request, whichever way it is made', async () => {
  const wf = await memoryWorkflow(0.000001);
  const oa = client();
  const chat = { model: MODEL, messages: ask('hi'), max_completion_tokens: 1000 };
  const resp = { model: MODEL, input: 'hi', max_output_tokens: 1000 };
  const before = await requests();
  const ways = {
    create: () => oa.chat.completions.create(chat),
    'create stream': () => oa.chat.completions.create({ ...chat, stream: true }),
    'chat .stream()': () => oa.chat.completions.stream(chat).finalChatCompletion(),
    'chat .parse()': () => oa.chat.completions.parse(chat),
    withResponse: () => oa.chat.completions.create(chat).withResponse(),
    asResponse: () => oa.chat.completions.create(chat).asResponse(),
    'responses.create': () => oa.responses.create(resp),
    'responses.create stream': () => oa.responses.create({ ...resp, stream: true }),
    'responses .stream()': () => oa.responses.stream(resp).finalResponse(),
  };
  await wf.execute(async () => {
    for (const [way, call] of Object.entries(ways)) {
      const err = await call().then(() => null, (e) => e);
      assert.ok(err instanceof wflo.BudgetExceededError, `${way}: ${err}`);
      assert.ok(err instanceof wflo.WfloError, way);
      assert.ok(err instanceof OpenAI.OpenAIError, `${way}: an SDK error, so stream helpers hand it on as it is`);
      assert.equal(err.code, 'BUDGET_EXCEEDED', way);
      assert.equal(err.budgetUsd, 0.000001, way);
      assert.ok(err.requestedUsd > err.budgetUsd, way);
      assert.ok(err.cause instanceof wflo.BudgetExceededError, way);
    }
  });
  assert.equal(await requests(), before, 'no request reached the provider');
  const calls = await wf.calls();
  assert.equal(calls.length, Object.keys(ways).length);
  assert.ok(calls.every((c) => c.status === 'refused'));

  // Not caught: the execution ends budget_exceeded, as with any refusal.
  const wf2 = await memoryWorkflow(0.000001);
  await assert.rejects(wf2.execute(() => oa.chat.completions.stream(chat).finalChatCompletion()), wflo.BudgetExceededError);
  assert.equal((await wf2.breakdown()).status, 'budget_exceeded');
  assert.equal(await requests(), before);
});

test('a chat stream asks for its usage itself and is recorded exactly; the usage chunk reaches only callers who asked', async () => {
  const { fetch, bodies } = recordingFetch();
  const oa = client('cached=3,reasoning=2', { fetch });
  const wf = await memoryWorkflow();
  const messages = ask('Stream me something.');
  let plain;
  const seen = [];
  let asked;
  await wf.execute(async () => {
    plain = await oa.chat.completions.create({ model: MODEL, messages });
    const stream = await oa.chat.completions.create({ model: MODEL, messages, stream: true });
    for await (const chunk of stream) seen.push(chunk);
    const withUsage = await oa.chat.completions.create({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of withUsage) asked = chunk;
  });
  assert.deepEqual(bodies[1].stream_options, { include_usage: true });
  assert.ok(seen.length > 2 && seen.every((c) => c.choices.length === 1), 'no usage-only chunk for a caller who did not ask');
  assert.ok(asked.usage && asked.choices.length === 0, 'the caller who asked gets it');
  const [, streamed, second] = await wf.calls();
  for (const call of [streamed, second]) {
    assert.deepEqual([call.status, call.stream, call.estimated, call.usageMissing], ['ok', true, false, false]);
    assert.deepEqual(call.usage, chatUsage(plain.usage), 'the same usage as the same call unstreamed');
    assert.equal(call.costNanos, wflo.cost(MODEL, chatUsage(asked.usage)).nanos);
  }
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('the .stream() helpers are metered: chat and responses', async () => {
  const oa = client('reasoning=4');
  const wf = await memoryWorkflow();
  let completion;
  let response;
  await wf.execute(async () => {
    const chat = oa.chat.completions.stream({ model: MODEL, messages: ask('hi'), stream_options: { include_usage: true } });
    completion = await chat.finalChatCompletion();
    response = await oa.responses.stream({ model: MODEL, input: 'hi' }).finalResponse();
  });
  const [c1, c2] = await wf.calls();
  assert.equal(c1.costNanos, wflo.cost(MODEL, chatUsage(completion.usage)).nanos);
  assert.equal(c2.costNanos, wflo.cost(MODEL, responsesUsage(response.usage)).nanos);
  for (const c of [c1, c2]) assert.deepEqual([c.status, c.stream, c.estimated], ['ok', true, false]);
});

test('a stream cut before its usage is recorded estimated, usage missing, never free', async () => {
  const oa = client('cut=usage,reply=30');
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    for await (const _ of await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), stream: true }));
    for await (const _ of await oa.responses.create({ model: MODEL, input: 'hi', stream: true }));
  });
  const calls = await wf.calls();
  assert.equal(calls.length, 2);
  for (const c of calls) {
    assert.deepEqual([c.status, c.estimated, c.usageMissing], ['ok', true, true]);
    assert.ok(c.usage.input > 0 && c.usage.output >= 25, JSON.stringify(c.usage));
    assert.ok(c.costNanos > 0);
  }
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a consumer that stops early settles the call once, as aborted', async () => {
  const oa = client('reply=60');
  const wf = await memoryWorkflow();
  const before = await requests();
  await wf.execute(async () => {
    const s1 = await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), stream: true });
    for await (const _ of s1) break;
    // Aborted, and never touched again: nothing but the abort can end this call.
    const s2 = await oa.responses.create({ model: MODEL, input: 'hi', stream: true });
    const events = s2[Symbol.asyncIterator]();
    await events.next();
    await events.next();
    s2.controller.abort();
    const helper = oa.chat.completions.stream({ model: MODEL, messages: ask('hi') });
    helper.on('content', () => helper.abort());
    helper.done().catch(() => {}); // the helper rejects with its abort
    await eventually(async () => (await wf.calls()).length === 3, 'the aborted helper to settle');
  });
  assert.equal(await requests(), before + 3);
  const calls = await wf.calls();
  assert.equal(calls.length, 3, 'one record per call');
  for (const c of calls) assert.ok(c.status === 'aborted' && c.costNanos > 0, 'aborted, the prompt billed');
  // Stopped at the first chunk: estimated. (After abort() the SDK may still hand on chunks it
  // had buffered — up to the usage — so the others may be exact.)
  assert.ok(calls[0].usageMissing && calls[0].estimated);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a stream that fails mid-way settles as error with what it streamed', async () => {
  const oa = client('reset=2,reply=60');
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    const stream = await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().then(() => null, (e) => e);
    assert.ok(err && !(err instanceof wflo.WfloError), `the transport's own error reaches the caller: ${err}`);
  });
  const [call] = await wf.calls();
  assert.deepEqual([call.status, call.estimated, call.usageMissing], ['error', true, true]);
  assert.ok(call.costNanos > 0);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test("provider errors release the reservation and reach the caller as the SDK's own errors", async () => {
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    await assert.rejects(client('status=429').chat.completions.create({ model: MODEL, messages: ask('hi') }), OpenAI.RateLimitError);
    await assert.rejects(client('status=500').chat.completions.create({ model: MODEL, messages: ask('hi'), stream: true }), OpenAI.InternalServerError);
    await assert.rejects(client('status=429').responses.stream({ model: MODEL, input: 'hi' }).finalResponse(), OpenAI.RateLimitError);
  });
  const calls = await wf.calls();
  assert.equal(calls.length, 3);
  for (const c of calls) {
    assert.deepEqual([c.status, c.costNanos], ['error', 0]);
    assert.match(c.error, /429|500/);
  }
  const b = await wf.breakdown();
  assert.deepEqual([b.reservedNanos, b.totalNanos, b.status], [0, 0, 'completed']);
});

test('a call the SDK retries is reserved once and released once', async () => {
  const wf = await memoryWorkflow();
  const before = await requests('chat.completions');
  await wf.execute(async () => {
    const oa = client('status=500', { maxRetries: 2 });
    await assert.rejects(oa.chat.completions.create({ model: MODEL, messages: ask('hi') }), OpenAI.InternalServerError);
  });
  assert.equal(await requests('chat.completions'), before + 3, 'three attempts reached the provider');
  const calls = await wf.calls();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].status, 'error');
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('withResponse() and asResponse() keep working, and the call is settled', async () => {
  const oa = client();
  const wf = await memoryWorkflow();
  await wf.execute(async () => {
    const { data, response, request_id } = await oa.chat.completions.create({ model: MODEL, messages: ask('hi') }).withResponse();
    assert.equal(request_id, 'req_mock');
    assert.equal(response.status, 200);
    assert.ok(data.usage.prompt_tokens > 0);

    const raw = await oa.chat.completions.create({ model: MODEL, messages: ask('hi there') }).asResponse();
    const body = await raw.json();
    await eventually(async () => (await wf.calls()).length === 2, 'the asResponse call to settle');
    const calls = await wf.calls();
    assert.equal(calls[0].costNanos, wflo.cost(MODEL, chatUsage(data.usage)).nanos);
    assert.equal(calls[1].costNanos, wflo.cost(MODEL, chatUsage(body.usage)).nanos);

    const streamed = await oa.chat.completions.create({ model: MODEL, messages: ask('hi'), stream: true }).withResponse();
    for await (const _ of streamed.data);
    const parsed = await oa.chat.completions.parse({ model: MODEL, messages: ask('hi') });
    assert.equal(parsed.choices[0].message.parsed, null);
  });
  const calls = await wf.calls();
  assert.equal(calls.length, 4);
  assert.ok(calls.every((c) => c.status === 'ok' && !c.estimated));
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a reply without usage is settled from its text, flagged, never free', async () => {
  const stripUsage = async (url, init) => {
    const res = await globalThis.fetch(url, init);
    const json = await res.json();
    delete json.usage;
    return new Response(JSON.stringify(json), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
  const wf = await memoryWorkflow();
  await wf.execute(() => client('reply=40', { fetch: stripUsage }).chat.completions.create({ model: MODEL, messages: ask('hi') }));
  const [call] = await wf.calls();
  assert.deepEqual([call.status, call.estimated, call.usageMissing], ['ok', true, true]);
  assert.ok(call.usage.output >= 35 && call.costNanos > 0, JSON.stringify(call.usage));
});

test('calls outside any workflow are untouched', async () => {
  const { fetch, bodies } = recordingFetch();
  const oa = client(undefined, { fetch });
  const wf = await memoryWorkflow();
  await wf.start();
  const body = { model: MODEL, messages: ask('hi'), stream: true };
  const promise = oa.chat.completions.create(body);
  assert.ok(promise instanceof APIPromise, "the SDK's own promise");
  for await (const _ of await promise);
  await oa.responses.create({ model: MODEL, input: 'hi' });
  assert.deepEqual(bodies, [body, { model: MODEL, input: 'hi' }], 'sent exactly as given');
  assert.equal((await wf.calls()).length, 0);
});

test('steps, withOptions() clones and a second wrap', async () => {
  const oa = wrapOpenAI(client());
  const wf = await memoryWorkflow();
  await wf.execute(async (_, w) => {
    await w.step('draft', () => oa.chat.completions.create({ model: MODEL, messages: ask('hi') }));
    await oa.withOptions({ timeout: 5000 }).chat.completions.create({ model: MODEL, messages: ask('hi') });
  });
  const calls = await wf.calls();
  assert.equal(calls.length, 2, 'wrapping twice meters once');
  assert.equal(calls[0].step, 'draft');
  assert.equal(calls[1].status, 'ok');
});
