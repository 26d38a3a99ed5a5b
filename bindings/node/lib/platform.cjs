'use strict';
// Which prebuilt addon this process needs, by napi-rs's platform names (linux-x64-gnu,
// darwin-arm64, win32-x64-msvc, …): the name is the suffix of the addon file,
// wflo.<platform>.node, and of the npm package that ships it, wflo-<platform>.
// Used by lib/native.cjs and by the scripts that build and package the addon.
const fs = require('node:fs');

/** The platforms wflo publishes a package for: package.json's napi.targets, by napi's names. */
const PLATFORMS = Object.freeze([
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]);

/** Whether this Linux process runs on musl libc (Alpine and the like) rather than glibc. */
function isMusl() {
  // Cheapest and exact: the C library's dynamic loader this very process has mapped.
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'latin1');
    if (maps.includes('/ld-musl-')) return true;
    if (/\/(ld-linux[^/\s]*\.so|libc\.so\.6)/.test(maps)) return false;
  } catch {
    // no /proc: ask Node below
  }
  // The diagnostic report's header names the glibc the process runs on; under musl it has none.
  // (A few milliseconds, hence second; without the network interfaces it is faster.)
  const report = process.report;
  if (report && typeof report.getReport === 'function') {
    const excludeNetwork = report.excludeNetwork;
    try {
      report.excludeNetwork = true;
      const header = report.getReport().header;
      if (header) return !header.glibcVersionRuntime;
    } catch {
      // no report: look at the file system
    } finally {
      report.excludeNetwork = excludeNetwork;
    }
  }
  // musl's dynamic loader is /lib/ld-musl-<arch>.so.1; glibc systems have none.
  try {
    return fs.readdirSync('/lib').some((f) => f.startsWith('ld-musl-'));
  } catch {
    return false;
  }
}

/** This process's platform name: `${os}-${cpu}`, plus the C runtime on Linux and Windows. */
function platformName() {
  const { platform, arch } = process;
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

module.exports = { PLATFORMS, isMusl, platformName };
