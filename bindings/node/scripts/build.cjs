// Builds the native addon with cargo and puts it where lib/native.cjs loads it.
// `node scripts/build.cjs [--release]`; honours CARGO_TARGET_DIR.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const release = process.argv.includes('--release');
const root = path.resolve(__dirname, '..', '..', '..');
execFileSync('cargo', ['build', '-p', 'wflo-node', ...(release ? ['--release'] : [])], { cwd: root, stdio: 'inherit' });
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const lib = path.join(target, release ? 'release' : 'debug', process.platform === 'darwin' ? 'libwflo_node.dylib' : 'libwflo_node.so');
const dest = path.join(__dirname, '..', `wflo.${process.platform}-${process.arch}.node`);
fs.copyFileSync(lib, dest);
console.log(`native addon: ${dest}`);
