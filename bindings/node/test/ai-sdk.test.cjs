'use strict';
// wflo/ai-sdk with the real Vercel AI SDK (`ai` + `@ai-sdk/openai`) against `wflo mock-llm`:
// refused before any request, settled from the provider's usage (generate: the result; stream:
// the finish part), estimated when usage is missing, released on errors, nothing left reserved.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { generateText, streamText, wrapLanguageModel, tool, jsonSchema } = require('ai');
const { createOpenAI } = require('@ai-sdk/openai');
const wflo = require('wflo');
const { wfloMiddleware } = require('wflo/ai-sdk');
const { startMock } = require('./helpers/mock.cjs');

const { Engine, WfloWorkflow, BudgetExceededError } = wflo;

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(() => mock.stop());

/** The mock's model behind wflo's middleware; `directives` like "cached=5". */
const model = (id = 'gpt-4o-mini', directives, options) =>
  wrapLanguageModel({
    model: createOpenAI({ baseURL: mock.openaiBase(directives), apiKey: 'mock' }).chat(id),
    middleware: wfloMiddleware(options),
  });

const workflow = async (budgetUsd, name = 'ai-sdk') => new WfloWorkflow({ name, budgetUsd, engine: await Engine.open('memory://') });

/** Chat-completions requests (streamed or not) the mock has received so far. The stats'
 * `total` is not that: it also counts the `.stream` and `status.N` annotations. */
const served = async () => (await mock.stats())['chat.completions'] ?? 0;

/** wflo usage from the provider's raw OpenAI usage (`result.usage.raw`). */
const fromOpenAi = (raw) => {
  const cached = raw.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = raw.completion_tokens_details?.reasoning_tokens ?? 0;
  return { input: raw.prompt_tokens - cached, cacheRead: cached, output: raw.completion_tokens - reasoning, reasoning };
};

/** Asserts a recorded call's usage and cost are the provider's, priced by wflo. */
function assertPriced(call, raw, modelName = 'gpt-4o-mini') {
  const usage = fromOpenAi(raw);
  assert.equal(call.usage.input, usage.input);
  assert.equal(call.usage.cacheRead, usage.cacheRead);
  assert.equal(call.usage.output, usage.output);
  assert.equal(call.costNanos, wflo.cost(modelName, usage).nanos);
  assert.equal(call.estimated, false);
  assert.equal(call.usageMissing, false);
  assert.equal(call.status, 'ok');
}

const history = [
  { role: 'user', content: 'Find three papers on BPE tokenizers.' },
  { role: 'assistant', content: 'Sennrich 2016, Kudo 2018 and Gallé 2019.' },
  { role: 'user', content: 'Summarise the first one in a sentence.' },
];

test('generateText: reserved as counted before the request, settled at the provider usage with cached tokens as cache reads', async () => {
  const wf = await workflow(0.01);
  const before = await served();
  const result = await wf.execute(() =>
    generateText({ model: model('gpt-4o-mini', 'cached=5'), system: 'You are terse.', messages: history, maxOutputTokens: 50, maxRetries: 0 }),
  );
  assert.equal(await served(), before + 1);
  const raw = result.usage.raw;
  assert.equal(raw.prompt_tokens_details.cached_tokens, 5);
  const [call] = await wf.calls();
  assertPriced(call, raw);
  assert.equal(call.usage.cacheRead, 5, 'cached tokens priced as cache reads');
  assert.equal(call.stream, false);
  assert.equal(call.provider, 'openai');
  assert.equal(call.requestedModel, 'gpt-4o-mini');
  // The prompt was counted exactly as the provider counts it (the mock counts with wflo's
  // tokenizer): the reservation was the prompt plus maxOutputTokens at full price.
  assert.equal(call.reservedNanos, wflo.cost('gpt-4o-mini', { input: raw.prompt_tokens, output: 50 }).nanos);
  const b = await wf.breakdown();
  assert.equal(b.status, 'completed');
  assert.equal(b.totalNanos, call.costNanos);
  assert.equal(b.reservedNanos, 0);
});

