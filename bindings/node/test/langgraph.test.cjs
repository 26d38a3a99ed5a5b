'use strict';
// WfloCheckpointSaver beyond LangGraph's validation suite: values JSON cannot hold, the binary
// records it stores (and the JSON ones it stored before, still read), wflo rollbacks seen from
// LangGraph, deleteThread, where the saver finds its execution, and its channel versions.
const test = require('node:test');
const assert = require('node:assert/strict');
const { MemorySaver, emptyCheckpoint, uuid6 } = require('@langchain/langgraph-checkpoint');
const wflo = require('..');
const { WfloCheckpointSaver, checkpointName, RECORD_CONTENT_TYPE } = require('wflo/langgraph');
const fixture = require('./fixtures/langgraph-json-records.json');

const memory = () => wflo.Engine.open('memory://');

function checkpoint(values, versions) {
  return { ...emptyCheckpoint(), id: uuid6(-3), channel_values: values, channel_versions: versions };
}

const meta = (step) => ({ source: 'loop', step, parents: {} });

test('values JSON cannot hold come back as LangGraph\'s own saver returns them', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'values', engine });
  const ours = new WfloCheckpointSaver({ workflow: wf });
  const theirs = new MemorySaver();
  const values = {
    bytes: new Uint8Array([0, 1, 2, 250, 255]),
    nested: { map: new Map([['a', 1]]), set: new Set([1, 2]), bytes: new Uint8Array([9]), missing: undefined },
    text: 'naïve ☃ \u{1F600}',
    big: Number.MAX_SAFE_INTEGER,
  };
  const versions = { bytes: 1, nested: 1, text: 1, big: 1 };
  const cp = checkpoint(values, versions);
  const config = { configurable: { thread_id: 't', checkpoint_ns: '' } };
  const a = await ours.put(config, cp, meta(0), versions);
  const b = await theirs.put(config, cp, meta(0), versions);
  await ours.putWrites(a, [['nested', new Set(['w'])], ['text', 'w']], 'task-1');
  await theirs.putWrites(b, [['nested', new Set(['w'])], ['text', 'w']], 'task-1');
  const got = await ours.getTuple(a);
  assert.deepEqual(got, await theirs.getTuple(b));
  // A write of raw bytes keeps its type (MemorySaver 1.2.2 loads every write as JSON, so it cannot say).
  await ours.putWrites(a, [['bytes', new Uint8Array([7, 8])]], 'task-2');
  assert.deepEqual((await ours.getTuple(a)).pendingWrites.at(-1), ['task-2', 'bytes', new Uint8Array([7, 8])]);
  assert.ok(got.checkpoint.channel_values.bytes instanceof Uint8Array);
  assert.ok(got.checkpoint.channel_values.nested.map instanceof Map);
  // The stored records are binary states: LangGraph's bytes as they are, no base64.
  const latest = await wf.latestCheckpoint();
  assert.ok(latest instanceof wflo.BinaryState);
  assert.equal(latest.contentType, RECORD_CONTENT_TYPE);
  assert.equal(readRecord(latest.data).header.langgraph, 'writes');
  const state = await wf.rollbackToCheckpoint(checkpointName('t', '', cp.id));
  assert.deepEqual(WfloCheckpointSaver.configOf(state), a);
  const record = readRecord(state.data);
  assert.equal(record.header.langgraph, 'checkpoint');
  const stored = Object.fromEntries(record.header.channels.map(([ch, v, i]) => [ch, [v, record.values[i]]]));
  assert.deepEqual(stored.text, [1, ['json', Buffer.from(JSON.stringify('naïve ☃ \u{1F600}'))]]);
  assert.deepEqual(stored.bytes, [1, ['bytes', Buffer.from([0, 1, 2, 250, 255])]]);
  assert.ok(!state.data.includes(Buffer.from(Buffer.from([0, 1, 2, 250, 255]).toString('base64'))), 'no base64 of the bytes');
  await engine.close();
});

/**
 * A record's bytes read by the layout RECORD_CONTENT_TYPE documents, independently of the
 * saver: u32 header length, header JSON, then (u32 type length, type, u32 data length, data)
 * per value.
 */
