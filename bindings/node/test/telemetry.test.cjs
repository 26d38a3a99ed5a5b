'use strict';
// Observability from Node: budget alerts through engine.onThreshold (in order, off the
// caller's stack, never keeping the process alive, a throwing callback only warned about),
// the metrics text, the trace an execution joins (the active OpenTelemetry span's), and
// WFLO_LOG's lines on stderr — with a planted secret in no line.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const wflo = require('..');
const { startMock } = require('./helpers/mock.cjs');
const { eventually } = require('./helpers/llm.cjs');

const root = path.join(__dirname, '..');
const memory = () => wflo.Engine.open('memory://');

/** Runs `code` in a fresh Node process (cwd: the package); resolves with its exit code, stdout and stderr. */
function runNode(code, env = {}) {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', code], { cwd: root, env: childEnv, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr });
    });
  });
}

/** Settles one gpt-4o call of `output` tokens (and 10 input) on `target` (the workflow, or a scope). */
function spend(target, output) {
  target.reserveSync({ model: 'gpt-4o', inputTokens: 10, maxOutputTokens: output }).settle({ input: 10, output });
}

test('alerts arrive once each, in order, after the call that crossed and before end() resolves — thresholds, a step scope, the soft budget', async () => {
  const engine = await memory();
  const seen = [];
  const unsubscribe = engine.onThreshold((a) => seen.push(a));
  // $0.10 with the default thresholds (50, 80, 95%) and a $0.06 soft budget; gpt-4o output is $10/M.
  const wf = new wflo.WfloWorkflow({ name: 'alerts', budgetUsd: '0.10', softBudgetUsd: '0.06', engine });
  await wf.start();
  spend(wf, 4500); // 45%
  const critic = await wf.scope('critic', { budgetUsd: '0.01' });
  spend(critic, 550); // critic 55% of its own; the execution 50.6%
  assert.equal(seen.length, 0, 'delivered later, never inside the settle');
  spend(wf, 1100); // 61.6%: the soft budget
  spend(wf, 3750); // 99.2%: 80 and 95 on one call
  spend(wf, 10); // nothing more: each fires once
  assert.equal(await wf.end(), 'completed');
  // All of them in by the time end() resolves.
  assert.deepEqual(
    seen.map((a) => [a.scope, a.kind, a.percent]),
    [['critic', 'threshold', 50], ['', 'threshold', 50], ['', 'soft_budget', 100], ['', 'threshold', 80], ['', 'threshold', 95]],
  );
  const [first, , soft] = seen;
  assert.equal(first.executionId, wf.executionId);
  assert.equal(first.workflow, 'alerts');
  assert.deepEqual([first.limitNanos, first.limitUsd], [10_000_000, 0.01]);
  assert.deepEqual([soft.limitNanos, soft.spentNanos], [60_000_000, 61_575_000]);
  assert.ok(first.atMs > 0 && first.spentUsd === first.spentNanos / 1e9);
  unsubscribe();
  unsubscribe(); // idempotent
  await engine.close();
});

test('alertThresholds picks the percents; unsubscribing stops delivery, even of alerts already queued', async () => {
  const engine = await memory();
  const a = [];
  const b = [];
  engine.onThreshold((x) => a.push(x.percent));
  const offB = engine.onThreshold((x) => b.push(x.percent));
  const wf = new wflo.WfloWorkflow({ budgetUsd: '0.01', alertThresholds: [10, 30], engine });
  await wf.start();
  spend(wf, 150); // ~15%
  offB(); // b's alert of 10% was queued already: it is not delivered
  spend(wf, 200); // ~35%
  await eventually(() => a.length === 2, 'two alerts');
  await new Promise(setImmediate);
  assert.deepEqual(a, [10, 30]);
  assert.deepEqual(b, []);
  const none = new wflo.WfloWorkflow({ budgetUsd: '0.01', alertThresholds: [], engine });
  await none.start();
  spend(none, 900);
  await new Promise(setImmediate);
  assert.deepEqual(a, [10, 30], 'an empty list: no threshold alerts');
  // The engine checks the options: percents 1 to 100, ascending; a soft budget above $0.
  for (const options of [{ alertThresholds: [80, 50] }, { alertThresholds: [0] }, { alertThresholds: ['50'] }, { softBudgetUsd: 0 }]) {
    await assert.rejects(new wflo.WfloWorkflow({ engine, ...options }).start(), wflo.InvalidArgumentError, JSON.stringify(options));
  }
  assert.throws(() => new wflo.WfloWorkflow({ alertThresholds: 50 }), wflo.InvalidArgumentError);
  assert.throws(() => new wflo.WfloWorkflow({ softBudgetUsd: '-1' }), wflo.InvalidArgumentError);
  assert.throws(() => engine.onThreshold('not a function'), wflo.InvalidArgumentError);
  await engine.close();
});

