'use strict';
// Starts `wflo mock-llm --port 0` (the binary in WFLO_BIN, else the workspace's debug build)
// for a test file, and reads its request counters; `wfloBin` is that binary, for other commands.
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const bin = process.env.WFLO_BIN || path.join(__dirname, '..', '..', '..', '..', 'target', 'debug', 'wflo');

/** Starts the mock; resolves with { url, openaiBase(directives?), anthropicBase(directives?), stats(), stop() }. */
async function startMock() {
  const child = spawn(bin, ['mock-llm', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    child.once('error', reject);
    readline.createInterface({ input: child.stdout }).once('line', resolve);
  });
  const url = line.trim().split(' ').pop();
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`unexpected mock banner: ${line}`);
  const base = (directives) => (directives ? `${url}/mock/${directives}` : url);
  return {
    url,
    /** Base URL for OpenAI clients; `directives` like "cached=5,reply=10" (see wflo's README). */
    openaiBase: (directives) => `${base(directives)}/v1`,
    /** Base URL for Anthropic clients. */
    anthropicBase: (directives) => base(directives),
    /** Requests served so far: { "chat.completions": n, "messages": n, "total": n, … }. */
    async stats() {
      const res = await fetch(`${url}/__mock/stats`);
      return res.json();
    },
    stop() {
      child.kill();
    },
  };
}

module.exports = { startMock, wfloBin: bin };