function readRecord(data) {
  let at = 0;
  const field = () => {
    const n = data.readUInt32BE(at);
    at += 4 + n;
    assert.ok(at <= data.length, 'a field runs past the end of the record');
    return data.subarray(at - n, at);
  };
  const header = JSON.parse(field().toString('utf8'));
  const values = [];
  while (at < data.length) values.push([field().toString('utf8'), Buffer.from(field())]);
  return { header, values };
}

test('records saved as JSON before binary states still load, and their threads continue in binary', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'upgraded', engine });
  // The old saver's records, as they are in a store written before binary states.
  for (const { name, state } of fixture.records) await wf.checkpoint(name, state);
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const [c1, , c2] = fixture.records.map((r) => r.state);
  const thread = { configurable: { thread_id: 'old/thread', checkpoint_ns: '' } };
  const cfg = (id) => ({ configurable: { ...thread.configurable, checkpoint_id: id } });

  const latest = await saver.getTuple(thread);
  assert.deepEqual(latest.config, cfg(c2.checkpoint_id));
  assert.deepEqual(latest.parentConfig, cfg(c1.checkpoint_id));
  assert.deepEqual(latest.checkpoint.channel_values, { messages: ['hi', 'there'], blob: new Uint8Array([0, 1, 2, 255]), count: 2 });
  assert.deepEqual(latest.metadata, { source: 'loop', step: 0, parents: {} });
  const first = await saver.getTuple(cfg(c1.checkpoint_id));
  assert.deepEqual(first.pendingWrites, [['task-1', 'messages', 'w'], ['task-1', 'blob', new Uint8Array([9, 8])]]);
  const listed = [];
  for await (const t of saver.list(thread)) listed.push(t.checkpoint.id);
  assert.deepEqual(listed, [c2.checkpoint_id, c1.checkpoint_id]);

  // The thread goes on: a binary record whose parent chain runs through the JSON ones.
  const c3 = checkpoint({ messages: ['hi', 'there'], blob: new Uint8Array([0, 1, 2, 255]), count: 3 }, { messages: 2, blob: 1, count: 3 });
  const cfg3 = await saver.put(cfg(c2.checkpoint_id), c3, meta(1), { count: 3 });
  const now = await saver.getTuple(thread);
  assert.equal(now.checkpoint.id, c3.id);
  assert.deepEqual(now.checkpoint.channel_values, { messages: ['hi', 'there'], blob: new Uint8Array([0, 1, 2, 255]), count: 3 });
  assert.equal((await wf.latestCheckpoint()).contentType, RECORD_CONTENT_TYPE);
  // configOf reads both kinds of state.
  const old = await wf.rollbackToCheckpoint(fixture.records[2].name);
  assert.equal(old.langgraph, 'checkpoint');
  assert.deepEqual(WfloCheckpointSaver.configOf(old), cfg(c2.checkpoint_id));
  assert.equal((await saver.getTuple(thread)).checkpoint.id, c2.checkpoint_id, 'rolled back to the JSON record');
  assert.deepEqual(WfloCheckpointSaver.configOf(await wf.checkpointState((await wf.checkpoints()).at(-1).id)), cfg3);
  assert.equal(WfloCheckpointSaver.configOf(new wflo.BinaryState('application/msgpack', Buffer.from([1]))), null);
  assert.equal(WfloCheckpointSaver.configOf({ mine: true }), null);
  await engine.close();
});

test('a record the saver cannot read is a StorageError, not a wrong graph state', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'damaged', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const config = await saver.put({ configurable: { thread_id: 'd' } }, checkpoint({ n: 1 }, { n: 1 }), meta(0), { n: 1 });
  const name = saver.checkpointName(config);
  const good = await wf.latestCheckpoint();
  const cases = [
    new wflo.BinaryState(RECORD_CONTENT_TYPE, good.data.subarray(0, good.data.length - 1)), // truncated
    new wflo.BinaryState('application/vnd.wflo.langgraph.v9', good.data), // a layout this version does not know
  ];
  for (const damaged of cases) {
    const other = new WfloCheckpointSaver({ workflow: wf }); // no cached record
    await wf.checkpoint(name, damaged);
    await assert.rejects(other.getTuple(config), (e) => e instanceof wflo.StorageError && e.code === 'STORAGE', damaged.contentType);
  }
  await engine.close();
});