test('a subscription never keeps the process alive, an alert of the last settle still arrives, a throwing callback is a warning', async () => {
  const code = `
    const wflo = require('.');
    (async () => {
      const engine = await wflo.Engine.open('memory://');
      engine.onThreshold((a) => {
        console.log('alert ' + a.percent);
        if (a.percent === 50) throw new Error('callback failed on purpose');
      });
      engine.onThreshold(async () => { throw new Error('async callback failed on purpose'); });
      const wf = new wflo.WfloWorkflow({ budgetUsd: '0.01', engine });
      await wf.start();
      // The last thing the program does: a synchronous settle that crosses 50% and 80%.
      wf.reserveSync({ model: 'gpt-4o', maxOutputTokens: 900 }).settle({ output: 900 });
      console.log('returned');
    })();
  `;
  const started = Date.now();
  const out = await runNode(code);
  assert.equal(out.code, 0, out.stderr);
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(out.stdout.trim().split('\n'), ['returned', 'alert 50', 'alert 80']);
  assert.match(out.stderr, /WfloWarning: an onThreshold callback threw: Error: callback failed on purpose/);
  assert.match(out.stderr, /async callback failed on purpose/);
});

test('the metrics text has the cost of each model and scope, and the alerts', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'metered', budgetUsd: '1', engine });
  const settled = await wf.execute(async (_, w) => {
    await w.step('draft', (draft) => draft.reserveSync({ model: 'gpt-4o-mini', inputTokens: 100, maxOutputTokens: 200 }).settle({ input: 100, output: 200 }));
    return w.reserveSync({ model: 'gpt-4o', maxOutputTokens: 100 }).settle({ output: 100 });
  });
  const text = engine.metricsText();
  const lines = text.split('\n');
  const mini = wflo.cost('gpt-4o-mini', { input: 100, output: 200 }).nanos;
  assert.ok(lines.includes(`wflo_cost_usd_total{model="gpt-4o-mini",provider="openai",scope="draft"} ${(mini / 1e9).toFixed(9)}`), text);
  assert.ok(lines.includes(`wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} ${(settled.costNanos / 1e9).toFixed(9)}`), text);
  assert.ok(lines.includes('wflo_calls_total{model="gpt-4o",provider="openai",status="ok"} 1'), text);
  assert.ok(lines.some((l) => l.startsWith('# TYPE wflo_cost_usd_total counter')));
  assert.ok(!text.includes(wf.executionId), 'labels are bounded: no execution ids');
  await engine.close();
});

