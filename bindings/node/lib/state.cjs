'use strict';
// Checkpoint states of both kinds. A JSON state is any value JSON can hold. A binary state is
// bytes in the caller's own format (MessagePack, protobuf, a framework's own serialisation)
// named by a content type: stored as they are — no base64, no JSON around them — and returned
// byte for byte as a `BinaryState`. Which content types are valid is the engine's rule (1 to
// 255 printable ASCII characters without spaces), checked there, once for every face; so is
// the content type of bytes saved without one ("application/octet-stream").
const { invalid } = require('./errors.cjs');
const { stateJson } = require('./convert.cjs');

/** Bytes as a Buffer over the same memory (nothing copied), or null when `data` is not bytes. */
function asBuffer(data) {
  if (data instanceof Uint8Array) return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return null;
}

/**
 * A binary checkpoint state: `data`, bytes in the format `contentType` names (e.g.
 * "application/msgpack"). `workflow.checkpoint(name, new BinaryState(type, bytes))` saves one;
 * `rollbackToCheckpoint`, `latestCheckpoint` and `checkpointState` return one for a state saved
 * as bytes (and the parsed JSON for a JSON state), so `instanceof BinaryState` tells them apart.
 */
class BinaryState {
  /**
   * @param {string} contentType the format of the bytes (the engine checks it when they are saved)
   * @param {Uint8Array|ArrayBuffer} data the bytes: a Buffer, a Uint8Array or an ArrayBuffer,
   *   kept as a Buffer over the same memory (not copied here; `checkpoint` copies them when called)
   */
  constructor(contentType, data) {
    if (typeof contentType !== 'string') throw invalid(`a binary state's contentType must be a string, got ${typeof contentType}`);
    const bytes = asBuffer(data);
    if (bytes === null) throw invalid("a binary state's data must be a Buffer, a Uint8Array or an ArrayBuffer");
    /** @type {string} */
    this.contentType = contentType;
    /** @type {Buffer} */
    this.data = bytes;
  }
}

/**
 * What `checkpoint(name, state, options)` saves: `{json}` (the text of a JSON state) or
 * `{contentType, data}` for a BinaryState or raw bytes — a Buffer, Uint8Array or ArrayBuffer
 * with `options.contentType`, else `contentType` null (the engine stores such bytes as
 * "application/octet-stream"). A content type given with
 * anything else is refused: it would be silently ignored otherwise. Either way the state is
 * taken now, when `checkpoint` is called (the bytes copied, as the JSON is serialised): the
 * save runs later, and the caller may reuse its buffer meanwhile.
 */
function stateToSave(state, options) {
  if (options !== undefined && options !== null && typeof options !== 'object') throw invalid('checkpoint options must be an object');
  const contentType = options?.contentType ?? null;
  if (contentType !== null && typeof contentType !== 'string') throw invalid(`contentType must be a string, got ${typeof contentType}`);
  if (state instanceof BinaryState) {
    if (contentType !== null) throw invalid('contentType is for raw bytes: a BinaryState carries its own');
    return { contentType: state.contentType, data: Buffer.from(state.data) };
  }
  const bytes = asBuffer(state);
  if (bytes !== null) return { contentType, data: Buffer.from(bytes) };
  if (contentType !== null) throw invalid('contentType is for raw bytes (a Buffer, Uint8Array or ArrayBuffer); a JSON state has none');
  return { json: stateJson(state) };
}

/** A state the addon returned (JSON text, or `{contentType, bytes}`) as it was saved. */
function savedState(native) {
  return typeof native === 'string' ? JSON.parse(native) : new BinaryState(native.contentType, native.bytes);
}

module.exports = { BinaryState, stateToSave, savedState };
