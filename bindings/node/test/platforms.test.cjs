'use strict';
// The platform packages (npm/<platform>/) and the loader that picks one (lib/native.cjs):
// one package per napi target, each at wflo's version and made for its os/cpu/libc; and when
// no addon can be loaded, an error that names the package to install.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { parseTriple } = require('@napi-rs/cli');
const { PLATFORMS, isMusl, platformName } = require('../lib/platform.cjs');

const pkgDir = path.join(__dirname, '..');
const main = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const targets = main.napi.targets.map(parseTriple);
const npmDir = path.join(pkgDir, 'npm');
const readPkg = (dir) => JSON.parse(fs.readFileSync(path.join(npmDir, dir, 'package.json'), 'utf8'));
// napi's os/cpu names are Node's; its abi "gnu" is npm's libc "glibc".
const libcOf = { gnu: 'glibc', musl: 'musl' };

test('napi builds the addon as wflo.<platform>.node for the seven targets wflo publishes', () => {
  assert.equal(main.napi.binaryName, 'wflo');
  assert.deepEqual(main.napi.targets, [
    'x86_64-unknown-linux-gnu',
    'x86_64-unknown-linux-musl',
    'aarch64-unknown-linux-gnu',
    'aarch64-unknown-linux-musl',
    'x86_64-apple-darwin',
    'aarch64-apple-darwin',
    'x86_64-pc-windows-msvc',
  ]);
  assert.match(main.devDependencies['@napi-rs/cli'], /^\d+\.\d+\.\d+$/, 'the napi CLI is pinned');
});

test('there is one platform package per napi target, and the loader knows the same list', () => {
  const names = targets.map((t) => t.platformArchABI);
  assert.deepEqual(fs.readdirSync(npmDir).sort(), [...names].sort());
  assert.deepEqual([...PLATFORMS], names);
});

test("every platform package is at wflo's version and made for its target's os, cpu and libc", () => {
  for (const t of targets) {
    const dir = t.platformArchABI;
    const pkg = readPkg(dir);
    const addon = `wflo.${dir}.node`;
    assert.equal(pkg.name, `wflo-${dir}`, dir);
    assert.equal(pkg.version, main.version, `${pkg.name}'s version is wflo's`);
    assert.deepEqual(pkg.os, [t.platform], dir);
    assert.deepEqual(pkg.cpu, [t.arch], dir);
    assert.deepEqual(pkg.libc, t.platform === 'linux' ? [libcOf[t.abi]] : undefined, dir);
    assert.equal(pkg.main, addon, dir);
    assert.deepEqual(pkg.files, [addon], dir);
    assert.equal(pkg.license, main.license, dir);
    assert.deepEqual(pkg.repository, { ...main.repository, directory: `bindings/node/npm/${dir}` }, dir);
    assert.deepEqual(pkg.engines, main.engines, dir);
    assert.equal(pkg.scripts, undefined, `${pkg.name} runs nothing on install`);
    const readme = fs.readFileSync(path.join(npmDir, dir, 'README.md'), 'utf8');
    assert.ok(readme.startsWith(`# ${pkg.name}\n`), `${dir}/README.md`);
    assert.ok(readme.includes(`npm install ${pkg.name}@`), `${dir}/README.md says how to install it`);
  }
});

test("this machine's platform is a published one, and on Linux the libc check agrees with Node's report", () => {
  const name = platformName();
  assert.ok(PLATFORMS.includes(name), name);
  assert.ok(name.startsWith(`${process.platform}-${process.arch}`), name);
  if (process.platform === 'linux') {
    const glibc = process.report.getReport().header.glibcVersionRuntime;
    assert.equal(isMusl(), !glibc);
    assert.ok(name.endsWith(glibc ? '-gnu' : '-musl'), name);
  }
});

/** The package's JavaScript, without any addon, in a temp folder; returns the folder. */
function copyWithoutAddon() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-loader-'));
  for (const f of ['index.cjs', 'index.mjs', 'package.json', 'lib']) fs.cpSync(path.join(pkgDir, f), path.join(dir, f), { recursive: true });
  return dir;
}

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'WFLO_NODE_ADDON' && k !== 'NODE_PATH'));

