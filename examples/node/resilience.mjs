// Retries and circuit breakers from Node.js: withRetry asks the engine after each failure
// whether to retry and how long to wait; a breaker fails fast once a provider keeps failing.
// The README's resilience snippet is the part between the tour markers;
// bindings/node/test/resilience.test.cjs runs this file and checks what it prints.
//
// Run: node examples/node/resilience.mjs
import { Engine, withRetry, CircuitOpenError } from '../../bindings/node/index.mjs';

// A provider that answers 503 twice, then recovers (an SDK's APIError carries status and headers).
let calls = 0;
async function flakyProvider() {
  calls += 1;
  if (calls <= 2) throw Object.assign(new Error('503 Service Unavailable'), { status: 503, headers: {} });
  return 'answer';
}

// tour:start
const engine = await Engine.open('memory://');
const answer = await withRetry(() => flakyProvider(), {
  engine,
  policy: { maxRetries: 3, baseDelayMs: 5, jitter: 0 },
  onRetry: ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`),
});
console.log(`got ${answer}`);

// One breaker per name per engine: after 2 failures, calls through it fail fast.
const breaker = engine.breaker('search-api', { failureThreshold: 2, recoveryTimeoutMs: 30_000 });
for (let i = 0; i < 3; i++) {
  try {
    await breaker.call(async () => {
      throw new Error('search is down');
    });
  } catch (e) {
    console.log(e instanceof CircuitOpenError ? `fails fast: ${e.circuitName} is open` : `failed: ${e.message}`);
  }
}
// tour:end
await engine.close();
