'use strict';
// Installs wflo as users do: pack the wflo package as it is published (scripts/pack.cjs: `npm
// pack` with the platform packages as optional dependencies) and this machine's platform
// package (npm/<platform>/ with the freshly built addon, put there by
// scripts/prepare-platform.cjs), `npm install` both tarballs into a fresh project, and run the
// quick tour there — examples/node/quick_tour.mjs itself, importing 'wflo' — as ESM and as
// CommonJS, with the addon loaded from node_modules/wflo-<platform>; then type-check it (and
// `wflo/ai-sdk`) with TypeScript under `--module nodenext`. Offline: the package has no runtime
// dependencies, the platform package comes as a file and npm skips the other six.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');

const pkgDir = path.join(__dirname, '..');
const repo = path.join(pkgDir, '..', '..');
const tourFile = path.join(repo, 'examples', 'node', 'quick_tour.mjs');
const tsc = path.join(pkgDir, 'node_modules', '.bin', 'tsc');
const { platformName } = require('../lib/platform.cjs');
const { parseTriple } = require('@napi-rs/cli');
const platform = platformName();
const platformPackage = `wflo-${platform}`;
const addon = `wflo.${platform}.node`;
const mainPkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// The children run as a user's would: no npm_* settings inherited from an `npm test` run, and
// no WFLO_NODE_ADDON pointing back at the repository's addon. The registry is a closed port:
// installing the tarball must need nothing from the network. (`--offline`, not
// `--prefer-offline`: npm looks up the optional peer dependencies' metadata, though it installs
// none of them, and with `--prefer-offline` an empty cache sends it to the registry.)
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'WFLO_NODE_ADDON')),
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_update_notifier: 'false',
};

/** Runs a command; resolves with {code, stdout, stderr} (never rejects on a non-zero exit). */
function run(cmd, args, cwd, timeout = 300_000) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

async function ok(cmd, args, cwd, timeout) {
  const r = await run(cmd, args, cwd, timeout);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const tourSource = fs.readFileSync(tourFile, 'utf8');
const repoImport = "'../../bindings/node/index.mjs'";
const importLine = /^import\s+(\{[^}]*\})\s+from\s+('[^']+');[ \t]*\n/gm;

/** The tour as a user of the installed package writes it: importing 'wflo'. */
function asEsm(source) {
  assert.ok(source.includes(repoImport), `the tour must import ${repoImport}`);
  return source.split(repoImport).join("'wflo'");
}

/** The ESM tour as a CommonJS module: imports become requires (or stay, for TypeScript's
 * .cts, which compiles them to requires) and the top-level awaits run in an async function. */
function asCommonJs(source, { keepImports = false } = {}) {
  const imports = [];
  const body = asEsm(source).replace(importLine, (line, names, from) => {
    imports.push(keepImports ? line.trimEnd() : `const ${names} = require(${from});`);
    return '';
  });
  assert.ok(imports.length > 0, 'the tour has import lines');
  return `'use strict';\n${imports.join('\n')}\n\n(async () => {\n${body}\n})();\n`;
}

// Types beyond the tour: both entry points, typed (not `any`): wrong arguments must not compile.
const typeChecks = `import { WfloWorkflow, Engine, BinaryState, type CostBreakdown, type BudgetAlert, type CheckpointInfo } from 'wflo';
import aiSdk, { wfloMiddleware, type WfloMiddlewareOptions, type WfloLanguageModelMiddleware } from 'wflo/ai-sdk';

const options: WfloMiddlewareOptions = { workflow: new WfloWorkflow({ budgetUsd: 1 }), clampMaxTokens: true };
const middleware: WfloLanguageModelMiddleware = wfloMiddleware(options);
const spec: 'v3' = middleware.specificationVersion;
// @ts-expect-error budgetUsd is a number of dollars or a decimal string
new WfloWorkflow({ budgetUsd: true });
// @ts-expect-error fileTokens is a number
wfloMiddleware({ fileTokens: 'many' });
declare const engine: Engine;
const heard: ['threshold' | 'soft_budget', number, number][] = [];
const unsubscribe: () => void = engine.onThreshold((alert: BudgetAlert) => {
  heard.push([alert.kind, alert.percent, alert.spentUsd]);
});
const metrics: string = engine.metricsText();
const traced = new WfloWorkflow({ alertThresholds: [50, 90], softBudgetUsd: '0.05', traceparent: null });
const traceId: string | null = traced.traceId;
// @ts-expect-error alertThresholds is a list of percents
new WfloWorkflow({ alertThresholds: 50 });
export const observed: [() => void, string, string | null] = [unsubscribe, metrics, traceId];
const binary = new BinaryState('application/msgpack', new Uint8Array([1]));
const bytes: Uint8Array = binary.data;
const saved: Promise<CheckpointInfo> = traced.checkpoint('bytes', bytes, { contentType: binary.contentType });
// @ts-expect-error contentType is a string
traced.checkpoint('bytes', bytes, { contentType: 1 });
declare const listed: CheckpointInfo;
export const states: [Promise<CheckpointInfo>, string | undefined] = [saved, listed.contentType];
export const checked: [string, CostBreakdown | null, typeof Engine, typeof wfloMiddleware] = [spec, null, Engine, aiSdk.wfloMiddleware];
`;

