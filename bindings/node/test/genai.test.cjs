'use strict';
// wrapGenAI against `wflo mock-llm` (Gemini's wire format) with the real `@google/genai`:
// what is recorded, what is refused before any request, streams, Gemini's long-context tier
// (billed and reserved at its prices), and the README's example (examples/node/frameworks/genai.mjs).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
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

// Gemini's long-context tier: gemini-2.5-pro bills every token of a prompt over 200k tokens
// at its tier's prices, and the reservation must cover that before the request is sent.
const TIERED = 'gemini-2.5-pro';
const LONG_PROMPT = 'word '.repeat(200_100); // a token a word for wflo and the mock: over the tier
const nanos = (picos) => Math.ceil(picos / 1000); // the engine rounds up to a whole nano-USD
const tierOf = (model) => {
  const { price } = wflo.price(model);
  assert.equal(price.tiers.length, 1);
  return { base: price, tier: price.tiers[0] };
};

for (const stream of [false, true]) {
  test(`a prompt over the tier is billed and reserved at the tier's prices (${stream ? 'stream' : 'generateContent'})`, async () => {
    const { base, tier } = tierOf(TIERED);
    assert.ok(tier.above === 200_000 && tier.input > base.input && tier.output > base.output);
    const wf = await memoryWorkflow(2);
    const ai = client('cached=1000,reasoning=7,reply=9');
    const params = { model: TIERED, contents: LONG_PROMPT, config: { maxOutputTokens: 200 } };
    const meta = await wf.execute(async () => {
      if (!stream) return (await ai.models.generateContent(params)).usageMetadata;
      let last;
      for await (const chunk of await ai.models.generateContentStream(params)) last = chunk.usageMetadata ?? last;
      return last;
    });
    assert.ok(meta.promptTokenCount > tier.above, JSON.stringify(meta));
    const usage = usageOf(meta);
    const [call] = await wf.calls();
    assert.deepEqual([call.model, call.stream, call.estimated], [TIERED, stream, false]);
    assert.deepEqual(call.usage, usage);
    // Every token at the tier's rate (thoughts at the output rate): the ledger to the nano-USD.
    const atTier = nanos(usage.input * tier.input + usage.cacheRead * tier.cacheRead + (usage.output + usage.reasoning) * tier.output);
    const atBase = nanos(usage.input * base.input + usage.cacheRead * base.cacheRead + (usage.output + usage.reasoning) * base.output);
    assert.equal(call.costNanos, atTier);
    assert.equal(wflo.cost(TIERED, usage).nanos, atTier);
    assert.ok(atTier > atBase * 1.5);
    assert.equal((await wf.breakdown()).totalNanos, atTier);
    // The reservation covered the tier: the whole prompt and the output limit at its prices.
    assert.ok(call.reservedNanos >= nanos(meta.promptTokenCount * tier.input + 200 * tier.output), `reserved ${call.reservedNanos}`);
  });
}

test('a budget that base prices would fit refuses a prompt over the tier, before any request', async () => {
  const { base, tier } = tierOf(TIERED);
  const prompt = 200_100; // at least: a token a word
  const budgetNanos = Math.floor((nanos(prompt * base.input + 200 * base.output) * 3) / 2);
  assert.ok(budgetNanos < nanos(prompt * tier.input + 200 * tier.output));
  const ai = client();
  const before = await requests();
  const wf = await memoryWorkflow(budgetNanos / 1e9);
  await assert.rejects(
    wf.execute(() => ai.models.generateContent({ model: TIERED, contents: LONG_PROMPT, config: { maxOutputTokens: 200 } })),
    wflo.BudgetExceededError,
  );
  assert.equal(await requests(), before, 'no request reached the provider');
  const [refused, ...others] = await wf.calls();
  assert.deepEqual([refused.status, refused.costNanos, others.length], ['refused', 0, 0]);
  assert.ok(refused.reservedNanos >= nanos(prompt * tier.input + 200 * tier.output), 'what it needed: the tier prices');
  // Under the tier the same budget goes through.
  const ok = await memoryWorkflow(budgetNanos / 1e9);
  await ok.execute(() => ai.models.generateContent({ model: TIERED, contents: 'word '.repeat(1000), config: { maxOutputTokens: 200 } }));
  assert.equal((await ok.calls())[0].status, 'ok');
});

test("the README's Gen AI example runs against the mock: two calls settled, the long report refused at the tier", async () => {
  const example = path.join(__dirname, '..', '..', '..', 'examples', 'node', 'frameworks', 'genai.mjs');
  const before = await mock.stats();
  // Run as an application's module: from the package directory, where 'wflo' (the package's
  // own name) and '@google/genai' resolve.
  const out = spawnSync(process.execPath, ['--input-type=module'], {
    cwd: path.join(__dirname, '..'),
    input: fs.readFileSync(example, 'utf8'),
    env: { ...process.env, WFLO_GEMINI_BASE_URL: mock.url },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(out.status, 0, out.stderr);
  const [refusal, ...calls] = out.stdout.trim().split('\n');
  const needed = Number(/^long report refused: needs up to \$(\d+\.\d\d)$/.exec(refusal)[1]);
  const { base, tier } = tierOf(TIERED);
  assert.ok(needed > 0.5 && needed >= (200_000 * tier.input) / 1e12, refusal);
  // At base prices its worst case would have fitted the $0.50 budget.
  assert.ok((needed + 0.005) * Math.max(base.input / tier.input, base.output / tier.output) < 0.5, refusal);
  assert.deepEqual(calls.map((l) => l.split(' ').slice(0, 2)), [['gemini-2.5-flash', 'ok'], ['gemini-2.5-flash', 'ok'], ['gemini-2.5-pro', 'refused']]);
  assert.deepEqual(calls.map((l) => Number(l.split(' ')[2].slice(1)) > 0), [true, true, false]);
  const after = await mock.stats();
  assert.equal(after.generateContent - (before.generateContent ?? 0), 2, 'the refused call never left');
  assert.equal(after['generateContent.stream'] - (before['generateContent.stream'] ?? 0), 1);
});