test('streamText: settled once from the finish part (not estimated), booked before onFinish runs', async () => {
  const wf = await workflow(0.05);
  const before = await served();
  let atFinish;
  const usage = await wf.execute(async (_, w) => {
    const s = streamText({
      model: model('gpt-4o-mini', 'cached=3,reply=40'),
      messages: history,
      maxRetries: 0,
      onFinish: async () => {
        atFinish = { reserved: (await w.breakdown()).reservedNanos, calls: (await w.calls()).length };
      },
    });
    let text = '';
    for await (const delta of s.textStream) text += delta;
    assert.ok(text.length > 0);
    return (await s.usage).raw;
  });
  assert.equal(await served(), before + 1);
  assert.deepEqual(atFinish, { reserved: 0, calls: 1 });
  const [call] = await wf.calls();
  assertPriced(call, usage);
  assert.equal(call.usage.cacheRead, 3);
  assert.equal(call.usage.output, 40);
  assert.equal(call.stream, true);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('generateText: a call that could overspend is refused with zero requests, and not retried', async () => {
  const wf = await workflow(0.01);
  const before = await served();
  const err = await wf
    .execute(async () => {
      await generateText({ model: model(), prompt: 'Say hello', maxOutputTokens: 20, maxRetries: 0 });
      // gpt-4o with 4,000 output tokens could cost $0.04: more than the $0.01 budget. The AI
      // SDK's default retries are on: a refusal is not an API error and is not retried.
      await generateText({ model: model('gpt-4o'), prompt: 'Write a long essay.', maxOutputTokens: 4000 });
    })
    .catch((e) => e);
  assert.ok(err instanceof BudgetExceededError, `got ${err}`);
  assert.equal(err.code, 'BUDGET_EXCEEDED');
  assert.equal(err.budgetUsd, 0.01);
  assert.ok(err.requestedUsd > 0.04);
  assert.equal(await served(), before + 1, 'only the first call reached the provider');
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => c.status), ['ok', 'refused']);
  const b = await wf.breakdown();
  assert.equal(b.status, 'budget_exceeded');
  assert.equal(b.refusedCalls, 1);
  assert.equal(b.totalNanos, calls[0].costNanos);
  assert.equal(b.reservedNanos, 0);
});

test('streamText: a refusal surfaces through onError and an error part, with zero requests', async () => {
  const wf = await workflow(0.01);
  const before = await served();
  const errors = [];
  const parts = await wf.execute(async () => {
    const s = streamText({
      model: model('gpt-4o'),
      prompt: 'Write a long essay.',
      maxOutputTokens: 4000,
      onError: ({ error }) => errors.push(error),
    });
    const seen = [];
    for await (const part of s.fullStream) seen.push(part);
    return seen;
  });
  assert.equal(await served(), before, 'no request reached the provider');
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof BudgetExceededError, `onError got ${errors[0]}`);
  const errorParts = parts.filter((p) => p.type === 'error');
  assert.equal(errorParts.length, 1);
  assert.ok(errorParts[0].error instanceof BudgetExceededError);
  assert.ok(!parts.some((p) => p.type === 'text-delta'));
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.stream]), [['refused', true]]);
  const b = await wf.breakdown();
  assert.equal(b.totalNanos, 0);
  assert.equal(b.reservedNanos, 0);
});

test('clampMaxTokens lowers maxOutputTokens to what the budget allows instead of refusing', async () => {
  const wf = await workflow(0.001);
  const before = await served();
  // Without a maxOutputTokens the worst case is gpt-4o-mini's full output (16,384 tokens,
  // about $0.0098): refused under a $0.001 budget…
  await wf.execute(async () => {
    await assert.rejects(generateText({ model: model(), prompt: 'Say hello', maxRetries: 0 }), BudgetExceededError);
  });
  assert.equal(await served(), before);
  // …sent with a lower max_tokens under the clamp policy.
  const wf2 = await workflow(0.001);
  const result = await wf2.execute(() =>
    generateText({ model: model('gpt-4o-mini', undefined, { clampMaxTokens: true }), prompt: 'Say hello', maxRetries: 0 }),
  );
  const sent = result.request.body.max_tokens;
  assert.ok(Number.isInteger(sent) && sent > 16 && sent < 16384, `max_tokens sent: ${sent}`);
  const [call] = await wf2.calls();
  assert.ok(call.reservedNanos <= 1_000_000);
  assertPriced(call, result.usage.raw);
  assert.equal((await wf2.breakdown()).reservedNanos, 0);
});

