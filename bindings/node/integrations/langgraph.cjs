'use strict';
// wflo for LangGraph.js: a checkpoint saver that keeps a graph's checkpoints in wflo's store,
// as checkpoints of a wflo execution, so that a graph's state and what it cost live in one
// store, a run resumed in another process continues where it was, and
// `workflow.rollbackToCheckpoint(name)` rolls the graph back too.
//
// How LangGraph's records map onto wflo (all of them checkpoints of ONE execution):
//
//   LangGraph                          wflo checkpoint name                     record fields
//   checkpoint (thread, ns, id)        langgraph/<thread>/<ns>/<id>             {langgraph: "checkpoint", ids,
//                                                                                checkpoint (no channel values),
//                                                                                metadata, channels: changed ones}
//   putWrites (thread, ns, id, task)   langgraph-writes/<thread>/<ns>/<id>     {langgraph: "writes", ids, task_id,
//                                                                                task_path, writes: [[idx, channel, value]]}
//   deleteThread(thread)               langgraph-delete/<thread>                {langgraph: "delete", thread_id}
//
// Name parts are URI-encoded ("/" inside a thread id cannot split it). Each record is a BINARY
// checkpoint state (content type RECORD_CONTENT_TYPE, laid out as `encodeRecord` says): its
// fields, and each value as LangGraph serialised it (`serde.dumpsTyped`: a type and bytes), the
// bytes kept as they are — no base64, no JSON around them. Records saved before binary states
// are JSON states (values as {json} or {type, base64}); they are still read, and a thread
// started then continues with binary records. A checkpoint stores only the channels whose
// version changed (`newVersions`, as the validation suite expects of a saver that stores
// deltas); loading one walks its parent chain for the others.
//
// wflo checkpoints are append-only: the newest record of a name wins. A wflo rollback marks
// every later checkpoint superseded; superseded LangGraph checkpoints and writes are history —
// not listed, not "latest", not pending — so after `workflow.rollbackToCheckpoint(name)` the
// graph continues from the checkpoint rolled back to. (A superseded checkpoint fetched by its
// id is still returned, with the writes it had.) deleteThread records a tombstone: everything
// the thread stored before it is ignored from then on, even after a rollback.
//
// Each read brings the saver's index of the execution's records (names only) up to date and
// reads the records it needs by id, keeping them decoded in a small cache (a checkpoint's state
// never changes). The index is kept between reads: a read lists only the checkpoints saved
// since the last one it saw (`workflow.checkpointsSince`), and all of them again when the
// execution's number of rollbacks changed (a rollback changes which earlier ones are live).
// (Checkpoints pruned with the Rust API's `prune_checkpoints` are not seen by an index kept
// from before: make a new saver.)
const {
  BaseCheckpointSaver, TASKS, WRITES_IDX_MAP, compareWritesSortKeys, getCheckpointId, maxChannelVersion,
  writesSortKey,
} = require('@langchain/langgraph-checkpoint');
const { WfloWorkflow, currentWorkflow, Engine, BinaryState, InvalidArgumentError, StorageError } = require('../index.cjs');
// Loading the LangChain integration registers the runner `workflow.execute(graph)` uses.
require('./langchain.cjs');

const invalid = (message) => new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');

const CHECKPOINT = 'langgraph';
const WRITES = 'langgraph-writes';
const DELETE = 'langgraph-delete';

/** How many checkpoint states a saver keeps read (by execution, id, time and name). */
const CACHE_LIMIT = 4096;

/**
 * The content type of the saver's records, version 1 of their layout. A record is
 *
 *   u32 header length | header: UTF-8 JSON, the record's fields
 *   then per value, in order: u32 type length | type (UTF-8) | u32 data length | data
 *
 * (u32: unsigned, 32 bits, big-endian). In the header each value — `checkpoint`, `metadata`, a
 * channel's value (null: none), a write's value — is the index of its (type, data) pair; `data`
 * is LangGraph's serialisation of it, byte for byte. A later layout gets a new content type.
 */
const RECORD_CONTENT_TYPE = 'application/vnd.wflo.langgraph.v1';

const damaged = (why) => new StorageError(`a LangGraph record in the store cannot be read: ${why}`, 'STORAGE');