test('a wflo rollback is what LangGraph sees: later checkpoints and writes become history', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'rollback', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const thread = { configurable: { thread_id: 'r', checkpoint_ns: '' } };
  const c1 = checkpoint({ n: 1 }, { n: 1 });
  const cfg1 = await saver.put(thread, c1, meta(0), { n: 1 });
  await saver.putWrites(cfg1, [['n', 2]], 'task-a');
  const c2 = checkpoint({ n: 2 }, { n: 2 });
  const cfg2 = await saver.put(cfg1, c2, meta(1), { n: 2 });
  assert.equal((await saver.getTuple(thread)).checkpoint.id, c2.id);
  assert.deepEqual((await saver.getTuple(cfg1)).pendingWrites, [['task-a', 'n', 2]]);

  const state = await wf.rollbackToCheckpoint(saver.checkpointName(cfg1));
  assert.deepEqual(WfloCheckpointSaver.configOf(state), cfg1);
  const latest = await saver.getTuple(thread);
  assert.equal(latest.checkpoint.id, c1.id);
  assert.deepEqual(latest.pendingWrites, [], 'the writes made after the checkpoint were rolled back with it');
  const listed = [];
  for await (const t of saver.list(thread)) listed.push(t.checkpoint.id);
  assert.deepEqual(listed, [c1.id]);
  // History is kept: the superseded checkpoint is still there by its id, as it was.
  const old = await saver.getTuple(cfg2);
  assert.equal(old.checkpoint.id, c2.id);
  assert.deepEqual(old.checkpoint.channel_values, { n: 2 });
  assert.deepEqual(old.parentConfig, cfg1);

  // The graph moves on from the rolled-back checkpoint.
  const c3 = checkpoint({ n: 3 }, { n: 3 });
  await saver.put(cfg1, c3, meta(1), { n: 3 });
  const now = await saver.getTuple(thread);
  assert.equal(now.checkpoint.id, c3.id);
  assert.deepEqual(now.parentConfig, cfg1);
  await engine.close();
});

test('a saver keeps its index: what another saver on the execution saved shows on its next read', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'two savers', engine });
  const first = new WfloCheckpointSaver({ workflow: wf });
  const second = new WfloCheckpointSaver({ workflow: wf });
  const thread = { configurable: { thread_id: 'shared', checkpoint_ns: '' } };
  const c1 = checkpoint({ n: 1 }, { n: 1 });
  const cfg1 = await first.put(thread, c1, meta(0), { n: 1 });
  assert.equal((await first.getTuple(thread)).checkpoint.id, c1.id);
  const c2 = checkpoint({ n: 2 }, { n: 2 });
  const cfg2 = await second.put(cfg1, c2, meta(1), { n: 2 });
  await second.putWrites(cfg2, [['n', 5]], 'task-b');
  await wf.checkpoint('not-langgraph', { other: true });
  const latest = await first.getTuple(thread);
  assert.equal(latest.checkpoint.id, c2.id);
  assert.deepEqual(latest.checkpoint.channel_values, { n: 2 });
  assert.deepEqual(latest.pendingWrites, [['task-b', 'n', 5]]);
  assert.deepEqual(latest.parentConfig, cfg1);
  // A delete by the other saver hides the thread from the first one too; a new start shows.
  await second.deleteThread('shared');
  assert.equal(await first.getTuple(thread), undefined);
  const c3 = checkpoint({ n: 3 }, { n: 1 });
  await second.put(thread, c3, meta(0), { n: 1 });
  const listed = [];
  for await (const t of first.list(thread)) listed.push(t.checkpoint.id);
  assert.deepEqual(listed, [c3.id]);
  // The kept index gives what a new saver reading everything gives.
  assert.deepEqual(await first.getTuple(thread), await new WfloCheckpointSaver({ workflow: wf }).getTuple(thread));
  await engine.close();
});

