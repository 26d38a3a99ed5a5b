'use strict';
// The engine's events as lines on stderr, switched on the way `debug` is: WFLO_LOG=info (or
// error, warn, debug, trace) prints them, `wflo: ` first; unset or `off`, wflo is silent. The
// level is read and the route set up by the engine (core's events), once, when the first
// engine is made; an unknown level is an InvalidArgumentError there, and again at every
// engine made after, rather than a setting quietly ignored.
const { native } = require('./errors.cjs');

let addon; // lib/native.cjs, loaded with the first engine

let outcome = null; // { error } once WFLO_LOG was read; error null when it was fine

/** Applies WFLO_LOG the first time; throws its error (this time and every time) when it is bad. */
function ensureLogging() {
  if (outcome === null) {
    // Outside the try: a missing addon throws its own error, and is not taken for WFLO_LOG's.
    const { logFromEnv } = (addon ??= require('./native.cjs'));
    try {
      native(() => logFromEnv());
      outcome = { error: null };
    } catch (e) {
      outcome = { error: e };
    }
  }
  if (outcome.error) {
    const e = outcome.error;
    throw new e.constructor(e.message, e.code, e.details); // a stack of this use
  }
}

module.exports = { ensureLogging };
