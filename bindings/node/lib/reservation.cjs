'use strict';
// A reservation: budget held for one call until it is settled or released. The addon is
// called with positional numbers and writes its answer into a typed array — reading an
// object's named properties across the boundary costs several times more.
const { native, nativeAsync, invalid, fromNative, ApprovalPendingError } = require('./errors.cjs');
const { toJson, requestOptionsJson } = require('./convert.cjs');

const scratch = new Float64Array(12);

/** The Settled object from the numbers the addon wrote. */
function settledFrom(a) {
  return {
    seq: a[0],
    costNanos: a[1],
    reservedNanos: a[2],
    overrunNanos: a[3],
    estimated: a[4] === 1,
    usageMissing: a[5] === 1,
    usage: { input: a[6], output: a[7], cacheRead: a[8], cacheWrite5m: a[9], cacheWrite1h: a[10], reasoning: a[11] },
  };
}

const n = (v) => (v === undefined || v === null ? 0 : v);

class Reservation {
  constructor(nativeReservation) {
    this.native = nativeReservation;
  }

  /** The worst case held, nano-USD. */
  get amountNanos() {
    return this.native.amountNanos;
  }

  /** The max_tokens to send (lower than asked under the clamp policy). */
  get maxOutputTokens() {
    return this.native.maxOutputTokens;
  }

  get ended() {
    return this.native.ended;
  }

  /**
   * For a reservation made from a provider request (`reserveRequest`): the request to send,
   * as the engine rewrote it (the output limit the reservation covers, OpenAI's
   * `stream_options.include_usage` on a chat stream). Null for other reservations.
   */
  get requestBody() {
    if (this._body === undefined) {
      const text = this.native.requestBody;
      this._body = text === null || text === undefined ? null : JSON.parse(text);
    }
    return this._body;
  }

  /** Books the provider's usage ({input, output, cacheRead, cacheWrite5m, cacheWrite1h, reasoning}). */
  settle(usage = {}) {
    if (usage === null || typeof usage !== 'object') throw invalid('usage must be an object');
    native(() => this.native.settleFast(n(usage.input), n(usage.output), n(usage.cacheRead), n(usage.cacheWrite5m),
      n(usage.cacheWrite1h), n(usage.reasoning), scratch));
    return settledFrom(scratch);
  }

  /** Books the usage in a provider's response body or usage object (format: "auto", "openai_chat", …). */
  settleJson(format, json) {
    native(() => this.native.settleJsonFast(format, typeof json === 'string' ? json : JSON.stringify(json), scratch));
    return settledFrom(scratch);
  }

  /**
   * Books whatever the call returned (a response body, an SDK result; an object or its JSON
   * text) in `format` ("auto", "openai_chat", "openai_responses", "anthropic", "gemini",
   * "langchain", "ai_sdk"): its usage, else its generated text — every choice, tool calls —
   * estimated by the engine and flagged. `status`: how the call ended — "ok", or "error" /
   * "aborted" for what a call that failed midway had produced (booked: the provider billed it).
   */
  settleResult(format, result, status = 'ok') {
    return native(() => this.native.settleResult(format, toJson(result), status));
  }

  /** Books a call without usage from the text it generated (status "ok", "error", "aborted"). */
  settleText(text, status = 'ok') {
    if (typeof text !== 'string') throw invalid('settleText takes the generated text as a string');
    return native(() => this.native.settleText(text, status));
  }

  /** Books a finished or cut stream; without the provider's usage the output is estimated. */
  settleStream(stream, status = 'ok') {
    native(() => this.native.settleStreamFast(stream, status, scratch));
    return settledFrom(scratch);
  }

  /** Gives the budget back: the call failed before costing anything ("error" or "aborted"). */
  release(status = 'error', reason) {
    native(() => this.native.release(status, reason ?? undefined));
  }
}

const cacheWriteCodes = { undefined: 0, null: 0, none: 0, '5m': 1, '1h': 2 };

/** Reserves on a native execution or scope from a request object (the fast, positional way). */
function reserveOn(target, req) {
  if (req === null || typeof req !== 'object') throw invalid('a call request must be an object');
  const cacheWrite = cacheWriteCodes[req.cacheWrite];
  if (cacheWrite === undefined) throw invalid(`cacheWrite must be '5m' or '1h', got ${String(req.cacheWrite)}`);
  const estimated = req.inputEstimated === undefined || req.inputEstimated === null ? 0 : req.inputEstimated ? 2 : 1;
  const flags = (req.stream ? 1 : 0) | (req.clampMaxTokens ? 2 : 0);
  return new Reservation(native(() => target.reserveFast(req.model, n(req.inputTokens), estimated, n(req.maxOutputTokens),
    flags, cacheWrite, req.provider ?? undefined)));
}

/**
 * Reserves a provider request on a native execution or scope: the engine reads it (prompt,
 * output limit in force, n, stream) and returns the reservation with the body to send.
 */
async function reserveRequestOn(target, format, body, options) {
  if (typeof format !== 'string') throw invalid('a request format must be a string');
  if (body === null || (typeof body !== 'object' && typeof body !== 'string')) throw invalid('a request body must be an object or its JSON text');
  const opts = requestOptionsJson(options);
  return new Reservation(await nativeAsync(() => target.reserveRequest(format, toJson(body), opts)));
}

/**
 * Runs `reserve()` (async) until it no longer meets a pending approval gate: the engine Node
 * opens never blocks a thread on a person, so a call over the execution's approval threshold
 * fails with ApprovalPendingError; `waitFor(id)` awaits the decision off the JavaScript thread
 * and the reservation is made again — the same gate finds the same approval, now decided
 * (approved: it goes through; denied: ApprovalDeniedError). A further gate can follow.
 */
async function throughApprovals(waitFor, reserve) {
  for (;;) {
    try {
      return await reserve();
    } catch (e) {
      const err = fromNative(e);
      if (!(err instanceof ApprovalPendingError)) throw err;
      await waitFor(err.approvalId);
    }
  }
}

module.exports = { Reservation, reserveOn, reserveRequestOn, throughApprovals };
