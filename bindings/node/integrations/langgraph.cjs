'use strict';
// wflo for LangGraph.js: a checkpoint saver that keeps a graph's checkpoints in wflo's store,
// as checkpoints of a wflo execution, so that a graph's state and what it cost live in one
// store, a run resumed in another process continues where it was, and
// `workflow.rollbackToCheckpoint(name)` rolls the graph back too.
//
// The saver's logic is wflo's core, written once for every face's saver (Python's
// WfloCheckpointSaver and this one): core/src/langgraph (`wflo_core::langgraph::Checkpointer`,
// reached through the addon's LangGraphCheckpointer, bindings/node/src/langgraph.rs) decides
// the records stored and their one layout (RECORD_CONTENT_TYPE, binary checkpoint states
// holding each value as LangGraph's serializer wrote it, byte for byte), their names
// (`langgraph/<thread>/<ns>/<id>`, `langgraph-writes/…`, `langgraph-delete/<thread>`), which
// record is live, superseded or deleted, where a channel's value comes from (a checkpoint
// stores only the channels whose version changed; the rest come from its parent chain) and
// which writes are pending. Records earlier savers wrote (JSON states, the earlier JS layout,
// Python's msgpack records) still read.
//
// This file converts only: it serialises with the serializer (`serde.dumpsTyped`, a type and
// bytes), calls the checkpointer once per operation (off the JavaScript thread, as the
// workflow's checkpoint methods run), and builds LangGraph's CheckpointTuple from what it
// returns. What stays here is LangGraph.js's own: argument checks, `list`'s metadata filter,
// the migration of pending sends of checkpoints before format 4, and integer channel versions
// kept for threads stored with them (new ones get core's string versions: getNextVersion).
//
// As in core: a wflo rollback marks every later checkpoint superseded; superseded LangGraph
// checkpoints and writes are history — not listed, not "latest", not pending — so after
// `workflow.rollbackToCheckpoint(name)` the graph continues from the checkpoint rolled back to
// (its writes stored before it are undone too). A superseded checkpoint fetched by its id is
// still returned. deleteThread records a tombstone: everything the thread stored before it is
// hidden from then on, even after a rollback.
const { BaseCheckpointSaver, TASKS, WRITES_IDX_MAP, getCheckpointId, maxChannelVersion } = require('@langchain/langgraph-checkpoint');
const { WfloWorkflow, currentWorkflow, Engine, BinaryState, InvalidArgumentError } = require('../index.cjs');
const { native, nativeAsync } = require('../lib/errors.cjs');
// Loading the LangChain integration registers the runner `workflow.execute(graph)` uses.
require('./langchain.cjs');

// The addon, loaded when first needed (as `require('wflo')` loads it).
const addon = () => require('../lib/native.cjs');

const invalid = (message) => new InvalidArgumentError(`invalid argument: ${message}`, 'INVALID_ARGUMENT');

/**
 * The content type of the saver's records (core's `RECORD_CONTENT_TYPE`): each LangGraph
 * checkpoint, set of writes and tombstone is a binary checkpoint state of this type.
 */
const RECORD_CONTENT_TYPE = 'application/vnd.wflo.langgraph.v1';

