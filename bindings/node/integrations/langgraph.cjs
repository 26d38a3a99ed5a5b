'use strict';
// wflo for LangGraph.js: a checkpoint saver that keeps a graph's checkpoints in wflo's store,
// as checkpoints of a wflo execution, so that a graph's state and what it cost live in one
// store, a run resumed in another process continues where it was, and
// `workflow.rollbackToCheckpoint(name)` rolls the graph back too.
//
// How LangGraph's records map onto wflo (all of them JSON checkpoints of ONE execution):
//
//   LangGraph                          wflo checkpoint name                     state (JSON)
//   checkpoint (thread, ns, id)        langgraph/<thread>/<ns>/<id>             {langgraph: "checkpoint", ids,
//                                                                                checkpoint (no channel values),
//                                                                                metadata, channels: changed ones}
//   putWrites (thread, ns, id, task)   langgraph-writes/<thread>/<ns>/<id>     {langgraph: "writes", ids, task_id,
//                                                                                task_path, writes: [[idx, channel, value]]}
//   deleteThread(thread)               langgraph-delete/<thread>                {langgraph: "delete", thread_id}
//
// Name parts are URI-encoded ("/" inside a thread id cannot split it). Values are LangGraph's
// own serialisation (`serde.dumpsTyped`): JSON ones are stored as JSON (readable in the
// store), anything else as base64. A checkpoint stores only the channels whose version
// changed (`newVersions`, as the validation suite expects of a saver that stores deltas);
// loading one walks its parent chain for the others.
//
// wflo checkpoints are append-only: the newest record of a name wins. A wflo rollback marks
// every later checkpoint superseded; superseded LangGraph checkpoints and writes are history —
// not listed, not "latest", not pending — so after `workflow.rollbackToCheckpoint(name)` the
// graph continues from the checkpoint rolled back to. (A superseded checkpoint fetched by its
// id is still returned, with the writes it had.) deleteThread records a tombstone: everything
// the thread stored before it is ignored from then on, even after a rollback.
//
// Each read lists the execution's checkpoints (names only) and reads the states it needs by id
// — through the native execution, as WfloWorkflow has no public "state of checkpoint N" — and
// keeps them in a small cache (a checkpoint's state never changes).
const {
  BaseCheckpointSaver, TASKS, WRITES_IDX_MAP, compareWritesSortKeys, getCheckpointId, maxChannelVersion,
  writesSortKey,
} = require('@langchain/langgraph-checkpoint');
const { WfloWorkflow, currentWorkflow, Engine, InvalidArgumentError } = require('../index.cjs');
// Loading the LangChain integration registers the runner `workflow.execute(graph)` uses.
require('./langchain.cjs');

const invalid = (message) => new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');

const CHECKPOINT = 'langgraph';
const WRITES = 'langgraph-writes';
const DELETE = 'langgraph-delete';

