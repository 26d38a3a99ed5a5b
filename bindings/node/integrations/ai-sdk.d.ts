// Types of `wflo/ai-sdk`, for CommonJS and ESM importers alike. Written structurally (no
// import from `ai`) so they resolve whether or not the AI SDK is installed, and mean the same
// in either module system; the middleware is assignable to the AI SDK's `LanguageModelMiddleware`
// (`wrapLanguageModel({ model, middleware: wfloMiddleware() })`).
import type { WfloWorkflow } from '../index.js';

export interface WfloMiddlewareOptions {
  /** The workflow to charge (default: the one the calling code runs in; none: pass through). */
  workflow?: WfloWorkflow;
  /** The model name to price (default: the wrapped model's `modelId`). */
  model?: string;
  /** The provider to record (default: the first part of the model's `provider`, e.g. "openai"). */
  provider?: string;
  /** Lower `maxOutputTokens` to what the budget still allows instead of refusing. */
  clampMaxTokens?: boolean;
  /**
   * @deprecated Ignored (still checked to be a non-negative integer): the engine bounds an image
   * part by the provider's documented maximum and, under a budget, refuses a file part it cannot bound.
   */
  fileTokens?: number;
}

/** The parts of a language model the middleware reads. */
export interface WfloMiddlewareModel {
  readonly modelId: string;
  readonly provider: string;
}

/**
 * A Vercel AI SDK language model middleware (specification v3): budgets each call in
 * `transformParams` (a refusal throws `BudgetExceededError` there, before any request) and
 * settles it in `wrapGenerate` / `wrapStream` from the usage the provider reports.
 */
export interface WfloLanguageModelMiddleware {
  readonly specificationVersion: 'v3';
  transformParams<P extends { prompt: unknown; maxOutputTokens?: number }>(options: {
    type: 'generate' | 'stream';
    params: P;
    model: WfloMiddlewareModel;
  }): PromiseLike<P>;
  wrapGenerate<R>(options: {
    doGenerate: () => PromiseLike<R>;
    doStream: () => PromiseLike<unknown>;
    params: object;
    model: WfloMiddlewareModel;
  }): PromiseLike<R>;
  wrapStream<R extends { stream: ReadableStream<any> }>(options: {
    doGenerate: () => PromiseLike<unknown>;
    doStream: () => PromiseLike<R>;
    params: object;
    model: WfloMiddlewareModel;
  }): PromiseLike<R>;
}

/** The wflo middleware for `wrapLanguageModel`. Outside any workflow calls pass through untouched. */
export declare function wfloMiddleware(options?: WfloMiddlewareOptions): WfloLanguageModelMiddleware;

declare const aiSdk: { wfloMiddleware: typeof wfloMiddleware };
export default aiSdk;
