'use strict';
// Checkpoint states of both kinds: JSON values, and binary states (bytes named by a content
// type) that come back byte for byte as BinaryState from every read; and checkpointsSince,
// what a reader keeping its own index of the checkpoints reads.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const wflo = require('..');

const { BinaryState, WfloWorkflow, Engine } = wflo;

async function started(engine) {
  const wf = new WfloWorkflow({ name: 'states', engine: engine ?? (await Engine.open('memory://')) });
  await wf.start();
  return wf;
}

const everyByte = () => Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('every byte value comes back as it was saved, from rollback, latest and by id', async () => {
  const wf = await started();
  const info = await wf.checkpoint('bytes', everyByte(), { contentType: 'application/msgpack' });
  assert.equal(info.contentType, 'application/msgpack');
  assert.equal(info.stateBytes, 256);
  await wf.checkpoint('later', { n: 1 });

  const rolled = await wf.rollbackToCheckpoint('bytes');
  assert.ok(rolled instanceof BinaryState);
  assert.equal(rolled.contentType, 'application/msgpack');
  assert.ok(Buffer.isBuffer(rolled.data));
  assert.ok(rolled.data.equals(everyByte()));
  const latest = await wf.latestCheckpoint();
  assert.ok(latest instanceof BinaryState);
  assert.ok(latest.data.equals(everyByte()));
  const byId = await wf.checkpointState(info.id);
  assert.ok(byId instanceof BinaryState && byId.data.equals(everyByte()) && byId.contentType === 'application/msgpack');
});

test('a 100 KB state, random and repetitive (stored compressed), comes back byte for byte', async () => {
  const wf = await started();
  const random = crypto.randomBytes(100 * 1024);
  const repetitive = Buffer.alloc(100 * 1024, 'wflo checkpoint ');
  const a = await wf.checkpoint('random', random, { contentType: 'application/octet-stream' });
  const b = await wf.checkpoint('repetitive', new Uint8Array(repetitive), { contentType: 'text/plain' });
  assert.deepEqual([a.stateBytes, b.stateBytes], [102_400, 102_400]);
  assert.ok((await wf.checkpointState(a.id)).data.equals(random));
  assert.ok((await wf.latestCheckpoint()).data.equals(repetitive));
  assert.ok((await wf.rollbackToCheckpoint('random')).data.equals(random));
});

test('JSON states stay JSON beside binary ones; the info names a content type only for bytes', async () => {
  const wf = await started();
  await wf.checkpoint('plan', { step: 1, notes: ['start'] });
  await wf.checkpoint('graph', new BinaryState('application/x-protobuf', Buffer.from([8, 1])));
  await wf.checkpoint('raw', new Uint8Array([1, 2, 3]));
  const infos = await wf.checkpoints();
  assert.deepEqual(infos.map((c) => c.contentType), [undefined, 'application/x-protobuf', 'application/octet-stream']);
  assert.ok(!('contentType' in infos[0]), 'a JSON state has no content type');
  assert.deepEqual(await wf.rollbackToCheckpoint('plan'), { step: 1, notes: ['start'] });
  assert.deepEqual(await wf.latestCheckpoint(), { step: 1, notes: ['start'] });
  const graph = await wf.checkpointState(infos[1].id);
  assert.deepEqual([graph.contentType, [...graph.data]], ['application/x-protobuf', [8, 1]]);
  // Empty bytes are a state too.
  await wf.checkpoint('empty', Buffer.alloc(0), { contentType: 'application/cbor' });
  const empty = await wf.latestCheckpoint();
  assert.ok(empty instanceof BinaryState);
  assert.deepEqual([empty.contentType, empty.data.length], ['application/cbor', 0]);
});