function u32(n) {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

/** A record's bytes: its fields (`header`) and its values' [type, bytes] pairs (see RECORD_CONTENT_TYPE). */
function encodeRecord(header, values) {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const parts = [u32(head.length), head];
  for (const [type, data] of values) {
    const t = Buffer.from(type, 'utf8');
    parts.push(u32(t.length), t, u32(data.byteLength), data);
  }
  return Buffer.concat(parts);
}

/**
 * A record's fields from its bytes, each value as `{type, bytes}` (a view of `data`, not a
 * copy) in place of its index. A truncated or malformed record is a StorageError.
 */
function decodeRecord(data) {
  let at = 0;
  const take = (n) => {
    if (n > data.length - at) throw damaged(`${RECORD_CONTENT_TYPE} ends before its last field`);
    at += n;
    return data.subarray(at - n, at);
  };
  const field = () => take(take(4).readUInt32BE(0));
  let header;
  try {
    header = JSON.parse(field().toString('utf8'));
  } catch (e) {
    throw e instanceof StorageError ? e : damaged(`its header is not JSON (${e.message})`);
  }
  const values = [];
  while (at < data.length) values.push({ type: field().toString('utf8'), bytes: field() });
  const value = (i) => {
    if (!Number.isInteger(i) || i < 0 || i >= values.length) throw damaged(`it has no value #${i}`);
    return values[i];
  };
  const list = (items) => {
    if (!Array.isArray(items)) throw damaged(`its ${header.langgraph} record has no list of values`);
    return items;
  };
  if (header?.langgraph === 'checkpoint') {
    return {
      ...header,
      checkpoint: value(header.checkpoint),
      metadata: value(header.metadata),
      channels: list(header.channels).map(([ch, version, i]) => [ch, version, i === null ? null : value(i)]),
    };
  }
  if (header?.langgraph === 'writes') return { ...header, writes: list(header.writes).map(([idx, ch, i]) => [idx, ch, value(i)]) };
  return header;
}

/**
 * A stored record's fields, whichever way it was saved: a binary record decoded, or the JSON
 * state saved before binary states (values as {json} or {type, base64}) as it is.
 */
function recordOf(state) {
  if (!(state instanceof BinaryState)) return state;
  if (state.contentType !== RECORD_CONTENT_TYPE) {
    throw damaged(`its content type is ${JSON.stringify(state.contentType)}, not ${RECORD_CONTENT_TYPE} (saved by another version of wflo/langgraph?)`);
  }
  return decodeRecord(state.data);
}

function enc(part) {
  try {
    return encodeURIComponent(part);
  } catch {
    throw invalid(`a LangGraph id is not valid Unicode: ${JSON.stringify(part)}`);
  }
}

/** The wflo checkpoint name of a LangGraph checkpoint. */
function checkpointName(threadId, checkpointNs, checkpointId) {
  return `${CHECKPOINT}/${enc(threadId)}/${enc(checkpointNs ?? '')}/${enc(checkpointId)}`;
}

/** Splits a wflo checkpoint name into [kind, …parts], or null when it is not one of ours. */
function parseName(name) {
  const parts = name.split('/');
  const kind = parts[0];
  if (!((kind === CHECKPOINT || kind === WRITES) && parts.length === 4) && !(kind === DELETE && parts.length === 2)) {
    return null;
  }
  try {
    return [kind, ...parts.slice(1).map(decodeURIComponent)];
  } catch {
    return null;
  }
}

const key = (threadId, ns, id) => JSON.stringify([threadId, ns, id]);

/** A thread id or namespace as the string LangGraph means (numbers are accepted as their text). */
function idString(value, what) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw invalid(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
}

function requireThread(config, action) {
  const threadId = config?.configurable?.thread_id;
  if (threadId === undefined || threadId === null) {
    throw invalid(`failed to ${action}: the RunnableConfig has no "thread_id" in its "configurable" property ` +
      '(pass one: graph.invoke(input, { configurable: { thread_id: "…" } }))');
  }
  return idString(threadId, 'thread_id');
}

/**
 * An index with `infos` (checkpoint infos saved after `base.lastSequence`) added, as a new
 * index: `base` and its maps and lists are left as they are (another read may be using them).
 * A delete record hides everything its thread stored before it, so it drops the thread's
 * records indexed so far; later ones are added again.
 */
function indexWith(base, infos, rollbacks) {
  const checkpoints = new Map(base.checkpoints);
  const writes = new Map(base.writes);
  const fresh = new Set(); // the lists made by this call (they may grow in place)
  let lastSequence = base.lastSequence;
  for (const info of [...infos].sort((a, b) => a.sequence - b.sequence)) {
    lastSequence = Math.max(lastSequence, info.sequence);
    const p = parseName(info.name);
    if (!p) continue;
    if (p[0] === DELETE) {
      for (const map of [checkpoints, writes]) {
        for (const [k, list] of map) if (list[0].threadId === p[1]) map.delete(k);
      }
      continue;
    }
    const rec = { info, kind: p[0], threadId: p[1], ns: p[2], id: p[3] };
    const map = rec.kind === CHECKPOINT ? checkpoints : writes;
    const k = key(rec.threadId, rec.ns, rec.id);
    const list = map.get(k);
    if (list && fresh.has(list)) {
      list.push(rec);
    } else {
      const made = list ? [...list, rec] : [rec];
      map.set(k, made);
      fresh.add(made);
    }
  }
  return { wf: base.wf, executionId: base.executionId, checkpoints, writes, lastSequence, rollbacks };
}

const sameJson = (a, b) => a === b || (a !== null && typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));

