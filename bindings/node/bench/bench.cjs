'use strict';
// `npm run bench`: one tracked call from JavaScript beside the Rust figure (same run), and
// countTokens throughput beside js-tiktoken and gpt-tokenizer on the same text, with every
// count checked equal. Corpora: WFLO_CORPUS_DIR (bench/corpus.py builds them).
//
// `make bench` (bench/run.py) runs one measurement per process and reads one JSON line:
//   node bench/bench.cjs --json tracked N          {"calls", "ns_per_call"}
//   node bench/bench.cjs --json cost N             {"calls", "ns_per_call"} (gpt-4o, 1,000 in + 200 out)
//   node bench/bench.cjs --json tokens NAME FILE   {"o200k_base": {"tokens", "mb_s"}, "cl100k_base": …}
//   node bench/bench.cjs --json import NAME        {"import_ms", "peak_rss_mib"}
// NAME: wflo, js-tiktoken or gpt-tokenizer. The comparison packages load from
// WFLO_BENCH_NODE_MODULES (a throwaway npm project) when set, else from this package's
// devDependencies; the wflo addon from WFLO_NODE_ADDON when set (a release build).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const root = path.resolve(__dirname, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const rounds = Number(process.env.ROUNDS || 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const others = process.env.WFLO_BENCH_NODE_MODULES
  ? createRequire(path.join(path.resolve(process.env.WFLO_BENCH_NODE_MODULES), 'package.json'))
  : require;
const load = (name) => (name === 'wflo' ? require('..') : others(name));
const model = { o200k_base: 'gpt-4o', cl100k_base: 'gpt-4' };

async function trackedCallNs(wflo, engine, n) {
  const req = { model: 'gpt-4o-mini', inputTokens: 1200, maxOutputTokens: 400 };
  const usage = { input: 1000, cacheRead: 200, output: 350 };
  let total = 0n;
  for (let done = 0; done < n; done += 10000) {
    const wf = new wflo.WfloWorkflow({ name: 'bench', budgetUsd: 1e6, engine });
    await wf.start();
    const batch = Math.min(10000, n - done);
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) wf.reserveSync(req).settle(usage);
    total += process.hrtime.bigint() - t;
  }
  return Number(total) / n;
}

function costNs(wflo, n) {
  const usage = { input: 1000, output: 200 };
  wflo.cost('gpt-4o', usage);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) wflo.cost('gpt-4o', usage);
  return Number(process.hrtime.bigint() - t) / n;
}

/** enc -> () => token count of `text`, for one contender. Built before any timing. */
function counters(name, text) {
  if (name === 'wflo') {
    const wflo = load('wflo');
    return Object.fromEntries(Object.keys(model).map((enc) => [enc, () => wflo.countTokens(model[enc], text).tokens]));
  }
  if (name === 'gpt-tokenizer') {
    return Object.fromEntries(Object.keys(model).map((enc) => {
      const g = load(`gpt-tokenizer/encoding/${enc}`);
      return [enc, () => g.countTokens(text)];
    }));
  }
  if (name === 'js-tiktoken') {
    const { Tiktoken } = load('js-tiktoken/lite');
    return Object.fromEntries(Object.keys(model).map((enc) => {
      const tik = new Tiktoken(load(`js-tiktoken/ranks/${enc}`));
      return [enc, () => tik.encode(text).length];
    }));
  }
  throw new Error(`unknown contender ${name}`);
}

/** One timed pass per encoding after a warm-up on a slice (JIT, tables). */
function countOnce(name, text) {
  const mb = Buffer.byteLength(text) / 1e6;
  const warm = counters(name, text.slice(0, 20000));
  const timed = counters(name, text);
  const out = {};
  for (const enc of Object.keys(model)) {
    warm[enc]();
    const t = process.hrtime.bigint();
    const tokens = timed[enc]();
    out[enc] = { tokens, mb_s: mb / (Number(process.hrtime.bigint() - t) / 1e9) };
  }
  return out;
}

