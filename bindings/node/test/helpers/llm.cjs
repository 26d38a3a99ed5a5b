'use strict';
// Small things the SDK integration tests share: a workflow on its own in-memory engine, a
// fetch that keeps the JSON bodies the client sent, and waiting for something settled in the
// background.
const wflo = require('../..');

/** A workflow with `budgetUsd` on a fresh in-memory engine. */
async function memoryWorkflow(budgetUsd = 1, name = 'test') {
  const engine = await wflo.Engine.open('memory://');
  return new wflo.WfloWorkflow({ name, engine, budgetUsd });
}

/** A `fetch` for a client's options that records every request body it sends (parsed). */
function recordingFetch() {
  const bodies = [];
  const fetch = (url, init) => {
    if (init && typeof init.body === 'string') bodies.push(JSON.parse(init.body));
    return globalThis.fetch(url, init);
  };
  return { fetch, bodies };
}

/** Resolves once `check()` returns a truthy value (polled), or fails after ~2 s. */
async function eventually(check, what = 'condition') {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

module.exports = { memoryWorkflow, recordingFetch, eventually };
