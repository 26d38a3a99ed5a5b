'use strict';
// The current execution and scope travel with the async context (AsyncLocalStorage): a call
// made deep inside an agent's code is attributed to the workflow that runs it, and concurrent
// workflows in one process never mix.
const { AsyncLocalStorage } = require('node:async_hooks');

const storage = new AsyncLocalStorage();

/** { workflow, scope } of the code running now, or undefined outside any workflow. */
function current() {
  return storage.getStore();
}

function runWith(frame, fn) {
  return storage.run(frame, fn);
}

module.exports = { current, runWith };