test('a stream that ends without usage is settled as an estimate, never as zero', async () => {
  const wf = await workflow(0.05);
  const text = await wf.execute(async () => {
    const s = streamText({ model: model('gpt-4o-mini', 'cut=usage,reply=30'), prompt: 'Say hello', maxOutputTokens: 100, maxRetries: 0 });
    return s.text;
  });
  const [call] = await wf.calls();
  assert.equal(call.estimated, true);
  assert.equal(call.usageMissing, true);
  assert.equal(call.status, 'ok');
  assert.equal(call.usage.output, wflo.countTokens('gpt-4o-mini', text).tokens);
  assert.equal(call.usage.input, wflo.countChatTokens('gpt-4o-mini', [{ role: 'user', content: 'Say hello' }]).tokens);
  assert.ok(call.costNanos > 0);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

test('a stream cut mid-way is settled as an estimate of what arrived; an abort leaves nothing reserved', async () => {
  const wf = await workflow(1);
  await wf.execute(async () => {
    const s = streamText({ model: model('gpt-4o-mini', 'reset=3,reply=200'), prompt: 'Say hello', maxRetries: 0, onError: () => {} });
    await assert.rejects(async () => {
      for await (const _ of s.fullStream); // eslint-disable-line no-unused-vars
    });
    // streamText stops reading on an abort without cancelling the model's stream: the
    // middleware reads that stream to its end (or its abort error) itself.
    const controller = new AbortController();
    const s2 = streamText({ model: model('gpt-4o-mini', 'reply=400'), prompt: 'Say hello', maxOutputTokens: 500, maxRetries: 0, abortSignal: controller.signal });
    try {
      for await (const delta of s2.textStream) if (delta) controller.abort();
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
  });
  // The abort settles when the model's stream errors or ends, or at the abort signal: maybe
  // just after execute returned.
  for (let i = 0; i < 1000 && (await wf.breakdown()).reservedNanos > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal((await wf.breakdown()).reservedNanos, 0);
  const [cut, aborted] = await wf.calls();
  assert.deepEqual([cut.status, cut.estimated, cut.stream], ['error', true, true]);
  assert.ok(cut.usage.output > 0 && cut.usage.output < 200, `output ${cut.usage.output}`);
  assert.equal(cut.costNanos, wflo.cost('gpt-4o-mini', cut.usage).nanos);
  // Cut by the abort: estimated from the text that arrived (all of it, at times, with the
  // final usage chunk lost); or, when the whole reply was read first, settled from its usage.
  if (aborted.status === 'aborted') {
    assert.ok(aborted.estimated && aborted.usage.output > 0 && aborted.usage.output <= 400, `output ${aborted.usage.output}`);
  } else {
    assert.deepEqual([aborted.status, aborted.estimated, aborted.usage.output], ['ok', false, 400]);
  }
  assert.equal(aborted.costNanos, wflo.cost('gpt-4o-mini', aborted.usage).nanos);
});

test('an HTTP error releases the reservation; each AI SDK retry is budgeted again', async () => {
  const wf = await workflow(0.05);
  const before = await served();
  const err = await wf
    .execute(() => generateText({ model: model('gpt-4o-mini', 'status=500'), prompt: 'Say hello', maxOutputTokens: 50, maxRetries: 2 }))
    .catch((e) => e);
  assert.ok(!(err instanceof BudgetExceededError));
  assert.equal(await served(), before + 3, 'the first attempt and two retries');
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.costNanos]), [['error', 0], ['error', 0], ['error', 0]]);
  const b = await wf.breakdown();
  assert.equal(b.status, 'failed');
  assert.equal(b.totalNanos, 0);
  assert.equal(b.reservedNanos, 0);
});

test('concurrent calls and workflows each carry their own reservation', async () => {
  const flows = await Promise.all([workflow(0.05, 'a'), workflow(0.05, 'b')]);
  // Each call asks for its own number of cached tokens: that finds its record again.
  const call = async (i, j) => {
    const request = {
      model: model('gpt-4o-mini', `reply=${10 + 10 * i + j},cached=${j}`),
      prompt: `Question ${i}.${j}: please say hello`,
      maxOutputTokens: 100,
      maxRetries: 0,
    };
    if (j % 2) return (await streamText(request).usage).raw;
    return (await generateText(request)).usage.raw;
  };
  const results = await Promise.all(flows.map((wf, i) => wf.execute(() => Promise.all([0, 1, 2, 3].map((j) => call(i, j))))));
  for (const [i, wf] of flows.entries()) {
    const calls = await wf.calls();
    assert.equal(calls.length, 4);
    assert.deepEqual(calls.map((c) => c.stream).sort(), [false, false, true, true]);
    const byCached = new Map(calls.map((c) => [c.usage.cacheRead, c]));
    for (const [j, raw] of results[i].entries()) {
      assert.equal(raw.prompt_tokens_details.cached_tokens, j);
      assertPriced(byCached.get(j), raw);
    }
    const b = await wf.breakdown();
    assert.equal(b.reservedNanos, 0);
    assert.equal(b.totalNanos, calls.reduce((s, c) => s + c.costNanos, 0));
  }
});

test('steps, an explicit workflow, and calls outside any workflow', async () => {
  const wf = await workflow(0.05);
  const before = await served();
  await wf.execute(() => wf.step('search', () => generateText({ model: model(), prompt: 'Search', maxOutputTokens: 30, maxRetries: 0 })));
  assert.equal((await wf.calls())[0].step, 'search');
  // Outside any workflow the call passes through untouched.
  const plain = await generateText({ model: model(), prompt: 'Hello', maxOutputTokens: 30, maxRetries: 0 });
  assert.ok(plain.text.length > 0);
  assert.equal((await wf.calls()).length, 1);
  // `workflow` charges that workflow wherever the call runs.
  const explicit = await workflow(0.05);
  await generateText({ model: model('gpt-4o-mini', undefined, { workflow: explicit }), prompt: 'Hello', maxOutputTokens: 30, maxRetries: 0 });
  const [call] = await explicit.calls();
  assert.equal(call.status, 'ok');
  assert.equal((await explicit.breakdown()).reservedNanos, 0);
  assert.equal(await served(), before + 3);
});

test('tool definitions count as input and a streamed tool call settles from its finish part', async () => {
  const wf = await workflow(0.05);
  const tools = {
    search: tool({
      description: 'Searches the literature for papers on a topic and returns their titles.',
      inputSchema: jsonSchema({ type: 'object', properties: { query: { type: 'string' } }, required: ['query'] }),
    }),
  };
  const raw = await wf.execute(async () => {
    const s = streamText({ model: model('gpt-4o-mini', 'tool=search'), prompt: 'Find papers on BPE', tools, maxOutputTokens: 200, maxRetries: 0 });
    const calls = await s.toolCalls;
    assert.equal(calls[0].toolName, 'search');
    return (await s.usage).raw;
  });
  const [call] = await wf.calls();
  assertPriced(call, raw);
  // The mock counts only the messages; the reservation also held the tool definitions.
  assert.ok(call.reservedNanos > wflo.cost('gpt-4o-mini', { input: raw.prompt_tokens, output: 200 }).nanos);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

/** Runs the middleware's hooks by hand around `stream`, as wrapLanguageModel does. */
async function hookStream(wf, stream, abortSignal) {
  const mw = wfloMiddleware({ workflow: wf });
  const m = { modelId: 'gpt-4o-mini', provider: 'openai.chat' };
  const prompt = [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }];
  const params = await mw.transformParams({ type: 'stream', params: { prompt, maxOutputTokens: 100, abortSignal }, model: m });
  const result = await mw.wrapStream({ doStream: async () => ({ stream }), doGenerate: async () => assert.fail(), params, model: m });
  return result.stream.getReader();
}

const parts = (list, end) =>
  new ReadableStream({
    pull(c) {
      if (list.length) c.enqueue(list.shift());
      else if (end === 'error') c.error(new Error('connection reset'));
      else if (end !== 'hang') c.close();
    },
  });

test('stream endings without a finish part: close or abort settles an estimate, cancel or error before output releases', async () => {
  const wf = await workflow(0.05);
  await wf.start();
  const drain = async (reader) => {
    for (;;) if ((await reader.read()).done) return;
  };
  // Closed without a finish part: the text that arrived is estimated.
  await drain(await hookStream(wf, parts([{ type: 'text-start', id: '1' }, { type: 'text-delta', id: '1', delta: 'Hello there, reader' }])));
  // Cancelled by the consumer before any output: nothing was generated, the budget comes back.
  const r2 = await hookStream(wf, parts([{ type: 'stream-start', warnings: [] }], 'hang'));
  await r2.read();
  await r2.cancel(new Error('user went away'));
  // Failed before any output: released as an error.
  await assert.rejects(drain(await hookStream(wf, parts([], 'error'))), /connection reset/);
  // A finish part settles once, even when more parts follow it.
  const usage = { inputTokens: { total: 9, noCache: 9, cacheRead: 0 }, outputTokens: { total: 4, text: 4, reasoning: 0 } };
  await drain(await hookStream(wf, parts([{ type: 'finish', usage, finishReason: 'stop' }, { type: 'finish', usage, finishReason: 'stop' }])));
  // Aborted while the provider stream hangs, neither ending nor failing: the abort signal
  // books what arrived, unread by anyone.
  const controller = new AbortController();
  await hookStream(wf, parts([{ type: 'text-delta', id: '1', delta: 'Partial answer' }], 'hang'), controller.signal);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await wf.calls()).length, 4, 'still running before the abort');
  controller.abort();
  await new Promise((r) => setTimeout(r, 20));
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.status, c.estimated, c.usage.output]), [
    ['ok', true, wflo.countTokens('gpt-4o-mini', 'Hello there, reader').tokens],
    ['aborted', false, 0],
    ['error', false, 0],
    ['ok', false, 4],
    ['aborted', true, wflo.countTokens('gpt-4o-mini', 'Partial answer').tokens],
  ]);
  assert.equal(calls[3].costNanos, wflo.cost('gpt-4o-mini', { input: 9, output: 4 }).nanos);
  assert.equal((await wf.breakdown()).reservedNanos, 0);
});

