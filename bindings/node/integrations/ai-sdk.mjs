// ESM entry point of `wflo/ai-sdk`: the same objects as the CommonJS one.
import aiSdk from './ai-sdk.cjs';

export const { wfloMiddleware } = aiSdk;
export default aiSdk;
