// ESM entry point of `wflo/openai`: the same objects as the CommonJS one.
import m from './openai.cjs';

export const { wrapOpenAI } = m;
export default m;