async function json(mode, args) {
  if (mode === 'import') {
    const t = process.hrtime.bigint();
    load(args[0]);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    // VmHWM: this process's own peak (maxRSS from getrusage counts the parent's memory).
    const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return { import_ms: ms, peak_rss_mib: hwm ? Number(hwm[1]) / 1024 : null };
  }
  if (mode === 'tokens') return countOnce(args[0], fs.readFileSync(args[1], 'utf8'));
  const wflo = load('wflo');
  const n = Number(args[0] || 200000);
  if (mode === 'cost') return { calls: n, ns_per_call: costNs(wflo, n) };
  if (mode === 'tracked') {
    const engine = await wflo.Engine.open('memory://');
    const ns = await trackedCallNs(wflo, engine, n);
    await engine.close();
    return { calls: n, ns_per_call: ns };
  }
  throw new Error(`unknown mode ${mode}: tracked, cost, tokens or import`);
}

function rustNs(n) {
  const out = execFileSync(path.join(target, 'release', 'examples', 'hot_loop'), [String(n)], { encoding: 'utf8' });
  return Number(/calls, (\d+) ns each/.exec(out)[1]);
}

async function main() {
  execFileSync('cargo', ['build', '-q', '--release', '-p', 'wflo-core', '--example', 'hot_loop'], { cwd: root, stdio: 'inherit' });
  const wflo = load('wflo');
  const engine = await wflo.Engine.open('memory://');
  const js = [];
  const rust = [];
  for (let r = 0; r < rounds; r++) {
    js.push(await trackedCallNs(wflo, engine, 200000));
    rust.push(rustNs(200000));
  }
  console.log(`\ntracked call (reserve + settle + record), median of ${rounds} rounds × 200,000 calls`);
  console.log('| face | ns/call | rounds |');
  console.log('| --- | --- | --- |');
  console.log(`| Rust | ${median(rust).toFixed(0)} | ${rust.map((x) => x.toFixed(0)).join(' ')} |`);
  console.log(`| Node (napi, workflow.reserveSync + settle) | ${median(js).toFixed(0)} | ${js.map((x) => x.toFixed(0)).join(' ')} |`);

  const dir = process.env.WFLO_CORPUS_DIR || path.join(process.env.HOME, '.cache', 'wflo', 'corpus');
  if (!fs.existsSync(path.join(dir, 'prose.txt'))) execFileSync('python3', [path.join(root, 'bench', 'corpus.py'), dir], { stdio: 'inherit' });
  console.log('\ncountTokens throughput, MB/s (median of 3 rounds; every count checked equal)');
  console.log('| text | encoding | wflo | gpt-tokenizer | js-tiktoken | wflo / js-tiktoken | wflo / gpt-tokenizer |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const names = ['wflo', 'gpt-tokenizer', 'js-tiktoken'];
  for (const corpus of ['prose', 'code']) {
    const text = fs.readFileSync(path.join(dir, `${corpus}.txt`), 'utf8');
    const runs = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < 3; r++) for (const n of names) runs[n].push(countOnce(n, text));
    for (const enc of Object.keys(model)) {
      const counts = Object.fromEntries(names.map((n) => [n, runs[n][0][enc].tokens]));
      for (const [name, c] of Object.entries(counts)) {
        if (c !== counts.wflo) throw new Error(`${name} counted ${c} tokens, wflo ${counts.wflo} (${corpus}, ${enc})`);
      }
      const m = Object.fromEntries(names.map((n) => [n, median(runs[n].map((x) => x[enc].mb_s))]));
      console.log(`| ${corpus} | ${enc} | ${m.wflo.toFixed(1)} | ${m['gpt-tokenizer'].toFixed(1)} | ${m['js-tiktoken'].toFixed(2)} | ${(m.wflo / m['js-tiktoken']).toFixed(1)}× | ${(m.wflo / m['gpt-tokenizer']).toFixed(1)}× |`);
    }
  }
  await engine.close();
}

const argv = process.argv.slice(2);
const run = argv[0] === '--json'
  ? json(argv[1], argv.slice(2)).then((out) => console.log(JSON.stringify(out)))
  : main();
run.catch((e) => {
  console.error(e);
  process.exit(1);
});
