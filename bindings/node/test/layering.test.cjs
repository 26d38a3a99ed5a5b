'use strict';
// The base layer (index.cjs, lib/) imports no integration and no framework: integrations
// register their runners with it when they are loaded.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

test("require('wflo') loads no integration and no framework", () => {
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', `
    require(${JSON.stringify(root)});
    console.log(JSON.stringify(Object.keys(require.cache)));
  `]).toString());
  const offending = loaded.filter((f) => f.includes(`${path.sep}integrations${path.sep}`) || f.includes(`${path.sep}node_modules${path.sep}`));
  assert.deepEqual(offending, []);
});

test('a LangChain runnable needs its integration loaded; once loaded, execute runs it', async () => {
  const code = `
    const wflo = require(${JSON.stringify(root)});
    const runnable = { lc_runnable: true, invoke: async (inputs, config) => ({ inputs, handlers: config.callbacks.length }) };
    (async () => {
      const wf = new wflo.WfloWorkflow({ name: 'runner' });
      const before = await wf.execute(runnable, 1).then(() => 'ran', (e) => e.code + ': ' + e.message);
      require(${JSON.stringify(path.join(root, 'integrations', 'langchain.cjs'))});
      const after = await new wflo.WfloWorkflow({ name: 'runner2' }).execute(runnable, 2);
      console.log(JSON.stringify({ before, after }));
    })();
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', code]).toString());
  assert.match(out.before, /^INVALID_ARGUMENT: .*require\('wflo\/langchain'\)/);
  assert.deepEqual(out.after, { inputs: 2, handlers: 1 });
});