// The prompt is read by the engine (the `ai_sdk` request format), as every face reads it; the
// middleware hands it the call options whole, bytes as base64.
test('the whole prompt reaches the engine: text files, images, tool calls and results count; an unboundable file is refused', async () => {
  const wf = await workflow(0.5);
  await wf.start();
  const mw = wfloMiddleware({ workflow: wf });
  const m = { modelId: 'gpt-4o-mini', provider: 'openai.chat' };
  const reserve = async (prompt) => {
    const params = await mw.transformParams({ type: 'generate', params: { prompt, maxOutputTokens: 10 }, model: m });
    const settled = await mw.wrapGenerate({ doGenerate: async () => ({ content: [], usage: undefined }), doStream: async () => assert.fail(), params, model: m });
    assert.deepEqual(settled.content, []);
    return (await wf.calls()).at(-1).reservedNanos;
  };
  const plain = await reserve([{ role: 'user', content: [{ type: 'text', text: 'Look:' }] }]);
  const notes = 'notes '.repeat(400);
  const withFile = await reserve([
    { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'file', mediaType: 'text/plain', data: new TextEncoder().encode(notes) }] },
  ]);
  assert.ok(withFile > plain, `a text file counts: ${withFile} > ${plain}`);
  const withImage = await reserve([
    { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'file', mediaType: 'image/png', data: 'iVBORw0KGgo=' }] },
  ]);
  // An image is held at gpt-4o-mini's documented maximum for one image (48,169 tokens, high detail).
  assert.ok(withImage - plain >= wflo.cost('gpt-4o-mini', { input: 48_000 }).nanos, `an image counts: ${withImage - plain}`);
  const withTools = await reserve([
    { role: 'user', content: [{ type: 'text', text: 'Look:' }] },
    { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'search', input: { q: 'bpe tokenizers' } }] },
    { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'search', output: { type: 'json', value: ['Sennrich 2016'] } }] },
  ]);
  assert.ok(withTools > plain, `tool calls and results count: ${withTools} > ${plain}`);
  // A PDF's tokens cannot be bounded before the call: refused under a budget, nothing sent.
  await assert.rejects(
    mw.transformParams({ type: 'generate', params: { prompt: [{ role: 'user', content: [{ type: 'file', mediaType: 'application/pdf', data: 'JVBERi0=' }] }] }, model: m }),
    wflo.InvalidArgumentError,
  );
  assert.equal((await wf.breakdown()).reservedNanos, 0);
  assert.throws(() => wfloMiddleware({ fileTokens: -1 }), wflo.InvalidArgumentError);
  assert.throws(() => wfloMiddleware({ workflow: {} }), wflo.InvalidArgumentError);
});

