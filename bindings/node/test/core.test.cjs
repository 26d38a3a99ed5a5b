'use strict';
// The core API: shared vectors exactly as in Rust, the workflow, the context, bad input.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const wflo = require('..');

const vector = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', name), 'utf8'));
const memory = () => wflo.Engine.open('memory://');

test('pricing vectors', () => {
  const file = vector('pricing.json');
  assert.ok(file.cases.length >= 40);
  for (const c of file.cases) {
    const u = c.usage;
    const usage = { input: u.input, output: u.output, cacheRead: u.cache_read, cacheWrite5m: u.cache_write_5m, cacheWrite1h: u.cache_write_1h, reasoning: u.reasoning };
    if (c.error) {
      assert.throws(() => wflo.cost(c.model, usage), (e) => e.code === c.error, c.name);
    } else {
      assert.equal(wflo.cost(c.model, usage).nanos, c.expected_nanos, c.name);
      assert.equal(wflo.price(c.model).resolved, c.resolved, c.name);
    }
  }
});

const snake = (u) => ({ input: u.input, output: u.output, cache_read: u.cacheRead, cache_write_5m: u.cacheWrite5m, cache_write_1h: u.cacheWrite1h, reasoning: u.reasoning });

test('usage vectors', () => {
  const file = vector('usage.json');
  for (const c of file.cases) {
    const run = () => {
      if (c.format.endsWith('_stream')) {
        const s = new wflo.NativeStream(c.format.slice(0, -'_stream'.length));
        for (const ev of c.events) wflo.parseUsage && s.push(JSON.stringify(ev));
        return JSON.parse(s.stateJson());
      }
      const payload = c.payload_text !== undefined ? c.payload_text : JSON.stringify(c.payload);
      return { usage: snake(wflo.parseUsage(c.format, payload)), complete: true };
    };
    if (c.error) {
      assert.throws(run, (e) => e.code === c.error || /wflo|invalid/i.test(e.message), c.name);
      continue;
    }
    const out = run();
    if (c.usage_missing) {
      assert.ok(out.usage === null || !out.complete, c.name);
      assert.equal(out.text, c.text, c.name);
    } else {
      assert.deepEqual(out.usage, c.expected, c.name);
    }
  }
});

test('token vectors equal tiktoken', () => {
  const file = vector('tokens.json');
  for (const c of file.texts) {
    assert.equal(wflo.countTokens('gpt-4o', c.text).tokens, c.o200k_base, c.name);
    assert.equal(wflo.countTokens('gpt-4', c.text).tokens, c.cl100k_base, c.name);
  }
  for (const c of file.chat) {
    assert.equal(wflo.countChatTokens(c.encoding === 'o200k_base' ? 'gpt-4o' : 'gpt-4', c.messages).tokens, c.expected, c.name);
  }
});