/**
 * A LangGraph checkpoint saver over wflo's store.
 *
 * Its checkpoints are checkpoints of one wflo execution: the workflow given, else a new
 * execution on the engine given, else the workflow current when the saver is used
 * (`workflow.execute(graph, …)`).
 */
class WfloCheckpointSaver extends BaseCheckpointSaver {
  /**
   * @param {object} [options]
   * @param {WfloWorkflow} [options.workflow] the workflow whose execution holds the checkpoints
   * @param {Engine} [options.engine] without a workflow: start a new execution on this engine
   * @param {string} [options.name] that execution's name (default "langgraph")
   * @param {object} [options.serde] LangGraph serializer (default: LangGraph's JsonPlusSerializer)
   */
  constructor(options = {}) {
    const { workflow, engine, name = 'langgraph', serde } = options ?? {};
    super(serde);
    if (workflow !== undefined && workflow !== null && !(workflow instanceof WfloWorkflow)) {
      throw invalid('WfloCheckpointSaver: workflow must be a WfloWorkflow');
    }
    if (engine !== undefined && engine !== null && !(engine instanceof Engine)) {
      throw invalid('WfloCheckpointSaver: engine must be a wflo Engine');
    }
    this._workflow = workflow ?? (engine ? new WfloWorkflow({ name, engine }) : null);
    this._cache = new Map();
    // The last index read of each workflow's execution, brought up to date on each read.
    this._kept = new WeakMap();
  }

  /** The workflow whose execution holds the checkpoints now (null outside any, without one given). */
  get workflow() {
    return this._workflow ?? currentWorkflow();
  }