const aiSdkProbe = (load) => `${load}
const m = wfloMiddleware();
console.log(m.specificationVersion, typeof m.transformParams, typeof m.wrapGenerate, typeof m.wrapStream);
`;

let work; // temp dir: the tarballs and the user's project
let project;
let packed; // npm pack --json's entry of wflo
let packedPlatform; // and of wflo-<platform>
let repoTour; // the tour's output run from the repository

/** npm pack --json's entry; npm may print its notices before the JSON. */
const packEntry = (stdout) => JSON.parse(stdout.slice(stdout.indexOf('[')))[0];

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-pack-'));
  project = path.join(work, 'project');
  const platformDir = path.join(work, platform);
  fs.mkdirSync(project);
  await ok(process.execPath, [path.join(pkgDir, 'scripts', 'prepare-platform.cjs'), platform, '--out', platformDir], pkgDir);
  const [pack, packPlatform, repoRun] = await Promise.all([
    ok(process.execPath, [path.join(pkgDir, 'scripts', 'pack.cjs'), '--json', '--pack-destination', work], pkgDir),
    ok(npm, ['pack', '--json', '--pack-destination', work], platformDir),
    ok(process.execPath, [tourFile], repo),
  ]);
  packed = packEntry(pack.stdout);
  packedPlatform = packEntry(packPlatform.stdout);
  repoTour = repoRun.stdout;
  await ok(npm, ['init', '-y'], project);
  const tarballs = [packed, packedPlatform].map((p) => path.join(work, p.filename));
  await ok(npm, ['install', ...tarballs, '--no-audit', '--no-fund', '--offline'], project, 300_000);
  fs.writeFileSync(path.join(project, 'tour.mjs'), asEsm(tourSource));
  fs.writeFileSync(path.join(project, 'tour.cjs'), asCommonJs(tourSource));
  fs.writeFileSync(path.join(project, 'tour.mts'), asEsm(tourSource));
  fs.writeFileSync(path.join(project, 'tour.cts'), asCommonJs(tourSource, { keepImports: true }));
  fs.writeFileSync(path.join(project, 'checks.mts'), typeChecks);
  fs.writeFileSync(path.join(project, 'checks.cts'), typeChecks);
  fs.writeFileSync(path.join(project, 'ai-sdk.mjs'), aiSdkProbe("import { wfloMiddleware } from 'wflo/ai-sdk';"));
  fs.writeFileSync(path.join(project, 'ai-sdk.cjs'), aiSdkProbe("const { wfloMiddleware } = require('wflo/ai-sdk');"));
});

test.after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the entry points and the integrations, and nothing of the build, no addon either', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const aiSdk = ['cjs', 'mjs', 'd.ts'].map((ext) => `integrations/ai-sdk.${ext}`);
  for (const f of ['index.cjs', 'index.mjs', 'index.d.ts', 'package.json', 'README.md', ...aiSdk]) {
    assert.ok(files.has(f), `${f} is missing from ${packed.filename}`);
  }
  for (const f of fs.readdirSync(path.join(pkgDir, 'lib'))) assert.ok(files.has(`lib/${f}`), `lib/${f} is missing`);
  for (const f of files) {
    assert.ok(!/^(src|test|node_modules|scripts|bench|npm)\//.test(f) && !/\.(rs|node)$/.test(f), `${f} should not be published`);
  }
});

test('the published package.json lists every platform package, at its own version, as optional', () => {
  const published = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', 'wflo', 'package.json'), 'utf8'));
  const expected = Object.fromEntries(mainPkg.napi.targets.map((t) => [`wflo-${parseTriple(t).platformArchABI}`, mainPkg.version]));
  assert.deepEqual(published.optionalDependencies, expected);
  assert.equal(Object.keys(expected).length, 7);
  // Only that: the rest is the checkout's package.json (less the guard against publishing it).
  const { optionalDependencies, ...rest } = published;
  const { prepublishOnly, ...scripts } = mainPkg.scripts;
  assert.deepEqual(rest, { ...mainPkg, scripts });
  assert.equal(mainPkg.optionalDependencies, undefined);
  assert.match(prepublishOnly, /scripts\/pack\.cjs --refuse/);
});