test('a load through an out-of-date index returns what is current, not the record read along', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'stale index', engine });
  const writer = new WfloCheckpointSaver({ workflow: wf });
  const reader = new WfloCheckpointSaver({ workflow: wf });
  const thread = { configurable: { thread_id: 't', checkpoint_ns: '' } };
  const c1 = checkpoint({ n: 1 }, { n: 1 });
  const cfg1 = await writer.put(thread, c1, meta(0), { n: 1 });
  // The reader's index now knows c1, unread.
  assert.equal(await reader.getTuple({ configurable: { thread_id: 'other', checkpoint_ns: '' } }), undefined);
  const c2 = checkpoint({ n: 2 }, { n: 2 });
  const cfg2 = await writer.put(cfg1, c2, meta(1), { n: 2 });
  const latest = await reader.getTuple(thread); // its index said c1 is the latest
  assert.deepEqual([latest.config, latest.parentConfig], [cfg2, cfg1]);
  assert.deepEqual(latest.checkpoint.channel_values, { n: 2 });
  // c1 put again: its newest record stands for it, though the reader's index named the first.
  const c1again = { ...c1, channel_values: { n: 10 } };
  await writer.put(thread, c1again, meta(7), { n: 1 });
  const again = await reader.getTuple(cfg1);
  assert.equal(again.metadata.step, 7);
  assert.deepEqual(again.checkpoint.channel_values, { n: 10 });
  assert.deepEqual(again, await new WfloCheckpointSaver({ workflow: wf }).getTuple(cfg1));
  await engine.close();
});

test('a rollback made elsewhere is seen by a saver that kept its index from before', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'rollback elsewhere', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const thread = { configurable: { thread_id: 'r', checkpoint_ns: '' } };
  const c1 = checkpoint({ n: 1 }, { n: 1 });
  const cfg1 = await saver.put(thread, c1, meta(0), { n: 1 });
  const c2 = checkpoint({ n: 2 }, { n: 2 });
  await saver.put(cfg1, c2, meta(1), { n: 2 });
  assert.equal((await saver.getTuple(thread)).checkpoint.id, c2.id);
  // Not through the saver: nothing new is saved, but which checkpoint is live changes.
  await wf.rollbackToCheckpoint(saver.checkpointName(cfg1));
  const latest = await saver.getTuple(thread);
  assert.equal(latest.checkpoint.id, c1.id);
  const listed = [];
  for await (const t of saver.list(thread)) listed.push(t.checkpoint.id);
  assert.deepEqual(listed, [c1.id]);
  // A rollback followed by a new checkpoint (the saver then sees new ones and the rollback).
  const c3 = checkpoint({ n: 3 }, { n: 3 });
  const cfg3 = await saver.put(cfg1, c3, meta(1), { n: 3 });
  assert.equal((await saver.getTuple(thread)).checkpoint.id, c3.id);
  await wf.rollbackToCheckpoint(saver.checkpointName(cfg1));
  await wf.checkpoint('after-rollback', { other: true });
  assert.equal((await saver.getTuple(thread)).checkpoint.id, c1.id);
  assert.equal((await saver.getTuple(cfg3)).checkpoint.id, c3.id, 'history is still there by id');
  await engine.close();
});

test('concurrent reads of one saver each see a whole index, and agree with a fresh saver', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'concurrent', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const writer = new WfloCheckpointSaver({ workflow: wf });
  const threads = ['a', 'b', 'c'].map((t) => ({ configurable: { thread_id: t, checkpoint_ns: '' } }));
  const ids = new Map();
  await Promise.all(threads.map(async (thread) => {
    let cfg = thread;
    for (let step = 0; step < 4; step += 1) {
      const cp = checkpoint({ n: step }, { n: step + 1 });
      cfg = await writer.put(cfg, cp, meta(step), { n: step + 1 });
      ids.set(thread.configurable.thread_id, cp.id);
      await saver.getTuple(thread); // reads interleaved with the puts
    }
  }));
  const fresh = new WfloCheckpointSaver({ workflow: wf });
  for (const thread of threads) {
    const [ours, theirs] = await Promise.all([saver.getTuple(thread), fresh.getTuple(thread)]);
    assert.equal(ours.checkpoint.id, ids.get(thread.configurable.thread_id));
    assert.deepEqual(ours, theirs);
  }
  await engine.close();
});

test('deleteThread forgets the thread (a later rollback does not bring it back); the thread can start again', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'delete', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const t1 = { configurable: { thread_id: 'gone/with:odd ids', checkpoint_ns: '' } };
  const t2 = { configurable: { thread_id: 'kept', checkpoint_ns: '' } };
  await saver.put(t1, checkpoint({ x: 1 }, { x: 1 }), meta(0), { x: 1 });
  await saver.put(t2, checkpoint({ y: 1 }, { y: 1 }), meta(0), { y: 1 });
  await wf.checkpoint('before-delete', { mine: true });
  await saver.deleteThread('gone/with:odd ids');
  assert.equal(await saver.getTuple(t1), undefined);
  assert.ok(await saver.getTuple(t2));
  await wf.rollbackToCheckpoint('before-delete');
  assert.equal(await saver.getTuple(t1), undefined);
  const again = checkpoint({ x: 2 }, { x: 1 });
  await saver.put(t1, again, meta(0), { x: 1 });
  const t = await saver.getTuple(t1);
  assert.equal(t.checkpoint.id, again.id);
  assert.deepEqual(t.checkpoint.channel_values, { x: 2 });
  await engine.close();
});