  /** The wflo checkpoint name of a LangGraph checkpoint config: what `workflow.rollbackToCheckpoint` takes. */
  checkpointName(config) {
    const threadId = requireThread(config, 'name a checkpoint');
    const id = getCheckpointId(config);
    if (!id) throw invalid('checkpointName needs a config with a checkpoint_id');
    return checkpointName(threadId, idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns'), id);
  }

  /**
   * The LangGraph config of a checkpoint state wflo returned (`rollbackToCheckpoint`,
   * `latestCheckpoint`), or null when it is not a LangGraph checkpoint record.
   */
  static configOf(state) {
    if (state instanceof BinaryState && state.contentType !== RECORD_CONTENT_TYPE) return null;
    const record = recordOf(state);
    if (!record || record.langgraph !== 'checkpoint') return null;
    return {
      configurable: { thread_id: record.thread_id, checkpoint_ns: record.checkpoint_ns, checkpoint_id: record.checkpoint_id },
    };
  }

  async _wf() {
    const wf = this.workflow;
    if (!wf) {
      throw invalid('WfloCheckpointSaver has no workflow: pass new WfloCheckpointSaver({ workflow }) or ({ engine }), ' +
        'or use the graph inside workflow.execute()');
    }
    await wf.start();
    return wf;
  }

  // ---- serialisation ------------------------------------------------------------------

  /** A value as LangGraph serialises it: [type, bytes]. */
  async _dump(value) {
    const [type, data] = await this.serde.dumpsTyped(value);
    if (typeof type !== 'string' || !(data instanceof Uint8Array)) {
      throw invalid('the serializer\'s dumpsTyped must return [type (a string), data (a Uint8Array)]');
    }
    return [type, data];
  }

  /** A stored value loaded by the serializer: `{type, bytes}`, or as JSON records held them. */
  async _load(stored) {
    // A copy, of its own type (not a Buffer): the record it comes from stays cached.
    if (stored.bytes) return this.serde.loadsTyped(stored.type, new Uint8Array(stored.bytes));
    if (Object.prototype.hasOwnProperty.call(stored, 'json')) return this.serde.loadsTyped('json', JSON.stringify(stored.json));
    return this.serde.loadsTyped(stored.type, new Uint8Array(Buffer.from(stored.base64, 'base64')));
  }

  /** Saves a record as a binary checkpoint state: `header` with `values` put in by `ref`. */
  async _save(name, build) {
    const values = [];
    const ref = async (value) => values.push(await this._dump(value)) - 1;
    const header = await build(ref);
    const wf = await this._wf();
    await wf.checkpoint(name, new BinaryState(RECORD_CONTENT_TYPE, encodeRecord(header, values)));
  }

  // ---- reading the store --------------------------------------------------------------

  /**
   * The LangGraph records of the execution, indexed (names only; states are read on demand):
   * the index kept from the last read, brought up to date with the checkpoints saved since,
   * or read whole when there is none (or it is of another execution) or the execution's
   * number of rollbacks changed. Records are ordered by `sequence` (their order in the execution).
   */
  async _index(wf) {
    return (await this._picked(wf, null))[0];
  }

  /**
   * `[index, pick(index)]`: the index as `_index`, and the record the caller is about to read
   * (`pick`, a function of an index; null: none). The record the kept index picks is read in
   * the same call that brings the index up to date (one trip into the library per load) and
   * cached: a state never changes, so it stands even when the index was out of date and the
   * new one picks another.
   */
  async _picked(wf, pick) {
    const executionId = wf.executionId;
    const kept = this._kept.get(wf);
    let index;
    let rec = null;
    if (kept && kept.executionId === executionId) {
      rec = pick ? pick(kept) : null;
      let since;
      if (rec && !this._cache.has(this._cacheKey(wf, rec.info))) {
        since = await wf.checkpointsSinceWithState(kept.lastSequence, rec.info.id);
        this._keep(wf, rec.info, since.state);
      } else {
        since = await wf.checkpointsSince(kept.lastSequence);
      }
      const { checkpoints: infos, rollbacks } = since;
      if (rollbacks === kept.rollbacks) index = infos.length === 0 ? kept : indexWith(kept, infos, rollbacks);
      if (index !== kept) rec = null;
    }
    if (!index) {
      const { checkpoints: infos, rollbacks } = await wf.checkpointsSince(0);
      const empty = { wf, executionId, checkpoints: new Map(), writes: new Map(), lastSequence: 0 };
      index = indexWith(empty, infos, rollbacks);
    }
    this._kept.set(wf, index);
    return [index, rec ?? (pick ? pick(index) : null)];
  }

  /** The record that stands for a checkpoint: its newest live one, else its newest (history). */
  _chosen(index, threadId, ns, id) {
    const list = index.checkpoints.get(key(threadId, ns, id));
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i -= 1) if (!list[i].info.superseded) return list[i];
    return list[list.length - 1];
  }

  _cacheKey(wf, info) {
    return `${wf.executionId}|${info.sequence}|${info.createdAtMs}|${info.name}`;
  }

  async _state(wf, info) {
    const state = this._cache.get(this._cacheKey(wf, info));
    return state === undefined ? this._keep(wf, info, await wf.checkpointState(info.id)) : state;
  }

  /** A record's state as read from the store, decoded and cached. */
  _keep(wf, info, saved) {
    const state = recordOf(saved);
    if (this._cache.size >= CACHE_LIMIT) this._cache.delete(this._cache.keys().next().value);
    this._cache.set(this._cacheKey(wf, info), state);
    return state;
  }

  /** The pending writes of a checkpoint record, in LangGraph's order (deserialised). */
  async _pendingWrites(index, rec) {
    const list = index.writes.get(key(rec.threadId, rec.ns, rec.id)) ?? [];
    // A live checkpoint shows its live writes only: writes superseded by a rollback are undone.
    const visible = rec.info.superseded ? list : list.filter((w) => !w.info.superseded);
    const merged = new Map();
    for (const w of visible) {
      const state = await this._state(index.wf, w.info);
      const earlier = new Set(merged.keys());
      for (const [idx, channel, value] of state.writes) {
        const k = `${state.task_id},${idx}`;
        // As LangGraph's savers: a regular write is kept once; special ones (error, interrupt, …) are replaced.
        if (idx >= 0 && earlier.has(k)) continue;
        merged.set(k, { taskId: state.task_id, taskPath: state.task_path ?? '', idx, channel, value });
      }
    }
    const ordered = [...merged.values()].sort((a, b) =>
      compareWritesSortKeys(writesSortKey(a.taskPath, a.taskId, a.idx), writesSortKey(b.taskPath, b.taskId, b.idx)));
    return Promise.all(ordered.map(async (w) => [w.taskId, w.channel, await this._load(w.value)]));
  }

