'use strict';
// Resource contention (core's resilience::contention): named locks and semaphores whose state
// is in the engine's store, so every process on the same store shares their slots. The engine
// decides who gets a slot, how long a wait lasts, what counts as contention and when a hold's
// lease ends; this file converts (camelCase settings and statistics) and gives the waits
// JavaScript's idiom: a promise, settled off the JavaScript thread.
const { invalid, native, nativeAsync } = require('./errors.cjs');
const { camelize } = require('./convert.cjs');

/** A timeout option in ms as the addon takes it (null: the configured one). */
function millis(value, what) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${what} must be a whole number of milliseconds from 0, got ${String(value)}`);
  }
  return value;
}

/**
 * A slot of a resource (`resourceLock.acquire(...)`), held until `release()` or until its
 * lease ends (renew a hold kept longer than the lease). A permit nobody releases is given back
 * when it is garbage-collected; release it yourself (or use `withLock`) to free it at once.
 */
class Permit {
  /** @param {object} nativePermit the addon's NativePermit */
  constructor(nativePermit, resource) {
    this._native = nativePermit;
    this.resource = resource;
    this._released = false;
  }

  /** How long the acquisition waited, ms. */
  get waitedMs() {
    return this._native.waitedMs;
  }

  /** Whether `release()` was called. */
  get released() {
    return this._released;
  }

  /**
   * Extends the hold's lease from now; resolves to false when the lease had already ended and
   * the slot may have been taken (stop working on the resource then).
   */
  async renew() {
    return nativeAsync(() => this._native.renew());
  }

  /** Gives the slot back; releasing twice is fine. */
  async release() {
    this._released = true;
    await nativeAsync(() => this._native.release());
  }
}

/**
 * A named resource of the engine's store (`engine.resource(name, settings)`): a lock
 * (`maxConcurrent` 1) or a semaphore, shared by every engine and process on the store.
 */
class ResourceLock {
  /** @param {object} nativeResource the addon's NativeResource */
  constructor(nativeResource) {
    this._native = nativeResource;
  }

  get name() {
    return this._native.name;
  }

  /** Its settings, every field filled in ({maxConcurrent, timeoutMs, contentionThresholdMs, leaseMs}). */
  get config() {
    return camelize(JSON.parse(native(() => this._native.configJson())));
  }

  /**
   * Takes a slot for `workflowId`, waiting up to `timeoutMs` (omitted: the resource's
   * timeout; 0: no wait). The wait runs off the JavaScript thread: the event loop keeps
   * running. Rejects with ResourceBusyError (who held it, how long it waited) when no slot
   * freed in time.
   * @returns {Promise<Permit>}
   */
  async acquire(workflowId, { timeoutMs } = {}) {
    if (typeof workflowId !== 'string') throw invalid('workflowId must be a string');
    const timeout = millis(timeoutMs, 'timeoutMs');
    return new Permit(await nativeAsync(() => this._native.acquire(workflowId, timeout)), this.name);
  }

  /**
   * Runs `fn(permit)` holding a slot for `workflowId` (acquired as `acquire` does, with
   * `options`), and releases it however `fn` ends; resolves to what `fn` returns.
   */
  async withLock(workflowId, fn, options) {
    if (typeof fn !== 'function') throw invalid('withLock needs a function (permit) => result');
    const permit = await this.acquire(workflowId, options);
    try {
      return await fn(permit);
    } finally {
      await permit.release();
    }
  }

  /**
   * Its statistics and current holders, as every process on the store sees them:
   * {resource, acquisitions, contentions, timeouts, totalWaitMs, maxWaitMs, holders:
   * [{holdId, holder, workflowId, acquiredAtMs, leaseUntilMs}]}.
   */
  async stats() {
    return camelize(JSON.parse(await nativeAsync(() => this._native.statsJson())));
  }

  /** Zeroes the statistics (holds stay). */
  async resetStats() {
    await nativeAsync(() => this._native.resetStats());
  }
}

module.exports = { ResourceLock, Permit };