/** A thread id or namespace as the string LangGraph means (numbers are accepted as their text). */
function idString(value, what) {
  let s;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
  else throw invalid(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  if (typeof s.isWellFormed === 'function' && !s.isWellFormed()) throw invalid(`a LangGraph id is not valid Unicode: ${JSON.stringify(s)}`);
  return s;
}

function requireThread(config, action) {
  const threadId = config?.configurable?.thread_id;
  if (threadId === undefined || threadId === null) {
    throw invalid(`failed to ${action}: the RunnableConfig has no "thread_id" in its "configurable" property ` +
      '(pass one: graph.invoke(input, { configurable: { thread_id: "…" } }))');
  }
  return idString(threadId, 'thread_id');
}

/** Bytes as a Buffer over the same memory, as the addon takes them. */
const asBuffer = (data) => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/**
 * A request in the form core's saver takes (`wflo_core::langgraph::wire`): its JSON, each
 * value's [type, length] listed under "values", and the values' bytes one after another.
 */
function wireRequest(request, values) {
  if (values.length === 0) return [JSON.stringify(request), null];
  request.values = values.map(([type, data]) => [type, data.byteLength]);
  return [JSON.stringify(request), Buffer.concat(values.map(([, data]) => data))];
}

/** An answer of core's saver: its JSON parsed, and its values, each [type, Buffer]. */
const wireAnswer = (answer) => [JSON.parse(answer.json), answer.values];

// Names, channel versions and whose checkpoint a state is read no execution: one checkpointer
// answers them, at once (LangGraph.js asks for a version synchronously).
let plain = null;
function callSync(request, values = []) {
  const [text, bytes] = wireRequest(request, values);
  plain ??= native(() => new (addon().LangGraphCheckpointer)());
  return wireAnswer(native(() => plain.callSync(text, bytes)))[0];
}

/** The wflo checkpoint name of a LangGraph checkpoint (core's `checkpoint_name`). */
function checkpointName(threadId, checkpointNs, checkpointId) {
  const thread = idString(threadId, 'thread_id');
  const ns = idString(checkpointNs ?? '', 'checkpoint_ns');
  const id = idString(checkpointId, 'checkpoint_id');
  return callSync({ op: 'name', thread, ns, id });
}

const sameJson = (a, b) => a === b || (a !== null && typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));

