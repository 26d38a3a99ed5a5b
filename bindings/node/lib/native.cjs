'use strict';
// Loads the native addon: the engine itself, in-process (built from bindings/node/src).
//
// The addon is one file per platform, wflo.<platform>.node with napi-rs's platform names
// (lib/platform.cjs). Published, each is the only file of its own npm package,
// wflo-<platform>, which the wflo package lists as optional dependencies: npm installs the one
// whose os, cpu and libc match this machine and skips the others. Where the addon comes
// from, in order; the first that loads wins:
//   1. the file WFLO_NODE_ADDON names (a release build for the benchmarks, say); when it is
//      set, nothing else is tried, so a wrong path is an error, not a silent fallback;
//   2. wflo.<platform>.node next to this package: what `npm run build` leaves in a checkout;
//   3. the platform package, require('wflo-<platform>'), if its version is this package's.
// When none loads, the error says which package is missing, how to install it, and why each
// place failed.
//
// Nothing requires this file at `require('wflo')`: it is loaded when the engine is first needed
// (index.cjs, lib/engine.cjs, lib/events.cjs and lib/errors.cjs require it on first use). A
// failed load leaves it out of require's cache, so every later use tries again and throws the
// same error.
const fs = require('node:fs');
const path = require('node:path');
const { PLATFORMS, platformName } = require('./platform.cjs');

const { version } = require('../package.json');
const platform = platformName();
const packageName = `wflo-${platform}`;
const tried = []; // `${where}: ${why it did not load}`, for the error
let lastError;

/** Runs `load`; returns the addon, or undefined after noting why it failed. */
function attempt(where, load) {
  try {
    return load();
  } catch (e) {
    tried.push(`${where}: ${e.message.split('\n')[0]}`);
    lastError = e;
    return undefined;
  }
}

function fromPackage() {
  // The package's version first: an addon from another release does not fit this JavaScript.
  const installed = require(`${packageName}/package.json`).version;
  if (installed !== version) {
    throw new Error(`version ${installed} is installed, wflo ${version} needs ${packageName}@${version}`);
  }
  return require(packageName);
}

function load() {
  const override = process.env.WFLO_NODE_ADDON;
  if (override) return attempt(`WFLO_NODE_ADDON=${override}`, () => require(path.resolve(override)));
  const local = path.join(__dirname, '..', `wflo.${platform}.node`);
  if (fs.existsSync(local)) {
    const native = attempt(local, () => require(local));
    if (native) return native;
  } else {
    tried.push(`${local}: no such file (a checkout's build)`);
  }
  return attempt(packageName, fromPackage);
}

/** The error when no addon loaded: what to install (or build), then what was tried. */
function loadError() {
  const notInstalled =
    lastError && lastError.code === 'MODULE_NOT_FOUND' && lastError.message.includes(`'${packageName}/package.json'`);
  let advice;
  if (process.env.WFLO_NODE_ADDON) {
    advice = 'WFLO_NODE_ADDON is set, so nothing else was tried: unset it, or point it at an addon built for this platform.';
  } else if (!PLATFORMS.includes(platform)) {
    advice =
      `wflo publishes its addon for ${PLATFORMS.join(', ')}; for ${platform}, build it from a checkout of ` +
      'the repository: `npm run build` in bindings/node (Rust toolchain needed).';
  } else if (notInstalled) {
    advice =
      `The addon for this platform is the package ${packageName}, an optional dependency of wflo, and it is ` +
      'not installed: npm leaves optional dependencies out under --omit=optional (or --no-optional), and a ' +
      'lockfile written on another OS or CPU may lack it. Install it next to wflo, without omitting optional ' +
      `dependencies:\n    npm install ${packageName}@${version}\n` +
      'In a checkout of the repository, build the addon instead: `npm run build` in bindings/node.';
  } else {
    advice =
      `The addon for this platform, from the package ${packageName}, did not load. Reinstall it to match ` +
      `wflo ${version}:\n    npm install ${packageName}@${version}`;
  }
  const err = new Error(
    `wflo: cannot load its native addon for ${platform} (Node ${process.version}).\n${advice}\n` +
      `Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}`,
  );
  err.cause = lastError;
  return err;
}

const native = load();
if (!native) throw loadError();
module.exports = native;
