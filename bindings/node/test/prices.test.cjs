'use strict';
// Price files through the Node API: a LiteLLM file adds a model and changes one, a bad file is
// refused whole with its line, WFLO_PRICES is loaded when an engine opens, and the breakdown
// names the table.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Engine, WfloWorkflow, InvalidArgumentError, UnknownModelError } = require('..');

const nextRelease = path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'prices', 'next-release.json');

test('a LiteLLM file adds a model, changes one, and the breakdown names it', async () => {
  const engine = await Engine.open('memory://');
  assert.throws(() => engine.cost('acme-frontier-9', { input: 1 }), UnknownModelError);
  const changes = engine.loadPrices(nextRelease);
  assert.equal(changes.format, 'litellm');
  assert.deepEqual(changes.added, ['acme-frontier-9']);
  assert.deepEqual(changes.changed.map((c) => [c.name, c.fields[0].field, c.fields[0].before, c.fields[0].after]), [
    ['gpt-4o', 'input', 2500000, 5000000],
  ]);
  assert.deepEqual(changes.skipped.map((s) => s.name), ['acme-image-3']);
  // $3 per million input tokens (above 200k tokens, the file's long-context tier: $6).
  assert.equal(engine.cost('acme-frontier-9', { input: 100_000 }).nanos, 300_000_000);
  assert.equal(engine.cost('acme-frontier-9', { input: 300_000 }).nanos, 1_800_000_000);
  assert.equal(engine.priceTable().files[0].format, 'litellm');
  const wf = new WfloWorkflow({ name: 'priced', engine });
  await wf.start();
  assert.match((await wf.breakdown()).priceTable, /\+ next-release\.json \(LiteLLM, \d{4}-\d\d-\d\d\)$/);
  await wf.end();
  await engine.close();
});

test('a bad price file is refused whole, naming its line', async () => {
  const engine = await Engine.open('memory://');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-prices-'));
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{"models": [\n {"name": "in-house", "input": 1, "output": 1},\n {"name": "gpt-4o", "input": "cheap"}\n]}');
  assert.throws(() => engine.loadPrices(bad), (e) => e instanceof InvalidArgumentError && /bad\.json, line 3/.test(e.message));
  assert.throws(() => engine.cost('in-house', { input: 1 }), UnknownModelError);
  assert.throws(() => engine.loadPrices(42), InvalidArgumentError);
  await engine.close();
  fs.rmSync(dir, { recursive: true });
});

test('WFLO_PRICES is loaded by every engine that opens', () => {
  // A fresh process: the variable is read when an engine opens.
  const script = `const { Engine } = require(${JSON.stringify(path.join(__dirname, '..'))});
    Engine.open('memory://').then((e) => { console.log(e.cost('acme-frontier-9', { input: 100000 }).nanos); return e.close(); });`;
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, WFLO_PRICES: nextRelease } });
  assert.equal(out.toString().trim(), '300000000');
});
