'use strict';
// Builds the native addon with the napi-rs CLI and leaves it where lib/native.cjs looks first:
// bindings/node/wflo.<platform>.node, named as napi names it (wflo.linux-x64-gnu.node, …).
//
//   node scripts/build.cjs [--release] [--target <rust triple>] [--cross-compile]
//
// --cross-compile is handed to napi (cargo-zigbuild: musl and other Linux targets from one
// runner, as the release workflow builds them).
// What runs is `napi build --platform --no-js` on this crate (bindings/node/Cargo.toml). The
// CLI builds with `cargo build --target <triple>`, so the library lands in
// <target dir>/<triple>/<debug|release>/, and copies it under its platform name into its
// --output-dir: <target dir>/napi/<debug|release>/, from where this script copies it here (so
// napi's staging folders stay out of the checkout). CARGO_TARGET_DIR is honoured (and handed
// to napi as --target-dir). The JavaScript loader napi can generate is switched off
// (lib/native.cjs is ours), and the TypeScript declarations it derives from the Rust source
// stay in that output folder, away from our index.d.ts.
// Then `node scripts/prepare-platform.cjs` copies the addon into npm/<platform>/.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.join(__dirname, '..');
const repo = path.join(pkgDir, '..', '..');

const argv = process.argv.slice(2);
const release = argv.includes('--release');
const t = argv.indexOf('--target');
const target = t >= 0 ? argv[t + 1] : undefined;
if (t >= 0 && !target) throw new Error('--target needs a Rust target triple');

const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(repo, 'target');
const outDir = path.join(targetDir, 'napi', release ? 'release' : 'debug');

// The triple napi would pick by itself (CARGO_BUILD_TARGET, else rustc's host), made explicit
// so the file name it gives the addon is known here: napi's own parseTriple names it.
const triple =
  target ||
  process.env.CARGO_BUILD_TARGET ||
  /^host: (.+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1].trim();
const { parseTriple } = require('@napi-rs/cli');
const file = `wflo.${parseTriple(triple).platformArchABI}.node`;

const cliPkg = require.resolve('@napi-rs/cli/package.json', { paths: [pkgDir] });
const napi = path.join(path.dirname(cliPkg), require(cliPkg).bin.napi);
const args = [
  napi,
  'build',
  '--platform',
  '--no-js',
  '--target',
  triple,
  '--manifest-path',
  'Cargo.toml',
  '--package-json-path',
  'package.json',
  '--output-dir',
  outDir,
  '--target-dir',
  targetDir,
  '--dts',
  'wflo-node.d.ts',
  ...(release ? ['--release'] : []),
  ...(argv.includes('--cross-compile') ? ['--cross-compile'] : []),
];
console.log(`napi ${args.slice(1).join(' ')}`);
execFileSync(process.execPath, args, { cwd: pkgDir, stdio: 'inherit' });
const fromNapi = path.join(outDir, file);
if (!fs.existsSync(fromNapi)) throw new Error(`napi build did not leave ${fromNapi}`);
const built = path.join(pkgDir, file);
// A fresh inode rather than an overwrite: a process that has the old addon loaded keeps it.
fs.rmSync(built, { force: true });
fs.copyFileSync(fromNapi, built);

// Before napi, this script named the addon wflo.<os>-<arch>.node; nothing loads that name now.
const legacy = path.join(pkgDir, `wflo.${process.platform}-${process.arch}.node`);
if (legacy !== built && fs.existsSync(legacy)) fs.rmSync(legacy);

console.log(`native addon: ${built}`);
