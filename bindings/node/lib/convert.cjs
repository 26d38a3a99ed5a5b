'use strict';
// Plain conversions every part of the package shares: snake_case engine JSON to camelCase
// objects, and dollars to the engine's nano-USD.
const { invalid } = require('./errors.cjs');

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Deep-converts the engine's snake_case JSON values to camelCase keys. */
function camelize(value) {
  if (Array.isArray(value)) return value.map(camelize);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[camel(k)] = camelize(v);
    return out;
  }
  return value;
}

/** A budget in dollars (number or decimal string) to nano-USD through the engine, or null. */
function budgetNanos(engine, budgetUsd, what = 'budgetUsd') {
  if (budgetUsd === undefined || budgetUsd === null) return null;
  let n = budgetUsd;
  if (typeof n === 'string' && /^\s*\$?\d*\.?\d+\s*$/.test(n)) n = Number(n.replace('$', ''));
  if (typeof n !== 'number') throw invalid(`${what} must be a number of dollars, got ${typeof budgetUsd}`);
  return engine.usdToNanos(n);
}

/** JSON text of a checkpoint state; refuses what JSON cannot hold. */
function stateJson(state) {
  let text;
  try {
    text = JSON.stringify(state);
  } catch (e) {
    throw invalid(`checkpoint state is not JSON-serialisable: ${e.message}`);
  }
  if (text === undefined) throw invalid('checkpoint state is not JSON-serialisable (undefined or a function)');
  return text;
}

/** A copy of `obj` without null or undefined fields (the addon treats "absent" as absent). */
function present(obj) {
  if (obj === null || obj === undefined) return {};
  if (typeof obj !== 'object') throw invalid(`expected an object, got ${typeof obj}`);
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

module.exports = { camelize, budgetNanos, stateJson, present };
