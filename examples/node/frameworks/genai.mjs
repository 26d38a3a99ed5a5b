// Google's Gen AI SDK (@google/genai) under a wflo budget: wrapGenAI(client) meters
// generateContent and generateContentStream — each request made inside a workflow is reserved
// before it is sent (the prompt counted, maxOutputTokens of output, at the price tier the
// prompt falls in) and settled from the usageMetadata Gemini returns, cached content and
// thoughts included. A prompt over gemini-2.5-pro's 200k-token tier is priced at the tier's
// rates, so a budget that base prices would fit refuses it before anything is sent.
//
// bindings/node/test/genai.test.cjs runs this file against `wflo mock-llm` and checks what it
// prints. It imports 'wflo' as an application does: run it where wflo and @google/genai are
// installed (or, in this repository, from bindings/node), with a mock started by
// `wflo mock-llm --port 8787`:
//   cd bindings/node && WFLO_GEMINI_BASE_URL=http://127.0.0.1:8787 node --input-type=module < ../../examples/node/frameworks/genai.mjs
// tour:start
import { GoogleGenAI } from '@google/genai';
import { Engine, WfloWorkflow, BudgetExceededError } from 'wflo';
import { wrapGenAI } from 'wflo/genai';

const ai = wrapGenAI(new GoogleGenAI({ apiKey: '...', httpOptions: { baseUrl: process.env.WFLO_GEMINI_BASE_URL } }));
const engine = await Engine.open('memory://');
const workflow = new WfloWorkflow({ name: 'gemini-desk', budgetUsd: 0.5, engine });
const config = { systemInstruction: 'Be brief.', maxOutputTokens: 200 };
const report = 'All work and no play makes a long report. '.repeat(21_000); // ~210k tokens

await workflow.execute(async () => {
  await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Name a budget rule.', config });
  for await (const _ of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'And another.', config }));
  try {
    // Over 200k prompt tokens: every token at the long-context tier's price.
    await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: report, config });
  } catch (e) {
    if (!(e instanceof BudgetExceededError)) throw e;
    console.log(`long report refused: needs up to $${e.requestedUsd.toFixed(2)}`);
  }
});
for (const call of await workflow.calls()) {
  console.log(call.requestedModel, call.status, `$${(call.costNanos / 1e9).toFixed(8)}`);
}
await engine.close();
// tour:end
