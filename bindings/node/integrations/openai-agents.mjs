// ESM entry point of `wflo/openai-agents`: the same objects as the CommonJS one.
import m from './openai-agents.cjs';

export const { wfloModelProvider, wrapModel, setDefaultWfloModelProvider, runAgent, WfloModel } = m;
export default m;