test('copyThread, prune and deleteForRuns do what core does for Python\'s saver', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'maintenance', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const t = { configurable: { thread_id: 't', checkpoint_ns: '' } };
  const c1 = checkpoint({ a: 1, b: 1 }, { a: 1, b: 1 });
  const cfg1 = await saver.put(t, c1, { ...meta(0), run_id: 'r1' }, { a: 1, b: 1 });
  await saver.putWrites(cfg1, [['a', 5]], 'task');
  const c2 = checkpoint({ a: 2, b: 1 }, { a: 2, b: 1 });
  const cfg2 = await saver.put(cfg1, c2, { ...meta(1), run_id: 'r2' }, { a: 2 });
  // A copy: the same checkpoints, values and writes under the other thread.
  await saver.copyThread('t', 'copy');
  const copied = [];
  for await (const x of saver.list({ configurable: { thread_id: 'copy' } })) copied.push(x.checkpoint.id);
  assert.deepEqual(copied, [c2.id, c1.id]);
  const copy1 = await saver.getTuple({ configurable: { thread_id: 'copy', checkpoint_ns: '', checkpoint_id: c1.id } });
  assert.deepEqual(copy1.pendingWrites, [['task', 'a', 5]]);
  assert.deepEqual((await saver.getTuple({ configurable: { thread_id: 'copy' } })).checkpoint.channel_values, { a: 2, b: 1 });
  // deleteForRuns: only run r1's checkpoint (in both threads) goes.
  await saver.deleteForRuns(['r1']);
  assert.equal(await saver.getTuple(cfg1), undefined);
  assert.equal((await saver.getTuple(cfg2)).checkpoint.id, c2.id);
  // prune keep_latest: c2 stays whole (b's value came from c1, whose record is deleted).
  const c3 = checkpoint({ a: 3, b: 1 }, { a: 3, b: 1 });
  await saver.put(cfg2, c3, meta(2), { a: 3 });
  await saver.prune(['t']);
  const left = [];
  for await (const x of saver.list(t)) left.push(x.checkpoint.id);
  assert.deepEqual(left, [c3.id]);
  assert.deepEqual((await saver.getTuple(t)).checkpoint.channel_values, { a: 3, b: 1 });
  await saver.prune(['copy'], { strategy: 'delete' });
  assert.equal(await saver.getTuple({ configurable: { thread_id: 'copy' } }), undefined);
  await assert.rejects(saver.prune(['t'], { strategy: 'all' }), wflo.InvalidArgumentError);
  await engine.close();
});

test('the saver finds its execution: a workflow, a new one on an engine, or the current one', async () => {
  const engine = await memory();
  const loose = new WfloCheckpointSaver();
  assert.equal(loose.workflow, null);
  await assert.rejects(loose.getTuple({ configurable: { thread_id: 'x' } }), wflo.InvalidArgumentError);
  const wf = new wflo.WfloWorkflow({ name: 'current', engine });
  await wf.execute(async () => {
    assert.equal(loose.workflow, wf);
    await loose.put({ configurable: { thread_id: 'x' } }, checkpoint({}, {}), meta(-1), {});
  });
  assert.equal((await wf.checkpoints()).length, 1);
  const own = new WfloCheckpointSaver({ engine, name: 'graph-store' });
  await own.put({ configurable: { thread_id: 'x' } }, checkpoint({}, {}), meta(-1), {});
  assert.notEqual(own.workflow.executionId, wf.executionId);
  assert.equal((await engine.execution(own.workflow.executionId)).execution.name, 'graph-store');
  assert.throws(() => new WfloCheckpointSaver({ workflow: {} }), wflo.InvalidArgumentError);
  await assert.rejects(own.put({ configurable: {} }, checkpoint({}, {}), meta(-1), {}), wflo.InvalidArgumentError);
  await engine.close();
});