/** How many checkpoint states a saver keeps read (by execution, id, time and name). */
const CACHE_LIMIT = 4096;

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

  /** The LangGraph config of a checkpoint state wflo returned (`rollbackToCheckpoint`, `latestCheckpoint`), or null. */
  static configOf(state) {
    if (!state || state.langgraph !== 'checkpoint') return null;
    return {
      configurable: { thread_id: state.thread_id, checkpoint_ns: state.checkpoint_ns, checkpoint_id: state.checkpoint_id },
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

  /** A value as LangGraph serialises it, in a JSON-holdable form. */
  async _dump(value) {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    if (type === 'json') {
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        return { json: JSON.parse(text) };
      } catch {
        // Not UTF-8 JSON after all (a custom serializer): keep the bytes.
      }
    }
    return { type, base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }

  async _load(stored) {
    if (stored && Object.prototype.hasOwnProperty.call(stored, 'json')) {
      return this.serde.loadsTyped('json', JSON.stringify(stored.json));
    }
    const buf = Buffer.from(stored.base64, 'base64');
    return this.serde.loadsTyped(stored.type, new Uint8Array(buf));
  }

  // ---- reading the store --------------------------------------------------------------

  /**
   * The LangGraph records of the execution, indexed (names only; states are read on demand).
   * Records are ordered by `sequence` (their order in the execution).
   */
  async _index(wf) {
    const infos = await wf.checkpoints();
    const deletedBefore = new Map();
    const parsed = [];
    for (const info of infos) {
      const p = parseName(info.name);
      if (!p) continue;
      if (p[0] === DELETE) deletedBefore.set(p[1], Math.max(deletedBefore.get(p[1]) ?? 0, info.sequence));
      else parsed.push({ info, kind: p[0], threadId: p[1], ns: p[2], id: p[3] });
    }
    const checkpoints = new Map();
    const writes = new Map();
    for (const rec of parsed) {
      if (rec.info.sequence < (deletedBefore.get(rec.threadId) ?? 0)) continue;
      const map = rec.kind === CHECKPOINT ? checkpoints : writes;
      const k = key(rec.threadId, rec.ns, rec.id);
      if (!map.has(k)) map.set(k, []);
      map.get(k).push(rec);
    }
    for (const list of [...checkpoints.values(), ...writes.values()]) list.sort((a, b) => a.info.sequence - b.info.sequence);
    return { wf, checkpoints, writes };
  }

  /** The record that stands for a checkpoint: its newest live one, else its newest (history). */
  _chosen(index, threadId, ns, id) {
    const list = index.checkpoints.get(key(threadId, ns, id));
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i -= 1) if (!list[i].info.superseded) return list[i];
    return list[list.length - 1];
  }

  async _state(wf, info) {
    const k = `${wf.executionId}|${info.sequence}|${info.createdAtMs}|${info.name}`;
    let state = this._cache.get(k);
    if (state === undefined) {
      state = await wf.checkpointState(info.id);
      if (this._cache.size >= CACHE_LIMIT) this._cache.delete(this._cache.keys().next().value);
      this._cache.set(k, state);
    }
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
    const index = await this._index(await this._wf());
    const id = getCheckpointId(config);
    let rec = null;
    if (id) {
      rec = this._chosen(index, threadId, ns, id);
    } else {
      for (const list of index.checkpoints.values()) {
        const r = list[0];
        if (r.threadId !== threadId || r.ns !== ns) continue;
        const live = this._chosen(index, threadId, ns, r.id);
        if (live.info.superseded) continue;
        if (!rec || live.id > rec.id) rec = live;
      }
    }
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
    const channels = [];
    for (const [ch, version] of Object.entries(newVersions ?? {})) {
      const has = Object.prototype.hasOwnProperty.call(values ?? {}, ch);
      channels.push([ch, version, has ? await this._dump(values[ch]) : null]);
    }
    const state = {
      langgraph: 'checkpoint',
      thread_id: threadId,
      checkpoint_ns: ns,
      checkpoint_id: checkpoint.id,
      parent_checkpoint_id: parentId,
      checkpoint: await this._dump({ ...rest }),
      metadata: await this._dump(metadata ?? {}),
      channels,
    };
    const wf = await this._wf();
    await wf.checkpoint(checkpointName(threadId, ns, checkpoint.id), state);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config, writes, taskId, taskPath) {
    const threadId = requireThread(config, 'put writes');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    const checkpointId = config.configurable.checkpoint_id;
    if (!checkpointId) throw invalid('failed to put writes: the RunnableConfig has no "checkpoint_id" in its "configurable" property');
    if (typeof taskId !== 'string') throw invalid('failed to put writes: taskId must be a string');
    const stored = [];
    for (const [i, [channel, value]] of (writes ?? []).entries()) {
      stored.push([WRITES_IDX_MAP[channel] ?? i, channel, await this._dump(value)]);
    }
    const state = {
      langgraph: 'writes',
      thread_id: threadId,
      checkpoint_ns: ns,
      checkpoint_id: checkpointId,
      task_id: taskId,
      task_path: taskPath ?? '',
      writes: stored,
    };
    const wf = await this._wf();
    await wf.checkpoint(`${WRITES}/${enc(threadId)}/${enc(ns)}/${enc(checkpointId)}`, state);
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
    await wf.checkpoint(`${DELETE}/${enc(thread)}`, { langgraph: 'delete', thread_id: thread });
  }
}

module.exports = { WfloCheckpointSaver, checkpointName };
