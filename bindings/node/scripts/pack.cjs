'use strict';
// Packs the wflo package as it is published:
//
//   node scripts/pack.cjs [npm pack options…]      e.g. --json --pack-destination /tmp/out
//
// It runs `npm pack` on a copy of the package (the files package.json's `files` lists) whose
// package.json also lists the platform packages as optionalDependencies: wflo-<platform> at
// this very version, one per target in package.json's napi.targets, named by napi's own rule
// (parseTriple from @napi-rs/cli). That is the edit `napi pre-publish` makes to package.json
// in place; it is made on the copy because the checkout's package.json cannot carry it: `npm
// ci` needs every dependency in package-lock.json, and npm cannot lock a package that is not
// on the registry yet (nor should a checkout install them: it loads its own build).
// The platform packages themselves are packed from npm/<platform>/ once
// scripts/prepare-platform.cjs has put their addon in. Publish the tarballs these make:
// `npm publish` right here is refused (package.json's prepublishOnly runs this with --refuse).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const pkgDir = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

if (process.argv.includes('--refuse')) {
  console.error(
    'wflo: publish the tarballs scripts/pack.cjs and scripts/prepare-platform.cjs make, not this folder: ' +
      "its package.json does not list the platform packages, so an install would find no addon.",
  );
  process.exit(1);
}

/** The published package.json: this one, plus the platform packages as optional dependencies. */
function publishedManifest() {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const { parseTriple } = require('@napi-rs/cli');
  const optional = {};
  for (const triple of pkg.napi.targets) optional[`wflo-${parseTriple(triple).platformArchABI}`] = pkg.version;
  const published = {};
  for (const [k, v] of Object.entries(pkg)) {
    if (k === 'peerDependencies') published.optionalDependencies = optional;
    published[k] = v;
  }
  if (published.scripts) delete published.scripts.prepublishOnly;
  return published;
}

// npm pack's destination defaults to where it runs: keep that the caller's folder.
const args = process.argv.slice(2);
const d = args.findIndex((a) => a === '--pack-destination' || a.startsWith('--pack-destination='));
if (d < 0) args.push('--pack-destination', process.cwd());
else if (args[d].includes('=')) args[d] = `--pack-destination=${path.resolve(args[d].split('=')[1])}`;
else args[d + 1] = path.resolve(args[d + 1]);

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-stage-'));
try {
  const manifest = publishedManifest();
  for (const f of manifest.files) {
    if (/[*?[{!]/.test(f)) throw new Error(`scripts/pack.cjs copies plain paths; package.json's files has ${f}`);
    fs.cpSync(path.join(pkgDir, f), path.join(stage, f), { recursive: true });
  }
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  execFileSync(npm, ['pack', ...args], { cwd: stage, stdio: 'inherit', shell: process.platform === 'win32' });
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
