'use strict';
// How `WfloWorkflow.execute` runs a target that is not a plain function. An integration
// registers a runner for its framework's objects when it is loaded (`require('wflo/langchain')`
// registers LangChain runnables and LangGraph graphs); the base layer never imports an
// integration, so `require('wflo')` loads no framework and `lib/` can be tested without one.
const runners = [];

/**
 * Registers how to run a framework's objects: `matches(target)` recognises them, `run(workflow,
 * target, inputs, config)` runs one inside the workflow (its context is already set).
 * Registering the same name again replaces the runner (a module loaded twice, CJS and ESM).
 */
function registerRunner(name, matches, run) {
  const at = runners.findIndex((r) => r.name === name);
  const runner = { name, matches, run };
  if (at >= 0) runners[at] = runner;
  else runners.push(runner);
}

/** The runner for `target`, or null. */
function runnerFor(target) {
  return runners.find((r) => r.matches(target)) ?? null;
}

module.exports = { registerRunner, runnerFor };