test('the ESM entry exports the same middleware (one declaration file serves both)', async () => {
  const esm = await import('wflo/ai-sdk');
  assert.equal(esm.wfloMiddleware, wfloMiddleware);
  assert.equal(esm.default.wfloMiddleware, wfloMiddleware);
  assert.equal(wfloMiddleware().specificationVersion, 'v3');
});

test("the middleware's declared type is what the AI SDK's wrapLanguageModel takes", async () => {
  // Checked here, where `ai` is installed (the package's own types must not need it).
  const dir = fs.mkdtempSync(path.join(__dirname, '..', '.tsc-ai-sdk-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'check.mts'),
      `import { wrapLanguageModel, type LanguageModelMiddleware } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { wfloMiddleware } from 'wflo/ai-sdk';
import { WfloWorkflow } from 'wflo';
const middleware: LanguageModelMiddleware = wfloMiddleware({ workflow: new WfloWorkflow(), clampMaxTokens: true });
export const model = wrapLanguageModel({ model: createOpenAI({ apiKey: 'x' }).chat('gpt-4o-mini'), middleware: [wfloMiddleware(), middleware] });
`,
    );
    const tsc = path.join(__dirname, '..', 'node_modules', '.bin', 'tsc');
    // skipLibCheck: the AI SDK's own declarations want @types/node, which this package does not install.
    const args = ['--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', '--skipLibCheck', path.join(dir, 'check.mts')];
    const { code, out } = await new Promise((resolve) =>
      require('node:child_process').execFile(tsc, args, { cwd: dir }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr })),
    );
    assert.equal(code, 0, out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