test('an execution joins the active OpenTelemetry span\'s trace; else the traceparent given; else a trace of its own', async () => {
  // Before OpenTelemetry is set up in this process: a trace of its own.
  const engine = await memory();
  const alone = new wflo.WfloWorkflow({ engine });
  assert.equal(alone.traceId, null, 'null before start');
  await alone.start();
  assert.match(alone.traceId, /^[0-9a-f]{32}$/);
  const given = new wflo.WfloWorkflow({ engine, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
  await given.start();
  assert.equal(given.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  await assert.rejects(new wflo.WfloWorkflow({ engine, traceparent: 'not-a-traceparent' }).start(), wflo.InvalidArgumentError);

  const { context, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracer = new BasicTracerProvider().getTracer('wflo-test');
  try {
    const { spanTrace, inner } = await tracer.startActiveSpan('agent run', async (span) => {
      const wf = new wflo.WfloWorkflow({ name: 'traced', engine });
      // Across awaits, as the host's code runs it.
      const traceId = await wf.execute(async () => {
        await new Promise((r) => setTimeout(r, 1));
        return wf.traceId;
      });
      span.end();
      return { spanTrace: span.spanContext().traceId, inner: traceId };
    });
    assert.equal(inner, spanTrace);
    // The option wins over the active span; outside any span, a trace of its own again.
    await tracer.startActiveSpan('another', async (span) => {
      const wf = new wflo.WfloWorkflow({ engine, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
      await wf.start();
      assert.equal(wf.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      span.end();
    });
    const outside = new wflo.WfloWorkflow({ engine });
    await outside.start();
    assert.notEqual(outside.traceId, spanTrace);
  } finally {
    context.disable();
  }
  await engine.close();
});

test('without OpenTelemetry set up, a workflow loads nothing of it', async () => {
  const out = await runNode(`
    const wflo = require('.');
    (async () => {
      const wf = new wflo.WfloWorkflow({ engine: await wflo.Engine.open('memory://') });
      await wf.execute(async () => {});
      console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('opentelemetry'))));
    })();
  `);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), []);
});

test('WFLO_LOG', async (t) => {
  const mock = await startMock();
  t.after(() => mock.stop());
  // A call that is settled and one that is refused, through the openai SDK on the mock, with a
  // secret planted in the prompt, the checkpoint state and the client's API key.
  const code = `
    const wflo = require('.');
    const { OpenAI } = require('openai');
    const { wrapOpenAI } = require('./integrations/openai.cjs');
    (async () => {
      const engine = await wflo.Engine.open('memory://');
      const oa = wrapOpenAI(new OpenAI({ apiKey: 'sk-KEY-PLANTED-0123', baseURL: process.env.MOCK_BASE, maxRetries: 0 }));
      const wf = new wflo.WfloWorkflow({ name: 'logged', budgetUsd: '0.001', engine });
      const messages = [{ role: 'user', content: 'Repeat after me: sk-SECRET-PLANTED' }];
      await wf.execute(async () => {
        await oa.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 20 });
        await wf.checkpoint('after-first', { prompt: 'sk-SECRET-PLANTED' });
        try {
          await oa.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 4000 });
        } catch (e) {
          if (!(e instanceof wflo.BudgetExceededError)) throw e;
        }
      });
      console.log('done');
    })().catch((e) => { console.log('error ' + e.code + ': ' + e.message); process.exitCode = 3; });
  `;
  const env = { MOCK_BASE: mock.openaiBase() };
  const wfloLines = (stderr) => stderr.split('\n').filter((l) => l.startsWith('wflo'));

  await t.test('info: the refusal, the checkpoint; never the prompt, the state or the key', async () => {
    const out = await runNode(code, { ...env, WFLO_LOG: 'info' });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const lines = wfloLines(out.stderr);
    assert.ok(lines.length >= 2, out.stderr);
    assert.ok(lines.every((l) => l.startsWith('wflo: ')), out.stderr);
    const refused = lines.find((l) => l.startsWith('wflo: info refused:'));
    assert.ok(refused, out.stderr);
    assert.match(refused, /execution=exec-[0-9a-f]{12}/);
    assert.match(refused, /model=gpt-4o /);
    assert.ok(lines.some((l) => l.startsWith('wflo: info checkpoint:')), out.stderr);
    assert.ok(!lines.some((l) => l.includes('settled:')), 'settlements are debug');
    assert.ok(!out.stderr.includes('PLANTED'), out.stderr);
  });

  await t.test('debug: every reservation and settlement too, still without the secret', async () => {
    const out = await runNode(code, { ...env, WFLO_LOG: 'debug' });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const lines = wfloLines(out.stderr);
    assert.ok(lines.some((l) => l.startsWith('wflo: debug reserved:')), out.stderr);
    assert.ok(lines.some((l) => l.startsWith('wflo: debug settled:')), out.stderr);
    assert.ok(!out.stderr.includes('PLANTED'), out.stderr);
  });

  await t.test('unset or off: silent', async () => {
    for (const level of [undefined, 'off']) {
      const out = await runNode(code, { ...env, WFLO_LOG: level });
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.deepEqual(wfloLines(out.stderr), [], `WFLO_LOG=${level}`);
    }
  });

  await t.test('an unknown level is an InvalidArgumentError at first use, and at every use after', async () => {
    const out = await runNode(`
      const wflo = require('.');
      const codeOf = (f) => { try { f(); return 'ok'; } catch (e) { return e.constructor.name + ' ' + e.code + ' ' + e.message; } };
      (async () => {
        const opened = await wflo.Engine.open('memory://').then(() => 'ok', (e) => e.constructor.name + ' ' + e.code + ' ' + e.message);
        console.log(JSON.stringify([opened, codeOf(() => new wflo.WfloWorkflow({ budgetUsd: 1 })), codeOf(() => wflo.countTokens('gpt-4o', 'hi'))]));
      })();
    `, { WFLO_LOG: 'loud' });
    assert.equal(out.code, 0, out.stderr);
    const results = JSON.parse(out.stdout);
    for (const r of results) assert.match(r, /^InvalidArgumentError INVALID_ARGUMENT invalid argument: WFLO_LOG must be off, error, warn, info, debug or trace, not 'loud'/);
  });
});

test("the README's observability example runs and prints the alerts, then the trace id and the cost line", async () => {
  const example = path.join(root, '..', '..', 'examples', 'node', 'observability.mjs');
  const out = await new Promise((resolve) => {
    execFile(process.execPath, [example], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(out.error, null, out.stderr);
  assert.deepEqual(out.stdout.trim().split('\n'), [
    'threshold 50% on support-bot: $0.03375 of $0.05',
    'soft_budget 100% on support-bot: $0.03375 of $0.03',
    'threshold 90% on support-bot: $0.045 of $0.05',
    'trace id: 32 hex digits',
    'wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.045000000',
  ]);
});