const configFor = (thread, ns, id) => ({ configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: id } });

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
    // Core's checkpointer: it keeps the index of the execution's records between operations.
    this._checkpointer = null;
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
    return checkpointName(threadId, config.configurable.checkpoint_ns ?? '', id);
  }

  /**
   * The LangGraph config of a checkpoint state wflo returned (`rollbackToCheckpoint`,
   * `latestCheckpoint`), or null when it is not a LangGraph checkpoint record. A binary state
   * of the saver's content type that cannot be read is a StorageError.
   */
  static configOf(state) {
    let value;
    if (state instanceof BinaryState) {
      value = [state.contentType, asBuffer(state.data)];
    } else if (state !== null && typeof state === 'object' && !Array.isArray(state)) {
      value = ['', Buffer.from(JSON.stringify(state), 'utf8')]; // a JSON state: type ""
    } else {
      return null;
    }
    const key = callSync({ op: 'key_of', state: 0 }, [value]);
    return key ? configFor(key.thread, key.ns, key.id) : null;
  }

  /** The native execution the checkpoints are of (the workflow started, or reopened, first). */
  async _exec() {
    const wf = this.workflow;
    if (!wf) {
      throw invalid('WfloCheckpointSaver has no workflow: pass new WfloCheckpointSaver({ workflow }) or ({ engine }), ' +
        'or use the graph inside workflow.execute()');
    }
    await wf.start();
    this._checkpointer ??= native(() => new (addon().LangGraphCheckpointer)());
    return wf._native;
  }

  // ---- serialisation ------------------------------------------------------------------

  /** A value as LangGraph serialises it: [type, bytes]. */
  async _dump(value) {
    const [type, data] = await this.serde.dumpsTyped(value);
    if (typeof type !== 'string' || !(data instanceof Uint8Array)) {
      throw invalid('the serializer\'s dumpsTyped must return [type (a string), data (a Uint8Array)]');
    }
    return [type, asBuffer(data)];
  }

  /** A stored value loaded by the serializer (given a Uint8Array of its own, not a Buffer). */
  _load(type, bytes) {
    return this.serde.loadsTyped(type, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** Pending writes as core answers them ([taskId, channel, value index]), loaded. */
  _loadWrites(writes, values) {
    return Promise.all(writes.map(async ([taskId, channel, i]) => [taskId, channel, await this._load(...values[i])]));
  }

  /** One request to core's saver on `exec`'s records: `[answer, values]`. */
  async _call(exec, request, values = []) {
    const [text, bytes] = wireRequest(request, values);
    return wireAnswer(await nativeAsync(() => this._checkpointer.call(exec, text, bytes)));
  }

  // ---- tuples -------------------------------------------------------------------------

  /** LangGraph's CheckpointTuple of core's answer `t` to a get (its metadata loaded already, or not). */
  async _tuple(exec, t, values, metadata) {
    const checkpoint = await this._load(...values[t.checkpoint]);
    const channels = await Promise.all(t.channel_values.map(async ([ch, i]) => [ch, await this._load(...values[i])]));
    checkpoint.channel_values = Object.fromEntries(channels);
    const parentId = t.parent ?? undefined;
    if (checkpoint.v < 4 && parentId !== undefined) await this._migratePendingSends(exec, t, checkpoint, parentId);
    const tuple = {
      config: configFor(t.thread, t.ns, t.id),
      checkpoint,
      metadata: metadata ?? (await this._load(...values[t.metadata])),
      pendingWrites: await this._loadWrites(t.pending_writes, values),
    };
    if (parentId !== undefined) tuple.parentConfig = configFor(t.thread, t.ns, parentId);
    return tuple;
  }

  /** Checkpoints before format 4 kept pending sends as their parent's TASKS writes (as MemorySaver migrates them). */
  async _migratePendingSends(exec, t, checkpoint, parentId) {
    const [answer, values] = await this._call(exec, { op: 'pending_writes', thread: t.thread, ns: t.ns, id: parentId });
    const sends = await this._loadWrites(answer.pending_writes.filter(([, channel]) => channel === TASKS), values);
    checkpoint.channel_values ??= {};
    checkpoint.channel_values[TASKS] = sends.map(([, , v]) => v);
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
    const id = getCheckpointId(config) || null;
    const exec = await this._exec();
    const [t, values] = await this._call(exec, { op: 'get', thread: threadId, ns, id });
    return t ? this._tuple(exec, t, values) : undefined;
  }

  async *list(config, options) {
    const { before, limit, filter } = options ?? {};
    const c = config?.configurable ?? {};
    const threadId = c.thread_id === undefined || c.thread_id === null ? null : idString(c.thread_id, 'thread_id');
    const ns = c.checkpoint_ns === undefined || c.checkpoint_ns === null ? null : idString(c.checkpoint_ns, 'checkpoint_ns');
    const onlyId = c.checkpoint_id || null;
    const beforeId = before?.configurable?.checkpoint_id || null;
    if (limit !== undefined && limit !== null && limit <= 0) return;
    const exec = await this._exec();
    const [keys] = await this._call(exec, { op: 'list', thread: threadId, ns, id: onlyId, before: beforeId });
    let left = limit ?? Infinity;
    for (const [thread, ckptNs, id] of keys) {
      if (left <= 0) break;
      const [t, values] = await this._call(exec, { op: 'get', thread, ns: ckptNs, id });
      if (!t) continue; // deleted meanwhile
      const metadata = await this._load(...values[t.metadata]);
      if (filter && !Object.entries(filter).every(([k, v]) => sameJson(metadata?.[k], v))) continue;
      left -= 1;
      yield await this._tuple(exec, t, values, metadata);
    }
  }

  async put(config, checkpoint, metadata, newVersions) {
    if (!config?.configurable) throw invalid('failed to put a checkpoint: the RunnableConfig has no "configurable" property');
    const threadId = requireThread(config, 'put a checkpoint');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    if (typeof checkpoint?.id !== 'string' || checkpoint.id === '') throw invalid('failed to put a checkpoint: it has no id');
    const checkpointId = idString(checkpoint.id, 'checkpoint id');
    const parentId = config.configurable.checkpoint_id || null;
    const { channel_values: values, ...rest } = checkpoint;
    const own = values ?? {};
    const dumped = [this._dump({ ...rest }), this._dump(metadata ?? {})];
    const channels = Object.entries(newVersions ?? {}).map(([ch, version]) => {
      if (!Object.prototype.hasOwnProperty.call(own, ch)) return [ch, version ?? null, null];
      return [ch, version ?? null, dumped.push(this._dump(own[ch])) - 1];
    });
    const stored = await Promise.all(dumped);
    const exec = await this._exec();
    await this._call(exec, {
      op: 'put', thread: threadId, ns, id: checkpointId, parent: parentId === null ? null : String(parentId),
      checkpoint: 0, metadata: 1, channels, versions: checkpoint.channel_versions ?? {},
    }, stored);
    return configFor(threadId, ns, checkpointId);
  }

  async putWrites(config, writes, taskId, taskPath) {
    const threadId = requireThread(config, 'put writes');
    const ns = idString(config.configurable.checkpoint_ns ?? '', 'checkpoint_ns');
    const checkpointId = config.configurable.checkpoint_id;
    if (!checkpointId) throw invalid('failed to put writes: the RunnableConfig has no "checkpoint_id" in its "configurable" property');
    if (typeof taskId !== 'string') throw invalid('failed to put writes: taskId must be a string');
    const stored = await Promise.all((writes ?? []).map(([, value]) => this._dump(value)));
    const exec = await this._exec();
    await this._call(exec, {
      op: 'put_writes', thread: threadId, ns, id: idString(checkpointId, 'checkpoint_id'), task_id: taskId,
      task_path: taskPath ?? '', writes: (writes ?? []).map(([channel], i) => [WRITES_IDX_MAP[channel] ?? i, channel, i]),
    }, stored);
  }

  /**
   * The channel version after `current`, unique across branches (core's `next_version`): its
   * number plus one, zero-padded to 32 digits, then "." and 16 random digits — so versions
   * sort by their number as strings (LangGraph.js compares string versions as strings), and
   * after a rollback or a fork two branches never store different values under one channel
   * version. The same versions Python's saver gives, so either saver continues the other's
   * threads. A thread an earlier saver stored with LangGraph.js's integer versions keeps
   * integers: LangGraph.js's maxChannelVersion orders a mix of numbers and strings by their
   * text, which would put an old integer above every new string version.
   */
  getNextVersion(current) {
    if (typeof current === 'number') return super.getNextVersion(current);
    if (current !== undefined && current !== null && typeof current !== 'string') {
      throw invalid(`a channel version must be a string or a number, got ${typeof current}`);
    }
    return callSync({ op: 'next_version', current: current ?? null });
  }

  async deleteThread(threadId) {
    const thread = idString(threadId, 'thread_id');
    const exec = await this._exec();
    await this._call(exec, { op: 'delete_thread', thread });
  }

  /** Deletes the checkpoints (and their writes) whose metadata names one of `runIds` (`run_id`). */
  async deleteForRuns(runIds) {
    const wanted = new Set([...(runIds ?? [])].map(String));
    if (wanted.size === 0) return;
    const doomed = new Map();
    for await (const t of this.list(undefined)) {
      if (!wanted.has(String(t.metadata?.run_id))) continue;
      const c = t.config.configurable;
      if (!doomed.has(c.thread_id)) doomed.set(c.thread_id, []);
      doomed.get(c.thread_id).push([c.checkpoint_ns, c.checkpoint_id]);
    }
    const exec = await this._exec();
    for (const [thread, checkpoints] of doomed) {
      await this._call(exec, { op: 'delete_checkpoints', thread, checkpoints });
    }
  }

  /**
   * Copies a thread's live checkpoints and their writes to another thread (oldest first, each
   * with its parent chain; one whose parent is not copied gets all its values).
   */
  async copyThread(sourceThreadId, targetThreadId) {
    const source = idString(sourceThreadId, 'source thread_id');
    const target = idString(targetThreadId, 'target thread_id');
    const exec = await this._exec();
    await this._call(exec, { op: 'copy_thread', source, target });
  }

  /**
   * `strategy` "keep_latest" (the default): each namespace of each thread keeps its latest
   * checkpoint, stored again with all its channel values, and the rest is deleted; "delete":
   * the threads are deleted.
   */
  async prune(threadIds, { strategy = 'keep_latest' } = {}) {
    if (strategy !== 'keep_latest' && strategy !== 'delete') {
      throw invalid(`prune strategy must be 'keep_latest' or 'delete', got ${JSON.stringify(strategy)}`);
    }
    const threads = [...(threadIds ?? [])].map((t) => idString(t, 'thread_id'));
    if (strategy === 'delete') {
      for (const thread of threads) await this.deleteThread(thread);
      return;
    }
    const exec = await this._exec();
    await this._call(exec, { op: 'prune', threads });
  }
}

module.exports = { WfloCheckpointSaver, checkpointName, RECORD_CONTENT_TYPE };