  /** The channel values of a checkpoint: its own changed channels, the rest from its ancestors. */
  async _channelValues(index, rec, state, versions) {
    const needed = new Map(Object.entries(versions ?? {}));
    const found = [];
    const take = (channels) => {
      for (const [ch, version, value] of channels ?? []) {
        if (needed.has(ch) && sameJson(needed.get(ch), version)) {
          needed.delete(ch);
          if (value !== null) found.push([ch, value]);
        }
      }
    };
    take(state.channels);
    const seen = new Set([rec.info.sequence]);
    let parentId = state.parent_checkpoint_id;
    while (needed.size > 0 && parentId) {
      const parent = this._chosen(index, rec.threadId, rec.ns, parentId);
      if (!parent || seen.has(parent.info.sequence)) break;
      seen.add(parent.info.sequence);
      const ps = await this._state(index.wf, parent.info);
      take(ps.channels);
      parentId = ps.parent_checkpoint_id;
    }
    if (needed.size > 0) {
      // Not on the parent chain (a checkpoint put without its parent): the thread's newest
      // record holding that channel version, as a blob table keyed by version would give.
      const others = [];
      for (const list of index.checkpoints.values()) {
        for (const r of list) if (r.threadId === rec.threadId && r.ns === rec.ns && !seen.has(r.info.sequence)) others.push(r);
      }
      others.sort((a, b) => (a.info.superseded - b.info.superseded) || (b.info.sequence - a.info.sequence));
      for (const r of others) {
        if (needed.size === 0) break;
        take((await this._state(index.wf, r.info)).channels);
      }
    }
    const values = await Promise.all(found.map(async ([ch, value]) => [ch, await this._load(value)]));
    return Object.fromEntries(values);
  }

  /** The CheckpointTuple of a checkpoint record. */
  async _tuple(index, rec, metadata) {
    const state = await this._state(index.wf, rec.info);
    const checkpoint = await this._load(state.checkpoint);
    checkpoint.channel_values = await this._channelValues(index, rec, state, checkpoint.channel_versions);
    const parentId = state.parent_checkpoint_id ?? undefined;
    if (checkpoint.v < 4 && parentId !== undefined) await this._migratePendingSends(index, rec, checkpoint, parentId);
    const tuple = {
      config: { configurable: { thread_id: rec.threadId, checkpoint_ns: rec.ns, checkpoint_id: rec.id } },
      checkpoint,
      metadata: metadata ?? (await this._load(state.metadata)),
      pendingWrites: await this._pendingWrites(index, rec),
    };
    if (parentId !== undefined) {
      tuple.parentConfig = { configurable: { thread_id: rec.threadId, checkpoint_ns: rec.ns, checkpoint_id: parentId } };
    }
    return tuple;
  }

  /** Checkpoints before format 4 kept pending sends as their parent's TASKS writes (as MemorySaver migrates them). */
  async _migratePendingSends(index, rec, checkpoint, parentId) {
    const parent = this._chosen(index, rec.threadId, rec.ns, parentId) ??
      { threadId: rec.threadId, ns: rec.ns, id: parentId, info: { superseded: false } };
    const sends = (await this._pendingWrites(index, parent)).filter(([, channel]) => channel === TASKS).map(([, , v]) => v);
    checkpoint.channel_values ??= {};
    checkpoint.channel_values[TASKS] = sends;
    checkpoint.channel_versions ??= {};
    const versions = Object.values(checkpoint.channel_versions);
    checkpoint.channel_versions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
  }

  // ---- BaseCheckpointSaver -------------------------------------------------------------

  async getTuple(config) {
    const threadIdRaw = config?.configurable?.thread_id;
    if (threadIdRaw === undefined || threadIdRaw === null) return undefined;
    const threadId = idString(threadIdRaw, 'thread_id');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    const id = getCheckpointId(config);
    const pick = (index) => {
      if (id) return this._chosen(index, threadId, ns, id);
      let rec = null;
      for (const list of index.checkpoints.values()) {
        const r = list[0];
        if (r.threadId !== threadId || r.ns !== ns) continue;
        const live = this._chosen(index, threadId, ns, r.id);
        if (live.info.superseded) continue;
        if (!rec || live.id > rec.id) rec = live;
      }
      return rec;
    };
    const [index, rec] = await this._picked(await this._wf(), pick);
    return rec ? this._tuple(index, rec) : undefined;
  }

