'use strict';
// Human approval gates (core's resilience::approval): the conversions the workflow's and the
// engine's approval methods share. The engine keeps the approval in the store and decides when
// it times out, what a timeout means and what asking for a gate again finds; this file turns
// camelCase options into the engine's request JSON (dollars parsed by the engine) and its
// approvals into camelCase objects.
const { invalid } = require('./errors.cjs');
const { camelize, budgetNanos, present } = require('./convert.cjs');

const REQUEST_OPTIONS = new Set(['why', 'what', 'worstCaseUsd', 'timeoutMs', 'onTimeout', 'requestedBy']);

/**
 * The engine's approval request JSON for `gate` and `options` ({why, what, worstCaseUsd,
 * timeoutMs, onTimeout, requestedBy}); `engine` parses the dollars.
 */
function approvalRequestJson(engine, gate, options) {
  if (typeof gate !== 'string') throw invalid('an approval gate must be a string');
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalid('approval options must be an object');
  const unknown = Object.keys(options).filter((k) => !REQUEST_OPTIONS.has(k));
  if (unknown.length) throw invalid(`unknown approval option ${unknown.join(', ')} (known: ${[...REQUEST_OPTIONS].join(', ')})`);
  const { why, what, worstCaseUsd, timeoutMs, onTimeout, requestedBy } = options;
  return JSON.stringify(present({
    gate,
    why,
    what,
    worst_case_nanos: budgetNanos(engine, worstCaseUsd, 'worstCaseUsd'),
    timeout_ms: timeoutMs,
    on_timeout: onTimeout,
    requested_by: requestedBy,
  }));
}

/**
 * An approval as the engine's JSON, camelCase: {id, executionId, gate, what, why,
 * worstCaseNanos, requestedBy, onTimeout, status: "pending"|"approved"|"denied"|"expired",
 * note, decidedBy, createdAtMs, expiresAtMs, decidedAtMs}.
 */
const approvalOf = (json) => camelize(JSON.parse(json));

/** A decision's options ({note, by}) as the addon takes them (null: absent). */
function decisionOf(options, verb) {
  if (options === undefined || options === null) return { note: null, by: null };
  if (typeof options !== 'object') throw invalid(`${verb} options must be an object {note, by}`);
  const { note = null, by = null } = options;
  if (note !== null && typeof note !== 'string') throw invalid('note must be a string');
  if (by !== null && typeof by !== 'string') throw invalid('by must be a string');
  return { note, by };
}

module.exports = { approvalRequestJson, approvalOf, decisionOf };