test('budget vectors', async () => {
  const file = vector('budget.json');
  const cacheWrite = { five_minutes: '5m', one_hour: '1h', none: null };
  for (const c of file.cases) {
    const engine = await memory();
    engine.setPrices(file.prices);
    const wf = new wflo.WfloWorkflow({ name: c.name, budgetUsd: c.budget_usd, engine });
    await wf.start();
    const held = {};
    for (const [i, s] of c.steps.entries()) {
      let actual = {};
      const fromError = (e) => {
        actual = { error: e.code };
        if (e instanceof wflo.BudgetExceededError) {
          Object.assign(actual, { scope: e.scope, limit_nanos: e.limitNanos, spent_nanos: e.spentNanos, reserved_nanos: e.reservedNanos, requested_nanos: e.requestedNanos });
        }
      };
      const settled = (f) => {
        try {
          const r = f();
          actual = { cost_nanos: r.costNanos, overrun_nanos: r.overrunNanos };
        } catch (e) {
          fromError(require('../lib/errors.cjs').fromNative(e));
        }
      };
      const usage = (u = {}) => ({ input: u.input, output: u.output, cacheRead: u.cache_read, cacheWrite5m: u.cache_write_5m, cacheWrite1h: u.cache_write_1h, reasoning: u.reasoning });
      const scope = s.scope ? await wf.scope(s.scope) : null;
      switch (s.op) {
        case 'scope':
          await wf.scope(s.label, { budgetUsd: s.budget_usd === null ? undefined : Number(s.budget_usd) });
          break;
        case 'reserve':
          try {
            const r = await wf.reserve({ model: s.model, inputTokens: s.input_tokens, inputEstimated: s.estimated ?? false, maxOutputTokens: s.max_output_tokens ?? null, cacheWrite: cacheWrite[s.cache_write] ?? null, clampMaxTokens: s.clamp ?? false }, scope);
            held[s.id] = r;
            actual = { amount_nanos: r.amountNanos, max_output_tokens: r.maxOutputTokens, clamped: s.max_output_tokens !== undefined && r.maxOutputTokens < s.max_output_tokens };
          } catch (e) {
            fromError(e);
          }
          break;
        case 'settle':
          settled(() => held[s.id].settle(usage(s.usage)));
          break;
        case 'settle_raw':
          settled(() => held[s.id].settleJson(s.format, JSON.stringify(s.payload)));
          break;
        case 'release':
          held[s.id].release('error', 'vector');
          break;
        case 'record':
          settled(() => (scope || wf._native).recordUsage(s.model, JSON.parse(JSON.stringify(usage(s.usage)))));
          break;
        case 'breakdown': {
          const b = await wf.breakdown();
          actual = { total_nanos: b.totalNanos, reserved_nanos: b.reservedNanos, remaining_nanos: b.remainingNanos, overrun_nanos: b.overrunNanos, calls: b.calls, refused_calls: b.refusedCalls };
          break;
        }
      }
      for (const [k, want] of Object.entries(s.expect || {})) assert.deepEqual(actual[k], want, `${c.name} step ${i}: ${k}`);
    }
  }
});

test('a workflow executes, checkpoints, rolls back, and ends completed', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'tour', budgetUsd: 0.01, engine });
  assert.equal(wf.executionId, null);
  const result = await wf.execute(async (inputs, w) => {
    assert.equal(wflo.currentWorkflow(), w);
    const r = await w.reserve({ model: 'gpt-4o-mini', inputTokens: 100, maxOutputTokens: 100 });
    r.settle({ input: 100, output: 50 });
    await w.checkpoint('one', { n: 1 });
    await w.checkpoint('two', { n: 2 });
    assert.deepEqual(await w.rollbackToCheckpoint('one'), { n: 1 });
    return inputs.x * 2;
  }, { x: 21 });
  assert.equal(result, 42);
  assert.match(wf.executionId, /^exec-[0-9a-f]{12}$/);
  const b = await wf.breakdown();
  assert.equal(b.status, 'completed');
  assert.equal(b.totalNanos, 45000);
  assert.equal(b.totalUsd, 0.000045);
  assert.equal(b.budgetUsd, 0.01);
  const cps = await wf.checkpoints();
  assert.deepEqual(cps.map((c) => c.superseded), [false, true]);
  assert.equal(wflo.currentWorkflow(), null);
});

test('a budget refusal propagates as BudgetExceededError and ends the execution budget_exceeded', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'over', budgetUsd: '0.001', engine });
  const err = await wf.execute(async (_, w) => {
    await w.reserve({ model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 4000 });
  }).catch((e) => e);
  assert.ok(err instanceof wflo.BudgetExceededError);
  assert.ok(err instanceof wflo.WfloError);
  assert.equal(err.code, 'BUDGET_EXCEEDED');
  assert.equal(err.budgetUsd, 0.001);
  assert.equal(err.spentUsd, 0);
  assert.equal(err.requestedUsd, 0.0425);
  assert.equal((await wf.breakdown()).status, 'budget_exceeded');
});

