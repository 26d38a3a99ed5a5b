// LangGraph's own checkpointer validation suite (@langchain/langgraph-checkpoint-validation)
// against WfloCheckpointSaver, over an in-memory store and a SQLite file.
//
// The suite is written for vitest with globals, and its CLI is broken in 1.1.1, so it runs as a
// library: `npx vitest run --globals test/langgraph.validation.test.mjs`. Under `node --test`
// (npm test), which runs every file in test/, this file instead runs that vitest command as one
// test and reports its counts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

if (process.env.VITEST) {
  const { validate } = await import('@langchain/langgraph-checkpoint-validation');
  const { Engine } = await import('../index.mjs');
  const { WfloCheckpointSaver } = await import('../integrations/langgraph.mjs');

  const engines = new WeakMap();
  const initializer = (checkpointerName, url) => ({
    checkpointerName,
    async createCheckpointer() {
      const engine = await Engine.open(url());
      const saver = new WfloCheckpointSaver({ engine });
      engines.set(saver, engine);
      return saver;
    },
    async destroyCheckpointer(saver) {
      await engines.get(saver)?.close();
    },
  });

  let dir;
  validate(initializer('wflo (memory)', () => 'memory://'));
  validate({
    ...initializer('wflo (sqlite)', () => path.join(dir, `${Math.random().toString(16).slice(2)}.db`)),
    beforeAll: () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wflo-langgraph-'));
    },
    afterAll: () => fs.rmSync(dir, { recursive: true, force: true }),
  });
} else {
  const { default: test } = await import('node:test');
  const assert = await import('node:assert/strict');
  const { spawnSync } = await import('node:child_process');
  test('LangGraph checkpointer validation suite (vitest)', { timeout: 300_000 }, () => {
    const root = path.join(path.dirname(here), '..');
    const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const run = spawnSync(process.execPath, [vitest, 'run', '--globals', path.relative(root, here)], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    const out = `${run.stdout}\n${run.stderr}`;
    const summary = out.split('\n').filter((l) => /^\s*(Test Files|Tests)\s/.test(l)).join('\n');
    assert.equal(run.status, 0, `vitest failed:\n${out.slice(-6000)}`);
    assert.match(summary, /Tests\s+\d+ passed/, out.slice(-3000));
    assert.doesNotMatch(summary, /failed/, summary);
    test.diagnostic?.(summary);
  });
}
