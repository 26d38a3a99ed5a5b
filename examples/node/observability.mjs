// Observability from Node.js: budget alerts as a callback, the execution's trace id, the
// metrics text for a /metrics endpoint. The README's observability snippet is the part between
// the tour markers; bindings/node/test/telemetry.test.cjs runs this file and checks what it prints.
// (WFLO_LOG=info prints the engine's events on stderr as well.)
//
// Run: node examples/node/observability.mjs
import { WfloWorkflow, Engine } from '../../bindings/node/index.mjs';

// tour:start
const engine = await Engine.open('memory://');
// Every budget alert of this engine's executions: 50, 80 and 95% of a limit by default
// (alertThresholds picks others), and the soft budget, each once, in order.
const unsubscribe = engine.onThreshold((alert) => {
  const where = alert.scope || alert.workflow;
  console.log(`${alert.kind} ${alert.percent}% on ${where}: $${alert.spentUsd} of $${alert.limitUsd}`);
});

const workflow = new WfloWorkflow({
  name: 'support-bot',
  budgetUsd: '0.05',
  softBudgetUsd: '0.03', // warns, refuses nothing
  alertThresholds: [50, 90],
  engine,
});
await workflow.execute(async (_, wf) => {
  for (let turn = 0; turn < 4; turn++) {
    const call = await wf.reserve({ model: 'gpt-4o', inputTokens: 500, maxOutputTokens: 1000 });
    call.settle({ input: 500, output: 1000 });
  }
});
// Started inside an OpenTelemetry span, the execution joins that span's trace.
console.log(`trace id: ${workflow.traceId.length} hex digits`);

// The Prometheus text exposition, for a /metrics endpoint.
const cost = engine.metricsText().split('\n').filter((line) => line.startsWith('wflo_cost_usd_total{'));
console.log(cost.join('\n'));
unsubscribe();
// tour:end
