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

/**
 * A budget to nano-USD, or null for "no limit" (null or undefined; 0 is a budget of zero).
 * Dollars come as a decimal string ("2.50", "$0.000075") or a number, and the engine parses
 * them (a string never goes through a float); a bigint is already nano-USD.
 */
function budgetNanos(engine, budget, what = 'budgetUsd') {
  if (budget === undefined || budget === null) return null;
  if (typeof budget === 'bigint') {
    if (budget < 0n) throw invalid(`${what} must not be negative, got ${budget}n nano-USD`);
    if (budget > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalid(`${what} of ${budget}n nano-USD is larger than wflo for Node can hold exactly (2^53 - 1 nano-USD)`);
    }
    return Number(budget);
  }
  if (typeof budget === 'string') return engine.parseUsd(budget);
  if (typeof budget === 'number') return engine.usdToNanos(budget);
  throw invalid(`${what} must be dollars (a decimal string or a number) or nano-USD (a bigint), got ${typeof budget}`);
}

/**
 * JSON text of a value handed to the engine: bytes (Uint8Array, Buffer) as base64 as the
 * providers are sent them, bigints as numbers, a cycle dropped instead of thrown.
 */
function toJson(value) {
  if (typeof value === 'string') return value;
  const bytes = (raw) => {
    if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('base64');
    return undefined;
  };
  const plain = function replacer(key, v) {
    if (typeof v === 'bigint') return Number(v);
    return bytes(this[key]) ?? v; // this[key]: the value before toJSON (a Buffer's is an array of bytes)
  };
  let text;
  try {
    text = JSON.stringify(value, plain);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    // A cycle (a framework object pointing back at its owner): drop what repeats.
    const seen = new WeakSet();
    text = JSON.stringify(value, function replacer(key, v) {
      const out = plain.call(this, key, v);
      if (out && typeof out === 'object') {
        if (seen.has(out)) return undefined;
        seen.add(out);
      }
      return out;
    });
  }
  return text === undefined ? 'null' : text;
}

const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Request options ({baseUrl, provider, model, stream, clampMaxTokens}) as the engine's JSON. */
function requestOptionsJson(options) {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object') throw invalid('request options must be an object');
  const out = {};
  for (const [k, v] of Object.entries(options)) if (v !== null && v !== undefined) out[snake(k)] = v;
  return JSON.stringify(out);
}

/**
 * JSON text of a settings object (a retry policy, breaker settings) for the engine: its keys
 * in the engine's snake_case (`maxRetries` → `max_retries`; snake_case keys pass as they are),
 * null and undefined fields left out so the engine's defaults apply; null for none at all.
 * The engine checks the fields (an unknown one is refused).
 */
function settingsJson(settings, what) {
  if (settings === undefined || settings === null) return null;
  if (typeof settings !== 'object' || Array.isArray(settings)) throw invalid(`${what} must be an object`);
  const out = {};
  const bigints = []; // written as their digits: a seed past 2^53 keeps every bit
  for (const [k, v] of Object.entries(settings)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'bigint') {
      out[snake(k)] = `\u0000bigint${bigints.length}`;
      bigints.push(v.toString());
    } else out[snake(k)] = v;
  }
  return JSON.stringify(out).replace(/"\\u0000bigint(\d+)"/g, (_, i) => bigints[Number(i)]);
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

module.exports = { camelize, budgetNanos, stateJson, present, toJson, requestOptionsJson, settingsJson };