  async *list(config, options) {
    const { before, limit, filter } = options ?? {};
    const c = config?.configurable ?? {};
    const threadId = c.thread_id === undefined || c.thread_id === null ? undefined : idString(c.thread_id, 'thread_id');
    const ns = c.checkpoint_ns === undefined || c.checkpoint_ns === null ? undefined : idString(c.checkpoint_ns, 'checkpoint_ns');
    const onlyId = c.checkpoint_id || undefined;
    const beforeId = before?.configurable?.checkpoint_id || undefined;
    if (limit !== undefined && limit !== null && limit <= 0) return;
    const index = await this._index(await this._wf());
    const candidates = [];
    for (const list of index.checkpoints.values()) {
      const r = list[0];
      if (threadId !== undefined && r.threadId !== threadId) continue;
      if (ns !== undefined && r.ns !== ns) continue;
      if (onlyId !== undefined && r.id !== onlyId) continue;
      if (beforeId !== undefined && !(r.id < beforeId)) continue;
      const chosen = this._chosen(index, r.threadId, r.ns, r.id);
      if (!chosen.info.superseded) candidates.push(chosen);
    }
    candidates.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    let left = limit ?? Infinity;
    for (const rec of candidates) {
      if (left <= 0) break;
      const metadata = await this._load((await this._state(index.wf, rec.info)).metadata);
      if (filter && !Object.entries(filter).every(([k, v]) => sameJson(metadata?.[k], v))) continue;
      left -= 1;
      yield await this._tuple(index, rec, metadata);
    }
  }

  async put(config, checkpoint, metadata, newVersions) {
    if (!config?.configurable) throw invalid('failed to put a checkpoint: the RunnableConfig has no "configurable" property');
    const threadId = requireThread(config, 'put a checkpoint');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    if (typeof checkpoint?.id !== 'string' || checkpoint.id === '') throw invalid('failed to put a checkpoint: it has no id');
    const parentId = config.configurable.checkpoint_id || null;
    const { channel_values: values = {}, ...rest } = checkpoint;
    await this._save(checkpointName(threadId, ns, checkpoint.id), async (ref) => {
      const channels = [];
      for (const [ch, version] of Object.entries(newVersions ?? {})) {
        const has = Object.prototype.hasOwnProperty.call(values ?? {}, ch);
        channels.push([ch, version, has ? await ref(values[ch]) : null]);
      }
      return {
        langgraph: 'checkpoint',
        thread_id: threadId,
        checkpoint_ns: ns,
        checkpoint_id: checkpoint.id,
        parent_checkpoint_id: parentId,
        checkpoint: await ref({ ...rest }),
        metadata: await ref(metadata ?? {}),
        channels,
      };
    });
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config, writes, taskId, taskPath) {
    const threadId = requireThread(config, 'put writes');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    const checkpointId = config.configurable.checkpoint_id;
    if (!checkpointId) throw invalid('failed to put writes: the RunnableConfig has no "checkpoint_id" in its "configurable" property');
    if (typeof taskId !== 'string') throw invalid('failed to put writes: taskId must be a string');
    await this._save(`${WRITES}/${enc(threadId)}/${enc(ns)}/${enc(checkpointId)}`, async (ref) => {
      const stored = [];
      for (const [i, [channel, value]] of (writes ?? []).entries()) stored.push([WRITES_IDX_MAP[channel] ?? i, channel, await ref(value)]);
      return {
        langgraph: 'writes',
        thread_id: threadId,
        checkpoint_ns: ns,
        checkpoint_id: checkpointId,
        task_id: taskId,
        task_path: taskPath ?? '',
        writes: stored,
      };
    });
  }

  async deleteThread(threadId) {
    const thread = idString(threadId, 'thread_id');
    const wf = await this._wf();
    const index = await this._index(wf);
    let any = false;
    for (const map of [index.checkpoints, index.writes]) {
      for (const list of map.values()) if (list[0].threadId === thread) any = true;
    }
    if (!any) return;
    await this._save(`${DELETE}/${enc(thread)}`, async () => ({ langgraph: 'delete', thread_id: thread }));
  }
}

module.exports = { WfloCheckpointSaver, checkpointName, RECORD_CONTENT_TYPE };