test('the bytes saved are those of the view, as they were when checkpoint was called', async () => {
  const wf = await started();
  const whole = Buffer.from([9, 9, 1, 2, 3, 9]);
  await wf.checkpoint('view', new Uint8Array(whole.buffer, whole.byteOffset + 2, 3));
  assert.deepEqual([...(await wf.latestCheckpoint()).data], [1, 2, 3]);
  const buf = Buffer.from([4, 5, 6]);
  const saving = wf.checkpoint('changed-after', buf);
  buf.fill(0); // before the save runs off the JavaScript thread
  await saving;
  assert.deepEqual([...(await wf.latestCheckpoint()).data], [4, 5, 6]);
  await wf.checkpoint('array-buffer', new Uint8Array([7, 8]).buffer);
  assert.deepEqual([...(await wf.latestCheckpoint()).data], [7, 8]);
});

test('a content type the engine refuses is an InvalidArgumentError, and nothing is saved', async () => {
  const wf = await started();
  for (const contentType of ['', 'application/x msgpack', 'ünïcode/type', 'a'.repeat(256), 'tab\there']) {
    await assert.rejects(
      wf.checkpoint('bad', Buffer.from([1]), { contentType }),
      (e) => e instanceof wflo.InvalidArgumentError && e.code === 'INVALID_ARGUMENT' && /content type/.test(e.message),
      JSON.stringify(contentType),
    );
    await assert.rejects(wf.checkpoint('bad', new BinaryState(contentType, Buffer.from([1]))), wflo.InvalidArgumentError);
  }
  // 255 printable ASCII characters is the longest accepted.
  await wf.checkpoint('longest', Buffer.from([1]), { contentType: 'a'.repeat(255) });
  assert.deepEqual((await wf.checkpoints()).map((c) => c.name), ['longest']);
});

test('a content type with a state that carries none, or its own, is refused rather than ignored', async () => {
  const wf = await started();
  const refused = (p) => assert.rejects(p, (e) => e instanceof wflo.InvalidArgumentError && e.code === 'INVALID_ARGUMENT');
  await refused(wf.checkpoint('json', { a: 1 }, { contentType: 'application/json' }));
  await refused(wf.checkpoint('own', new BinaryState('a/b', Buffer.from([1])), { contentType: 'c/d' }));
  await refused(wf.checkpoint('type', Buffer.from([1]), { contentType: 42 }));
  await refused(wf.checkpoint('options', Buffer.from([1]), 'application/msgpack'));
  assert.throws(() => new BinaryState('a/b', [1, 2]), wflo.InvalidArgumentError);
  assert.throws(() => new BinaryState(null, Buffer.from([1])), wflo.InvalidArgumentError);
  assert.equal((await wf.checkpoints()).length, 0);
});

test('BinaryState is one class, imported as ESM or required as CommonJS', async () => {
  const esm = await import('wflo');
  assert.equal(esm.BinaryState, BinaryState);
  const state = new esm.BinaryState('application/msgpack', new Uint8Array([1]));
  assert.ok(state instanceof BinaryState);
  assert.ok(Buffer.isBuffer(state.data));
});

