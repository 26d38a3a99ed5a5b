// ESM entry point of `wflo/anthropic`: the same objects as the CommonJS one.
import m from './anthropic.cjs';

export const { wrapAnthropic } = m;
export default m;
