// ESM entry point of wflo/langchain: the same handler as the CommonJS one.
import langchain from './langchain.cjs';

export const { WfloCallbackHandler } = langchain;
export default langchain;