test('a step is a Scope object: step hands it over, children nest under its budget, calls are recorded under their labels', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'scopes', budgetUsd: '1', engine });
  const small = { model: 'gpt-4o-mini', inputTokens: 10, maxOutputTokens: 10 };
  await wf.execute(async (_, w) => {
    await w.step('research', async (research) => {
      assert.ok(research instanceof wflo.Scope);
      assert.equal(research.label, 'research');
      assert.equal(research.workflow, w);
      // The parent's budget ($0.0001) refuses what the child, with none of its own, asks.
      const err = await research.step('search', (search) => search.reserve({ model: 'gpt-4o-mini', inputTokens: 100, maxOutputTokens: 1000 })).catch((e) => e);
      assert.ok(err instanceof wflo.BudgetExceededError, String(err));
      assert.equal(err.scope, 'research');
      await research.step('search', async (search) => {
        assert.equal(search.label, 'search');
        (await w.reserve(small)).settle({ input: 10, output: 5 }); // the running step, by default
      });
    }, { budgetUsd: '0.0001' });
    const write = await w.scope('write');
    (await write.reserveRequest('openai_chat', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })).settle({ input: 8, output: 2 });
    write.reserveSync(small).release();
    const other = new wflo.WfloWorkflow({ name: 'other', engine });
    await other.start();
    await assert.rejects(other.reserve(small, write), (e) => e.code === 'INVALID_ARGUMENT');
    await assert.rejects(w.scope(''), (e) => e.code === 'INVALID_ARGUMENT');
  });
  const calls = await wf.calls();
  assert.deepEqual(calls.map((c) => [c.step, c.status]), [['search', 'refused'], ['search', 'ok'], ['write', 'ok'], ['write', 'error']]);
  const b = await wf.breakdown();
  assert.deepEqual(await wf.getCostBreakdown(), b); // the seed's name, kept
  assert.deepEqual(b.byStep.map((s) => s.step).sort(), ['search', 'write']); // by the label each call was made under
});

test('trackLlmCall budgets before the call and settles from the result', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'track', budgetUsd: 0.001, engine });
  let sent = 0;
  const ask = wflo.trackLlmCall(async (prompt) => {
    sent += 1;
    return { choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 12, completion_tokens: 5 } };
  }, { model: 'gpt-4o-mini', maxTokens: 100 });
  const big = wflo.trackLlmCall(async () => { sent += 1; }, { model: 'gpt-4o', maxTokens: 100000 });
  await wf.execute(async () => {
    await ask('Say hello');
    await assert.rejects(big('Write a novel'), wflo.BudgetExceededError);
  });
  assert.equal(sent, 1, 'the refused call never ran');
  const calls = await wf.calls();
  assert.equal(calls.length, 2);
  assert.equal(calls[0].usage.input, 12);
  assert.equal(calls[1].status, 'refused');
  // Outside a workflow the function runs untracked.
  await ask('hello');
  assert.equal(sent, 2);
});

test('concurrent workflows never mix, and a shared scope holds across them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-node-'));
  const engine = await wflo.Engine.open(path.join(dir, 'w.db'));
  engine.setPrices({ models: [{ name: 'flat', input: 1000000, output: 1000000, max_output: 100 }] });
  await engine.defineSharedScope('team', { limitUsd: 0.002 });
  const flows = Array.from({ length: 50 }, (_, i) => new wflo.WfloWorkflow({ name: `w${i}`, budgetUsd: 0.0002, engine, sharedScopes: ['team'] }));
  await Promise.all(flows.map((wf, i) => wf.execute(async () => {
    for (let j = 0; j < 3; j++) {
      await new Promise((r) => setImmediate(r));
      const w = wflo.currentWorkflow();
      assert.equal(w, wf, 'the context carries this workflow');
      try {
        const r = await w.reserve({ model: 'flat', inputTokens: 20, maxOutputTokens: 20, inputEstimated: false });
        r.settle({ input: 20, output: 20 });
      } catch (e) {
        if (!(e instanceof wflo.BudgetExceededError)) throw e;
      }
    }
    return i;
  })));
  let total = 0;
  for (const wf of flows) {
    const calls = await wf.calls();
    for (const c of calls) assert.equal(c.executionId, wf.executionId);
    total += (await wf.breakdown()).totalNanos;
  }
  const team = await engine.sharedScope('team');
  assert.ok(team.spentNanos <= 2_000_000, `overspent: ${team.spentNanos}`);
  assert.equal(team.spentNanos, total);
  assert.equal(team.reservedNanos, 0);
  assert.equal(total, 2_000_000, 'the shared budget is used to the last nano-USD');
  await engine.close();
});

