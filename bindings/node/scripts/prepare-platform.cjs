'use strict';
// Puts a built addon into its platform package, ready for `npm pack` or `npm publish`:
//
//   node scripts/prepare-platform.cjs [<platform>] [--out <dir>]
//
// <platform> is napi's name (linux-x64-gnu, darwin-arm64, …), this machine's by default. The
// addon wflo.<platform>.node that scripts/build.cjs left in bindings/node is copied, not moved
// (the checkout's tests load it from there), into npm/<platform>/; with --out, the whole package
// (its package.json, README.md and the addon) is written to <dir> instead, leaving the checkout
// as it is. (napi's own `napi artifacts` does this for every configured target at once and
// fails unless all seven were built; here one machine builds one.)
// Refuses when the addon is missing or the package's version is not wflo's.
const fs = require('node:fs');
const path = require('node:path');
const { platformName } = require('../lib/platform.cjs');

const pkgDir = path.join(__dirname, '..');
const argv = process.argv.slice(2);
const o = argv.indexOf('--out');
const out = o >= 0 ? argv[o + 1] : undefined;
if (o >= 0 && !out) throw new Error('--out needs a directory');
const platform = argv.find((a, i) => !a.startsWith('--') && i !== o + 1) || platformName();

const source = path.join(pkgDir, 'npm', platform);
if (!fs.existsSync(path.join(source, 'package.json'))) {
  throw new Error(`no platform package npm/${platform}/ (wflo publishes ${fs.readdirSync(path.join(pkgDir, 'npm')).join(', ')})`);
}
const main = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const pkg = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8'));
if (pkg.version !== main.version) {
  throw new Error(`npm/${platform}/package.json has version ${pkg.version}, wflo has ${main.version}: they are published together`);
}
const addon = `wflo.${platform}.node`;
const built = path.join(pkgDir, addon);
if (!fs.existsSync(built)) throw new Error(`${built} is missing: build it first (node scripts/build.cjs --release)`);
if (pkg.main !== addon) throw new Error(`npm/${platform}/package.json's main is ${pkg.main}, not ${addon}`);

const dest = out ? path.resolve(out) : source;
fs.mkdirSync(dest, { recursive: true });
if (out) for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(source, f), path.join(dest, f));
fs.copyFileSync(built, path.join(dest, addon));
console.log(`${pkg.name}@${pkg.version}: ${dest}`);