/** A record in the earlier JS saver's layout (no `versions` in its header), written by hand. */
function jsV1Record(header, values) {
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const head = Buffer.from(JSON.stringify(header));
  const parts = [u32(head.length), head];
  for (const [type, data] of values) parts.push(u32(Buffer.byteLength(type)), Buffer.from(type), u32(data.length), data);
  return Buffer.concat(parts);
}

test('records of the earlier JS layout load; names and configOf are core\'s', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'js v1', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const id = uuid6(-3);
  const cp = { v: 4, id, ts: new Date().toISOString(), channel_versions: { x: 1, y: 1 }, versions_seen: {} };
  const header = {
    langgraph: 'checkpoint', thread_id: 'old', checkpoint_ns: '', checkpoint_id: id, parent_checkpoint_id: null,
    checkpoint: 0, metadata: 1, channels: [['x', 1, 2], ['y', 1, null]],
  };
  const json = (v) => ['json', Buffer.from(JSON.stringify(v))];
  const name = checkpointName('old', '', id);
  await wf.checkpoint(name, new wflo.BinaryState(RECORD_CONTENT_TYPE, jsV1Record(header, [json(cp), json(meta(0)), json(7)])));
  const t = await saver.getTuple({ configurable: { thread_id: 'old' } });
  assert.equal(t.checkpoint.id, id);
  assert.deepEqual(t.checkpoint.channel_values, { x: 7 });
  assert.deepEqual(t.metadata, meta(0));
  assert.equal(t.parentConfig, undefined);
  assert.deepEqual(WfloCheckpointSaver.configOf(await wf.latestCheckpoint()), t.config);

  // Names: every byte but A-Z a-z 0-9 - . _ ~ percent-encoded, as core names them.
  assert.equal(checkpointName('a/b', '', 'x y'), 'langgraph/a%2Fb//x%20y');
  assert.equal(checkpointName('(t)!', 'n', '1'), 'langgraph/%28t%29%21/n/1');
  assert.throws(() => checkpointName('\uD800', '', '1'), wflo.InvalidArgumentError);
  // configOf: a writes record is not a checkpoint; a damaged record of the saver's type is a StorageError.
  await saver.putWrites(t.config, [['x', 1]], 'task');
  assert.equal(WfloCheckpointSaver.configOf(await wf.latestCheckpoint()), null);
  assert.throws(() => WfloCheckpointSaver.configOf(new wflo.BinaryState(RECORD_CONTENT_TYPE, Buffer.from([0, 0, 0, 9, 123]))),
    (e) => e instanceof wflo.StorageError);
  assert.equal(WfloCheckpointSaver.configOf('text'), null);
  await engine.close();
});

test('a rollback to a checkpoint undoes its writes, those stored before it too (as core decides)', async () => {
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'early writes', engine });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const thread = { configurable: { thread_id: 'w', checkpoint_ns: '' } };
  const c1 = checkpoint({ n: 1 }, { n: 1 });
  const cfg1 = { configurable: { ...thread.configurable, checkpoint_id: c1.id } };
  // LangGraph saves a checkpoint in the background while its tasks already write.
  await saver.putWrites(cfg1, [['n', 'early']], 'task-a');
  await saver.put(thread, c1, meta(0), { n: 1 });
  await saver.putWrites(cfg1, [['n', 'late']], 'task-b');
  assert.deepEqual((await saver.getTuple(thread)).pendingWrites, [['task-a', 'n', 'early'], ['task-b', 'n', 'late']]);
  await saver.put(cfg1, checkpoint({ n: 2 }, { n: 2 }), meta(1), { n: 2 });
  await wf.rollbackToCheckpoint(saver.checkpointName(cfg1));
  const latest = await saver.getTuple(thread);
  assert.equal(latest.checkpoint.id, c1.id);
  assert.deepEqual(latest.pendingWrites, []);
  await engine.close();
});

