// ESM entry point of `wflo/openai-agents`: the same model wrapper as the CommonJS one, with its
// entry points on the SDK's ESM build — the copy an `import` gets, whose default model provider
// (`setDefaultWfloModelProvider`), default OpenAI client and `Runner` these use.
import * as sdk from '@openai/agents';
import m from './openai-agents.cjs';

export const { wrapModel, WfloModel } = m;
export const { wfloModelProvider, setDefaultWfloModelProvider, runAgent } = m.entryPoints(() => sdk, (agent) => agent instanceof sdk.Agent);
export default { wfloModelProvider, wrapModel, setDefaultWfloModelProvider, runAgent, WfloModel };
