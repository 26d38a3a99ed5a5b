'use strict';
// Loads the native addon: the engine itself, in-process (built from bindings/node/src).
const path = require('node:path');

const file = process.env.WFLO_NODE_ADDON || path.join(__dirname, '..', `wflo.${process.platform}-${process.arch}.node`);
let native;
try {
  native = require(file);
} catch (e) {
  const err = new Error(
    `wflo: cannot load its native addon ${file} (${e.message}). ` +
      'Build it with `npm run build` in bindings/node (Rust toolchain needed) or install a prebuilt package.',
  );
  err.cause = e;
  throw err;
}
module.exports = native;