test('binary states persist: another engine on the same file reads them back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-states-'));
  const file = path.join(dir, 'states.db');
  try {
    let engine = await Engine.open(file);
    const wf = await started(engine);
    await wf.checkpoint('bytes', everyByte(), { contentType: 'application/msgpack' });
    const id = wf.executionId;
    await engine.close();
    engine = await Engine.open(file);
    const resumed = await WfloWorkflow.resume(id, { engine });
    const latest = await resumed.latestCheckpoint();
    assert.ok(latest instanceof BinaryState);
    assert.deepEqual([latest.contentType, latest.data.equals(everyByte())], ['application/msgpack', true]);
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the README's checkpoints example runs: a gzip state rolled back to, byte for byte", async () => {
  const example = path.join(__dirname, '..', '..', '..', 'examples', 'node', 'checkpoints.mjs');
  const out = await new Promise((resolve) => {
    execFile(process.execPath, [example], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(out.error, null, out.stderr);
  const lines = out.stdout.trim().split('\n');
  assert.match(lines[0], /^saved application\/gzip: \d+ bytes for 6400 characters$/);
  assert.deepEqual(lines.slice(1), [
    'rolled back to application/gzip, the same text: true',
    'planned: JSON',
    'transcribed: application/gzip',
    'summarised: JSON, superseded',
  ]);
});

test('checkpointsSince: the checkpoints after a sequence, in order, and the number of rollbacks', async () => {
  const wf = await started();
  const a = await wf.checkpoint('a', { n: 1 });
  const b = await wf.checkpoint('b', everyByte(), { contentType: 'application/msgpack' });
  const c = await wf.checkpoint('c', { n: 3 });
  const all = await wf.checkpointsSince(0);
  assert.deepEqual(all, { checkpoints: await wf.checkpoints(), rollbacks: 0 });
  assert.deepEqual(all.checkpoints.map((i) => i.name), ['a', 'b', 'c']);
  // Converted as checkpoints() converts them: camelCase fields, the content type of bytes.
  assert.deepEqual(all.checkpoints[1], b);
  const later = await wf.checkpointsSince(a.sequence);
  assert.deepEqual(later.checkpoints, [b, c]);
  assert.equal(later.rollbacks, 0);
  assert.deepEqual(await wf.checkpointsSince(c.sequence), { checkpoints: [], rollbacks: 0 });
  assert.deepEqual((await wf.checkpointsSince(c.sequence + 100)).checkpoints, []);

  await wf.rollbackToCheckpoint('a');
  const after = await wf.checkpointsSince(a.sequence);
  assert.equal(after.rollbacks, 1);
  assert.deepEqual(after.checkpoints.map((i) => [i.name, i.superseded]), [['b', true], ['c', true]]);
  const d = await wf.checkpoint('d', { n: 4 });
  assert.deepEqual(await wf.checkpointsSince(c.sequence), { checkpoints: [d], rollbacks: 1 });
  await wf.rollbackToCheckpoint('d');
  assert.equal((await wf.checkpointsSince(d.sequence)).rollbacks, 2);
  assert.equal((await wf.checkpointsSince(1n)).checkpoints.length, 3, 'a bigint is taken as its number');

  for (const bad of [-1, 1.5, NaN, Infinity, '1', null, undefined, 2 ** 53, -1n, {}]) {
    await assert.rejects(wf.checkpointsSince(bad), wflo.InvalidArgumentError, `refuses ${String(bad)}`);
  }
});

test('checkpointsSinceWithState: checkpointsSince and one state in one call, equal to the two', async () => {
  const wf = await started();
  const a = await wf.checkpoint('a', { n: 1 });
  const b = await wf.checkpoint('b', everyByte(), { contentType: 'application/msgpack' });
  await wf.rollbackToCheckpoint('a');
  await wf.checkpoint('c', { n: 3 });
  for (const after of [0, 1, 3]) {
    for (const id of [a.id, b.id]) {
      assert.deepEqual(await wf.checkpointsSinceWithState(after, id),
        { ...(await wf.checkpointsSince(after)), state: await wf.checkpointState(id) });
    }
  }
  const got = await wf.checkpointsSinceWithState(3, b.id);
  assert.deepEqual([got.checkpoints, got.rollbacks], [[], 1]);
  assert.ok(got.state instanceof BinaryState && got.state.data.equals(everyByte()));
  await assert.rejects(wf.checkpointsSinceWithState(0, b.id + 1000), wflo.NotFoundError);
  for (const bad of [-1, 1.5, '1', null]) {
    await assert.rejects(wf.checkpointsSinceWithState(bad, a.id), wflo.InvalidArgumentError, `refuses ${String(bad)}`);
    await assert.rejects(wf.checkpointsSinceWithState(0, bad), wflo.InvalidArgumentError, `refuses id ${String(bad)}`);
    await assert.rejects(wf.checkpointState(bad), wflo.InvalidArgumentError, `checkpointState refuses ${String(bad)}`);
  }
});

test('checkpointsSince starts a workflow that never was, which has no checkpoints', async () => {
  const wf = new WfloWorkflow({ name: 'fresh', engine: await Engine.open('memory://') });
  assert.deepEqual(await wf.checkpointsSince(0), { checkpoints: [], rollbacks: 0 });
  assert.ok(wf.executionId);
});
