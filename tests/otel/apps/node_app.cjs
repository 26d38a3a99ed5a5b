'use strict';
// The Node workload of tests/otel/run.py: an application with @opentelemetry/api active (the
// SDK's BasicTracerProvider, the async-hooks context manager) calls `wflo mock-llm` through
// the real openai and @anthropic-ai/sdk clients wrapped by wflo, inside a span of its own.
// Prints one line "OTEL-RESULT {json}" for run.py to check.
//
// Environment: WFLO_NODE_DIR (bindings/node, built), MOCK_URL, WFLO_DB, OTEL_* (run.py's).
// A planted secret is in the prompt, the checkpoint state and the API key.
const path = require('node:path');
const { createRequire } = require('node:module');

const nodeDir = path.resolve(process.env.WFLO_NODE_DIR);
const from = createRequire(path.join(nodeDir, 'package.json'));
const wflo = from('./index.cjs');
const { wrapOpenAI } = from('./integrations/openai.cjs');
const { wrapAnthropic } = from('./integrations/anthropic.cjs');
const { OpenAI } = from('openai');
const Anthropic = from('@anthropic-ai/sdk').default ?? from('@anthropic-ai/sdk');
const { context, trace } = from('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = from('@opentelemetry/context-async-hooks');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = from('@opentelemetry/sdk-trace-base');

const SECRET = 'sk-SECRET-PLANTED-OTEL';
const API_KEY = 'sk-otel-PLANTED-API-KEY-0123456789';
const mock = process.env.MOCK_URL;

async function main() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const appSpans = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appSpans)] });
  trace.setGlobalTracerProvider(provider);
  const tracer = trace.getTracer('otel-test-app');

  const engine = await wflo.Engine.open(process.env.WFLO_DB);
  const alerts = [];
  const stop = engine.onThreshold((a) => alerts.push(a));
  const oa = wrapOpenAI(new OpenAI({ apiKey: API_KEY, baseURL: `${mock}/mock/cached=5,reasoning=3/v1`, maxRetries: 0 }));
  const an = wrapAnthropic(new Anthropic({ apiKey: API_KEY, baseURL: `${mock}/mock/cache_write=7,cached=4`, maxRetries: 0 }));
  const asked = [];
  let refused = 0;
  const prompt = [{ role: 'user', content: `Keep ${SECRET} to yourself and draft a plan.` }];

  const { wf, app } = await tracer.startActiveSpan('handle-request', async (span) => {
    const wf = new wflo.WfloWorkflow({ name: 'otel-node', budgetUsd: '0.01', engine, alertThresholds: [1, 5] });
    await wf.execute(async (_, w) => {
      await w.step('draft', async () => {
        asked.push(['draft', 60]);
        await oa.chat.completions.create({ model: 'gpt-4o-mini', messages: prompt, max_tokens: 60 });
      });
      await w.checkpoint('drafted', { note: SECRET });
      await w.step('review', async () => {
        asked.push(['review', 80]);
        await an.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 80, messages: prompt });
      });
      await w.step('expand', async () => {
        asked.push(['expand', 4000]);
        try {
          await oa.chat.completions.create({ model: 'gpt-4o', messages: prompt, max_tokens: 4000 });
        } catch (e) {
          if (!(e instanceof wflo.BudgetExceededError)) throw e;
          refused += 1;
        }
      });
      await w.rollbackToCheckpoint('drafted');
    });
    span.end();
    return { wf, app: span.spanContext() };
  });

  let metrics = engine.metricsText();
  if (process.env.OTEL_TEST_WAIT_DROPPED) {
    // The endpoint is down: wait for the exporter's failures to be counted.
    const deadline = Date.now() + 15_000;
    const dropped = () => Number((metrics.match(/^wflo_telemetry_dropped_total (\d+)/m) || [0, 0])[1]);
    while (dropped() === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      metrics = engine.metricsText();
    }
  }
  if (typeof stop === 'function') stop();
  await engine.close();
  console.log('OTEL-RESULT ' + JSON.stringify({
    face: 'node',
    execution_id: wf.executionId,
    workflow: 'otel-node',
    trace_id: wf.traceId,
    app_trace_id: app.traceId,
    app_span_id: app.spanId,
    app_spans: appSpans.getFinishedSpans().map((s) => s.name),
    asked,
    refused,
    alerts: alerts.map((a) => ({ scope: a.scope, kind: a.kind, percent: a.percent, limit_nanos: a.limitNanos, spent_nanos: a.spentNanos })),
    metrics_text: metrics,
  }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