test('a shared scope keeps how it is served: allowances unless told otherwise', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-node-'));
  const engine = await wflo.Engine.open(path.join(dir, 'w.db'));
  await engine.defineSharedScope('team', { limitUsd: 1 });
  assert.equal((await engine.sharedScope('team')).allowances, true);
  await engine.defineSharedScope('team', { limitUsd: 2, allowances: false });
  assert.equal((await engine.sharedScope('team')).allowances, false);
  await engine.defineSharedScope('team', { limitUsd: 3 });
  const team = await engine.sharedScope('team');
  assert.equal(team.allowances, false, 'defined again without saying: kept');
  assert.equal(team.limitNanos, 3_000_000_000);
  await assert.rejects(engine.defineSharedScope('team', { allowances: 'no' }), wflo.InvalidArgumentError);
  await engine.close();
});

test('bad input is a typed error', async () => {
  const engine = await memory();
  assert.throws(() => new wflo.WfloWorkflow({ budgetUsd: -1 }), wflo.InvalidArgumentError);
  assert.throws(() => new wflo.WfloWorkflow({ budgetUsd: 'lots' }), wflo.InvalidArgumentError);
  assert.throws(() => new wflo.WfloWorkflow({ name: 42 }), wflo.InvalidArgumentError);
  const wf = new wflo.WfloWorkflow({ engine });
  await assert.rejects(wf.checkpoint('x', { big: 10n }), wflo.InvalidArgumentError);
  const circular = {};
  circular.self = circular;
  await assert.rejects(wf.checkpoint('x', circular), wflo.InvalidArgumentError);
  await assert.rejects(wf.checkpoint('x', undefined), wflo.InvalidArgumentError);
  await assert.rejects(wf.rollbackToCheckpoint('never'), wflo.NotFoundError);
  await assert.rejects(wf.reserve({ model: 'gpt-4o', inputTokens: -5 }), wflo.InvalidArgumentError);
  await assert.rejects(wf.reserve({ model: 42 }), wflo.InvalidArgumentError);
  assert.throws(() => wflo.cost('gpt-4o-mimi', {}), (e) => e instanceof wflo.UnknownModelError && e.suggestions[0] === 'gpt-4o-mini');
  assert.throws(() => wflo.countTokens('gpt-4o', 42), wflo.InvalidArgumentError);
  assert.throws(() => wflo.parseUsage('openai_chat', '{"usage":{"prompt_tokens":-1}}'), wflo.InvalidArgumentError);
  await assert.rejects(wflo.Engine.open('mysql://x'), wflo.InvalidArgumentError);
  await assert.rejects(wflo.Engine.open('postgres://nobody@127.0.0.1:1/x'), wflo.StorageError);
  await assert.rejects(wflo.WfloWorkflow.resume('exec-ffffffffffff', { engine }), wflo.NotFoundError);
  assert.deepEqual((await wf.checkpoints()).length, 0, 'nothing was recorded by the failures');
});

test('trackLlmCall around a wrapped client: one call reserved up front, metered once', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'track-wrapped', budgetUsd: 1, engine });
  // A stand-in client with the SDK's shape, wrapped as users wrap theirs: its create answers
  // without a network; what matters is that wflo does not meter it a second time.
  let created = 0;
  const { wrapOpenAI } = require('../integrations/openai.cjs');
  const OpenAI = require('openai').OpenAI;
  const client = wrapOpenAI(new OpenAI({ apiKey: 'x', baseURL: 'http://127.0.0.1:9/v1', fetch: async () => {
    created += 1;
    return new Response(JSON.stringify({ id: 'c', object: 'chat.completion', model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }), { headers: { 'content-type': 'application/json' } });
  } }));
  const ask = wflo.trackLlmCall((prompt) => client.chat.completions.create({
    model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: prompt }] }), { model: 'gpt-4o-mini', maxTokens: 20 });
  await wf.execute(() => ask('hello'));
  assert.equal(created, 1);
  const calls = await wf.calls();
  assert.equal(calls.length, 1, 'the wrapped client inside did not reserve again');
  assert.equal(calls[0].usage.output, 2);
  // Outside trackLlmCall the same client meters its own calls.
  await wf.execute(() => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'again' }] }));
  assert.equal((await wf.calls()).length, 2);
});
