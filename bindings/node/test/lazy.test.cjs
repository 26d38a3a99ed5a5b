'use strict';
// `require('wflo')` loads nothing it can leave for later (issue 19): each export is loaded on
// first read, the native addon on first use. Observed in a fresh child process: which files
// are in require's cache and whether the addon is mapped into the process.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { version } = require('../package.json');

// Every name `require('wflo')` exports, in its order (as before issue 19).
const NAMES = [
  'version', 'Engine', 'getDefaultEngine', 'setDefaultEngine', 'WfloWorkflow', 'Scope', 'BinaryState', 'currentWorkflow',
  'settleFromResult', 'trackLlmCall', 'Reservation', 'countTokens', 'countChatTokens', 'price', 'cost', 'parseUsage',
  'NativeStream', 'withRetry', 'failureOf', 'Retrier', 'CircuitBreaker', 'RetryExhaustedError', 'ResourceLock', 'Permit',
  'WfloError', 'InvalidArgumentError', 'UnknownModelError', 'BudgetExceededError', 'CircuitOpenError', 'ResourceBusyError',
  'ApprovalDeniedError', 'ApprovalPendingError', 'CallLimitError', 'NotFoundError', 'ConflictError', 'StorageError',
  'ClosedError', 'InternalError',
];

// In the child: what has been loaded so far, the package's files relative to it.
const PROBE = `
  const path = require('node:path');
  const fs = require('node:fs');
  const root = ${JSON.stringify(root)};
  const loaded = () => {
    const files = Object.keys(require.cache).filter((f) => f.startsWith(root + path.sep));
    const maps = process.platform === 'linux' ? fs.readFileSync('/proc/self/maps', 'utf8') : '';
    return {
      js: files.filter((f) => !f.endsWith('.node')).map((f) => path.relative(root, f)).sort(),
      addonCached: Object.keys(require.cache).some((f) => f.endsWith('.node')),
      addonMapped: process.platform === 'linux' ? /wflo[^/\\n]*\\.node/.test(maps) : null,
    };
  };
  const getter = (o, k) => typeof Object.getOwnPropertyDescriptor(o, k).get === 'function';
`;

function child(code) {
  return JSON.parse(execFileSync(process.execPath, ['-e', PROBE + code], { cwd: root, encoding: 'utf8' }));
}

test("require('wflo') loads index.cjs alone: no lib module, no addon; every name is there, enumerable", () => {
  const out = child(`
    const wflo = require('wflo');
    const keys = Object.keys(wflo);
    const getters = keys.filter((k) => getter(wflo, k));
    console.log(JSON.stringify({ after: loaded(), keys, getters }));
  `);
  assert.deepEqual(out.after.js, ['index.cjs']);
  assert.equal(out.after.addonCached, false);
  if (process.platform === 'linux') assert.equal(out.after.addonMapped, false);
  assert.deepEqual(out.keys, NAMES);
  // The plain functions defined in index.cjs are plain properties; the rest wait for first read.
  const plain = ['countTokens', 'countChatTokens', 'price', 'cost', 'parseUsage'];
  assert.deepEqual(out.getters, NAMES.filter((n) => !plain.includes(n)));
});

test('reading classes loads their modules but not the addon; the first use loads it, and it works', () => {
  const out = child(`
    const wflo = require('wflo');
    const { WfloWorkflow, Engine, BudgetExceededError } = wflo;
    const afterClasses = loaded();
    const same = {
      engine: wflo.Engine === Engine && Engine === require('./lib/engine.cjs').Engine,
      workflow: wflo.WfloWorkflow === WfloWorkflow && WfloWorkflow === require('./lib/workflow.cjs').WfloWorkflow,
      error: BudgetExceededError === require('./lib/errors.cjs').BudgetExceededError,
      settled: !getter(wflo, 'Engine') && getter(wflo, 'version'),
    };
    const tokens = wflo.countTokens('gpt-4o', 'hello world').tokens;
    const afterUse = loaded();
    let unknown;
    try { wflo.price('no-such-model-for-wflo'); } catch (e) {
      unknown = { name: e.name, typed: e instanceof wflo.UnknownModelError && e instanceof wflo.WfloError, code: e.code };
    }
    console.log(JSON.stringify({ afterClasses, same, tokens, afterUse, version: wflo.version, versionSettled: !getter(wflo, 'version'), unknown }));
  `);
  assert.equal(out.afterClasses.addonCached, false);
  if (process.platform === 'linux') assert.equal(out.afterClasses.addonMapped, false);
  assert.ok(out.afterClasses.js.includes(path.join('lib', 'workflow.cjs')), out.afterClasses.js);
  assert.ok(!out.afterClasses.js.includes(path.join('lib', 'native.cjs')), out.afterClasses.js);
  assert.deepEqual(out.same, { engine: true, workflow: true, error: true, settled: true });
  assert.ok(Number.isInteger(out.tokens) && out.tokens > 0, `tokens: ${out.tokens}`);
  assert.equal(out.afterUse.addonCached, true);
  if (process.platform === 'linux') assert.equal(out.afterUse.addonMapped, true);
  assert.ok(out.afterUse.js.includes(path.join('lib', 'native.cjs')), out.afterUse.js);
  assert.equal(out.version, version);
  assert.equal(out.versionSettled, true);
  assert.deepEqual(out.unknown, { name: 'UnknownModelError', typed: true, code: 'UNKNOWN_MODEL' });
});

test('an error class alone loads lib/errors.cjs only; an export can be replaced before it is read', () => {
  const out = child(`
    const wflo = require('wflo');
    const isError = new wflo.InvalidArgumentError('x', 'INVALID_ARGUMENT') instanceof wflo.WfloError;
    const afterErrors = loaded();
    const mine = function Engine() {};
    wflo.Engine = mine;
    console.log(JSON.stringify({ isError, afterErrors, replaced: wflo.Engine === mine, after: loaded() }));
  `);
  assert.equal(out.isError, true);
  assert.deepEqual(out.afterErrors.js, ['index.cjs', path.join('lib', 'errors.cjs')]);
  assert.equal(out.afterErrors.addonCached, false);
  assert.equal(out.replaced, true);
  assert.deepEqual(out.after.js, out.afterErrors.js);
});

test("the ESM entry exports every name require('wflo') does, as the same objects", () => {
  const out = child(`
    import(${JSON.stringify(require('node:url').pathToFileURL(path.join(root, 'index.mjs')).href)}).then((ns) => {
      const wflo = require('wflo');
      const names = Object.keys(ns).filter((k) => k !== 'default').sort();
      const differ = Object.keys(wflo).filter((k) => ns[k] !== wflo[k]);
      console.log(JSON.stringify({ names, defaultIsCjs: ns.default === wflo, differ }));
    });
  `);
  assert.deepEqual(out.names, [...NAMES].sort());
  assert.equal(out.defaultIsCjs, true);
  assert.deepEqual(out.differ, []);
  // Named imports by the package's name, as users write them.
  const named = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { Engine, Scope, BudgetExceededError, version } from 'wflo';
    import { createRequire } from 'node:module';
    const wflo = createRequire(process.cwd() + '/')('wflo');
    console.log(JSON.stringify([Engine === wflo.Engine, Scope === wflo.Scope, BudgetExceededError === wflo.BudgetExceededError, version]));
  `], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(named), [true, true, true, version]);
});