/**
 * Requires wflo from `dir` in a child, then uses it: the require succeeds (the addon is loaded
 * on first use), and the first use that needs the addon must fail. Returns that error's
 * message (every use tried throws the same one).
 */
function loadFails(dir, env = cleanEnv()) {
  const probe = `
    const wflo = require('./index.cjs'); // loads no addon: must not throw
    const { WfloWorkflow, BudgetExceededError } = wflo; // nor does reading classes
    const messages = [];
    const attempt = (f) => { try { f(); messages.push(null); } catch (e) { messages.push(e.message); } };
    attempt(() => wflo.countTokens('gpt-4o', 'hi'));
    attempt(() => wflo.version); // still a getter after a failed load: throws again
    attempt(() => wflo.cost('gpt-4o', { input: 1 }));
    wflo.Engine.open('memory://').then(
      () => messages.push(null),
      (e) => messages.push(e.message),
    ).then(() => console.log(JSON.stringify(messages)));`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `requiring wflo from ${dir} should succeed:\n${r.stderr}`);
  const messages = JSON.parse(r.stdout);
  assert.equal(messages.length, 4, r.stdout);
  assert.ok(typeof messages[0] === 'string', `using wflo from ${dir} without its addon should fail:\n${r.stdout}`);
  for (const m of messages) assert.equal(m, messages[0], 'every use fails with the same error');
  return messages[0];
}

test('with neither a local build nor the platform package, the error names the package and how to install it', (t) => {
  const dir = copyWithoutAddon();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const platform = platformName();
  const message = loadFails(dir);
  assert.match(message, new RegExp(`cannot load its native addon for ${platform}`));
  assert.ok(message.includes(`the package wflo-${platform}`), message);
  assert.ok(message.includes(`npm install wflo-${platform}@${main.version}`), message);
  assert.ok(message.includes('--omit=optional') && message.includes('--no-optional'), message);
  // …and what was tried, with why each failed.
  assert.ok(message.includes(`${path.join(dir, `wflo.${platform}.node`)}: no such file`), message);
  assert.ok(message.includes(`wflo-${platform}: Cannot find module 'wflo-${platform}/package.json'`), message);
  // The ESM entry reads every export, so there the same error comes at import.
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('./index.mjs')"], { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
  assert.notEqual(esm.status, 0, esm.stdout);
  assert.ok(esm.stderr.includes(message.split('\n')[0]), esm.stderr);
  assert.ok(esm.stderr.includes(`wflo-${platform}: Cannot find module 'wflo-${platform}/package.json'`), esm.stderr);
});

test("a platform package of another version is refused: its addon would not fit wflo's JavaScript", (t) => {
  const dir = copyWithoutAddon();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const platform = platformName();
  const installed = path.join(dir, 'node_modules', `wflo-${platform}`);
  fs.mkdirSync(installed, { recursive: true });
  fs.writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ ...readPkg(platform), version: '0.0.1' }));
  const message = loadFails(dir);
  assert.ok(message.includes(`wflo-${platform}: version 0.0.1 is installed, wflo ${main.version} needs wflo-${platform}@${main.version}`), message);
  assert.ok(message.includes(`did not load`) && message.includes(`npm install wflo-${platform}@${main.version}`), message);
});

test('WFLO_NODE_ADDON, when set, is the only place tried', () => {
  // From the checkout, where the local build would load.
  const missing = path.join(os.tmpdir(), 'no-such-dir', 'wflo.node');
  const message = loadFails(pkgDir, { ...cleanEnv(), WFLO_NODE_ADDON: missing });
  assert.ok(message.includes(`WFLO_NODE_ADDON=${missing}: Cannot find module`), message);
  assert.ok(message.includes('WFLO_NODE_ADDON is set, so nothing else was tried'), message);
  assert.doesNotMatch(message, /no such file \(a checkout's build\)/);
  // Pointing at the checkout's build works (the benchmarks point it at a release build).
  const platform = platformName();
  const out = execFileSync(process.execPath, ['-p', "require('./index.cjs').version"], {
    cwd: pkgDir,
    env: { ...cleanEnv(), WFLO_NODE_ADDON: path.join(pkgDir, `wflo.${platform}.node`) },
    encoding: 'utf8',
  });
  assert.equal(out.trim(), main.version);
});