test("the platform package's tarball is its package.json, its README and the freshly built addon", () => {
  assert.equal(packedPlatform.name, platformPackage);
  assert.equal(packedPlatform.version, mainPkg.version);
  assert.deepEqual(packedPlatform.files.map((f) => f.path).sort(), ['README.md', addon, 'package.json'].sort());
  const built = fs.statSync(path.join(pkgDir, addon));
  assert.equal(packedPlatform.files.find((f) => f.path === addon).size, built.size);
  const installed = path.join(project, 'node_modules', platformPackage, addon);
  assert.ok(fs.readFileSync(installed).equals(fs.readFileSync(path.join(pkgDir, addon))), 'the installed addon is the built one');
});

test("every entry of package.json's exports resolves to a file in the tarball", () => {
  const files = new Set(packed.files.map((f) => f.path));
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const targets = (v) => (typeof v === 'string' ? [v] : Object.values(v).flatMap(targets));
  const missing = Object.entries(pkg.exports).flatMap(([key, v]) =>
    targets(v).filter((f) => !files.has(f.replace(/^\.\//, ''))).map((f) => `${key} -> ${f}`),
  );
  assert.deepEqual(missing, [], 'exports that point at files the package does not ship');
});

test('the installed package is the one the project loads, and its addon comes from the platform package', async () => {
  const probe = `const wflo = require('wflo');
const tokens = wflo.countTokens('gpt-4o-mini', 'Find three papers on BPE tokenizers.').tokens;
const addons = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
console.log(JSON.stringify({ resolved: require.resolve('wflo'), version: wflo.version, tokens, addons }));`;
  const r = await ok(process.execPath, ['-e', probe], project);
  const { resolved, version, tokens, addons } = JSON.parse(r.stdout);
  const modules = path.join(fs.realpathSync(project), 'node_modules');
  assert.equal(resolved, path.join(modules, 'wflo', 'index.cjs'));
  assert.equal(version, packed.version);
  assert.ok(Number.isInteger(tokens) && tokens > 0, `tokens: ${tokens}`);
  assert.deepEqual(addons, [path.join(modules, platformPackage, addon)]);
  assert.deepEqual(fs.readdirSync(path.join(modules, 'wflo')).filter((f) => f.endsWith('.node')), []);
  // npm skipped the other platforms' packages: offline, and not for this machine anyway.
  const others = fs.readdirSync(modules).filter((f) => f.startsWith('wflo-') && f !== platformPackage);
  assert.deepEqual(others, []);
});

const expectTour = (stdout) => {
  assert.equal(stdout, repoTour, 'the installed package prints what the repository tour prints');
  assert.deepEqual(stdout.trim().split('\n'), [
    'call cost $0.00011115',
    'refused: needs up to $0.0475 of a $0.01 budget',
    'rolled back to {"papers":["a","b","c"]}',
    'total $0.00011115 of $0.01, 1 call(s), 1 refused',
  ]);
};

test('the quick tour runs as ESM against the installed package', async () => {
  expectTour((await ok(process.execPath, ['tour.mjs'], project)).stdout);
});

test('the quick tour runs as CommonJS against the installed package', async () => {
  const source = fs.readFileSync(path.join(project, 'tour.cjs'), 'utf8');
  assert.match(source, /require\('wflo'\)/);
  assert.doesNotMatch(source, /^import /m);
  expectTour((await ok(process.execPath, ['tour.cjs'], project)).stdout);
});

test('wflo/ai-sdk loads from the installed package as ESM and as CommonJS', async () => {
  for (const file of ['ai-sdk.mjs', 'ai-sdk.cjs']) {
    const r = await ok(process.execPath, [file], project);
    assert.equal(r.stdout.trim(), 'v3 function function function', file);
  }
});

test('the types resolve for ESM and CommonJS under --module nodenext --strict, wflo/ai-sdk too', async () => {
  const files = ['tour.mts', 'tour.cts', 'checks.mts', 'checks.cts'];
  const r = await run(tsc, ['--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', ...files], project, 120_000);
  assert.equal(r.code, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
  // The checker really read wflo's declarations: a wrong use is reported.
  fs.writeFileSync(path.join(project, 'wrong.mts'), "import { WfloWorkflow } from 'wflo';\nconst n: number = new WfloWorkflow().name;\nexport { n };\n");
  const wrong = await run(tsc, ['--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', 'wrong.mts'], project, 120_000);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stdout, /wrong\.mts\(2,7\): error TS2322/);
});
