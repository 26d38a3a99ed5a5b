// Checkpoint states from Node.js: a JSON value, or bytes in a format of your own named by a
// content type (here gzip), stored as they are and given back byte for byte as a BinaryState.
// The README's checkpoints snippet is the part between the tour markers;
// bindings/node/test/checkpoints.test.cjs runs this file and checks what it prints.
//
// Run: node examples/node/checkpoints.mjs
import { gunzipSync, gzipSync } from 'node:zlib';
import { BinaryState, Engine, WfloWorkflow } from '../../bindings/node/index.mjs';

// tour:start
const engine = await Engine.open('memory://');
const wf = new WfloWorkflow({ name: 'transcriber', engine });

// A JSON state: anything JSON can hold, given back parsed.
await wf.checkpoint('planned', { step: 1, queue: ['intro.wav', 'talk.wav'] });

// A binary state: bytes (a Buffer or Uint8Array) and the content type naming their format.
const transcript = 'speaker 1: welcome to the talk. '.repeat(200);
const info = await wf.checkpoint('transcribed', gzipSync(transcript), { contentType: 'application/gzip' });
console.log(`saved ${info.contentType}: ${info.stateBytes} bytes for ${transcript.length} characters`);
await wf.checkpoint('summarised', { step: 3, summary: 'a welcome' });

// Every read gives a state back as it was saved: parsed JSON, or a BinaryState.
const state = await wf.rollbackToCheckpoint('transcribed');
if (state instanceof BinaryState) {
  const text = gunzipSync(state.data).toString();
  console.log(`rolled back to ${state.contentType}, the same text: ${text === transcript}`);
}
for (const c of await wf.checkpoints()) {
  console.log(`${c.name}: ${c.contentType ?? 'JSON'}${c.superseded ? ', superseded' : ''}`);
}
// tour:end
await engine.close();
