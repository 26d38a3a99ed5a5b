'use strict';
// What the engine tells the outside world, in JavaScript terms: budget alerts as callbacks,
// and the host application's OpenTelemetry trace handed to the engine as a `traceparent`.
const { createRequire } = require('node:module');
const path = require('node:path');
const { native, invalid } = require('./errors.cjs');
const { camelize } = require('./convert.cjs');

/**
 * Reports what an alert callback threw as a process warning: it runs outside any caller's
 * stack, where an exception would end the process.
 */
function reportCallbackError(error) {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`an onThreshold callback threw: ${detail}`, { type: 'WfloWarning', code: 'WFLO_ALERT_CALLBACK' });
}

/**
 * Subscribes `callback` to the budget alerts of `nativeEngine`'s executions. Each alert
 * arrives once, in the order the engine fired it, on the JavaScript thread, after the call
 * that crossed has settled — never inside it. A callback that throws (or rejects) is reported
 * as a process warning; the next alert still comes. Returns `stop()`, after which the engine
 * fires no more alerts to it (those already queued still arrive), and `unsubscribe()`, after
 * which none at all reaches the callback.
 */
function subscribe(nativeEngine, callback) {
  if (typeof callback !== 'function') throw invalid('onThreshold takes a function');
  let subscribed = true;
  const deliver = (json) => {
    if (!subscribed) return;
    try {
      const out = callback(camelize(JSON.parse(json)));
      if (out && typeof out.then === 'function') out.then(undefined, reportCallbackError);
    } catch (e) {
      reportCallbackError(e);
    }
  };
  const id = native(() => nativeEngine.addAlertListener(deliver));
  const stop = () => nativeEngine.removeAlertListener(id);
  const unsubscribe = () => {
    subscribed = false;
    stop();
  };
  return { stop, unsubscribe };
}

// The host's @opentelemetry/api, when the application has one and has set OpenTelemetry up:
// undefined until first asked, null when there is none. Never a dependency of wflo.
let otelApi;
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

function loadOtelApi() {
  // Nothing registered a context manager (or anything else) with the API: no span can be
  // active, so there is nothing to load.
  if (!globalThis[OTEL_GLOBAL]) return null;
  if (otelApi !== undefined) return otelApi;
  const from = [require, createRequire(path.join(process.cwd(), 'index.js'))];
  otelApi = null;
  for (const req of from) {
    try {
      otelApi = req('@opentelemetry/api');
      break;
    } catch {
      // Not resolvable from here.
    }
  }
  return otelApi;
}

/**
 * The active OpenTelemetry span of the calling code as a W3C `traceparent`
 * (`00-<trace id>-<span id>-<flags>`), or null when there is none (or no OpenTelemetry).
 */
function activeTraceparent() {
  let ctx;
  try {
    const api = loadOtelApi();
    ctx = api && api.trace.getSpanContext(api.context.active());
    if (!ctx || !api.isSpanContextValid(ctx)) return null;
  } catch {
    return null; // the host's tracing never fails a workflow
  }
  const flags = (ctx.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${ctx.traceId}-${ctx.spanId}-${flags}`;
}

module.exports = { subscribe, activeTraceparent };
