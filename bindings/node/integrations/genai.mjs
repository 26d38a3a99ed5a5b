// ESM entry point of `wflo/genai`: the same objects as the CommonJS one.
import m from './genai.cjs';

export const { wrapGenAI } = m;
export default m;