test('getNextVersion gives core\'s versions: numbered, zero-padded, unique across branches', () => {
  const saver = new WfloCheckpointSaver();
  const form = /^(\d{32})\.(\d{16})$/;
  const number = (v) => Number(form.exec(v)?.[1]);
  const first = saver.getNextVersion(undefined);
  assert.match(first, form);
  assert.equal(number(first), 1);
  assert.equal(number(saver.getNextVersion(null)), 1);
  const second = saver.getNextVersion(first);
  assert.equal(number(second), 2);
  assert.ok(second > first, 'versions sort by their number as strings');
  // Python's savers' forms: wflo's, and LangGraph's in-memory one ("<n>.<0.random>").
  assert.equal(number(saver.getNextVersion(`${'0'.repeat(31)}9.0.8437112030415227`)), 10);
  assert.equal(number(saver.getNextVersion('41')), 42);
  const a = saver.getNextVersion(second);
  const b = saver.getNextVersion(second);
  assert.equal(number(a), 3);
  assert.notEqual(a, b, 'two branches never get one version');
  // A thread stored with LangGraph.js's integer versions keeps integers.
  assert.equal(saver.getNextVersion(4), 5);
  for (const bad of ['x', '', '-1.5', '1e3', { n: 1 }]) {
    assert.throws(() => saver.getNextVersion(bad), (e) => e instanceof wflo.InvalidArgumentError, String(bad));
  }
});

test('graphs run on string versions, and after a rollback the new branch stores values under versions of its own', async () => {
  const { StateGraph, Annotation, START, END } = require('@langchain/langgraph');
  const { BaseCheckpointSaver } = require('@langchain/langgraph-checkpoint');
  const engine = await memory();
  const wf = new wflo.WfloWorkflow({ name: 'versions', engine });
  const State = Annotation.Root({ n: Annotation({ reducer: (x, y) => x + y, default: () => 0 }) });
  let runsOfB = 0;
  const graphWith = (checkpointer) => new StateGraph(State)
    .addNode('a', () => ({ n: 1 }))
    .addNode('b', () => ({ n: 10 * ++runsOfB }))
    .addEdge(START, 'a').addEdge('a', 'b').addEdge('b', END)
    .compile({ checkpointer });
  const saver = new WfloCheckpointSaver({ workflow: wf });
  const graph = graphWith(saver);
  const thread = { configurable: { thread_id: 'v' } };
  assert.equal((await graph.invoke({ n: 0 }, thread)).n, 11);
  const first = await saver.getTuple(thread);
  const versions = Object.values(first.checkpoint.channel_versions);
  assert.ok(versions.length > 0 && versions.every((v) => /^\d{32}\.\d{16}$/.test(v)), JSON.stringify(versions));
  // A second run on the thread continues it.
  assert.equal((await graph.invoke({ n: 0 }, thread)).n, 11 + 1 + 20);

  // Roll back to the first run's checkpoint before b ran, and run b again (it now adds 30).
  const history = [];
  for await (const t of saver.list(thread)) history.push(t);
  const beforeB = history.find((t) => t.metadata.step === 1 && t.checkpoint.channel_values.n === 1);
  assert.ok(beforeB, 'the checkpoint after a, before b, of the first run');
  await wf.rollbackToCheckpoint(saver.checkpointName(beforeB.config));
  assert.equal((await graph.invoke(null, thread)).n, 31);
  const now = await saver.getTuple(thread);
  const old = await saver.getTuple(first.config); // history, fetched by its id
  assert.equal(old.checkpoint.channel_values.n, 11);
  assert.equal(now.checkpoint.channel_values.n, 31);
  const [vOld, vNow] = [old.checkpoint.channel_versions.n, now.checkpoint.channel_versions.n];
  assert.equal(vOld.split('.')[0], vNow.split('.')[0], 'one step after the same checkpoint');
  assert.notEqual(vOld, vNow, 'yet each branch stores n under a version of its own');

  // A thread stored with integer versions (as the saver stored them before) keeps them.
  class IntegerSaver extends WfloCheckpointSaver {
    getNextVersion(current) {
      return BaseCheckpointSaver.prototype.getNextVersion.call(this, current);
    }
  }
  const integers = { configurable: { thread_id: 'i' } };
  runsOfB = 0;
  assert.equal((await graphWith(new IntegerSaver({ workflow: wf })).invoke({ n: 0 }, integers)).n, 11);
  assert.equal((await graph.invoke({ n: 0 }, integers)).n, 11 + 1 + 20);
  const latest = await saver.getTuple(integers);
  assert.ok(Object.values(latest.checkpoint.channel_versions).every((v) => typeof v === 'number'));
  await engine.close();
});
