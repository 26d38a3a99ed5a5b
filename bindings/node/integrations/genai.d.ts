// Types of `wflo/genai`.
import type { GoogleGenAI } from '@google/genai';

export interface WrapGenAIOptions {
  /** Lower the request's maxOutputTokens to what the budget still allows instead of refusing. */
  clampMaxTokens?: boolean;
  /** The provider to record (default: from the client's base URL, else the model name). */
  provider?: string;
  /** The client's base URL, when it cannot be read from the client. */
  baseUrl?: string;
}

/**
 * Meters `client` in place and returns it. Inside a workflow each `models.generateContent`
 * and `models.generateContentStream` request — each request of an automatic function-calling
 * loop too — is budgeted before it leaves the process (a call that could overspend rejects
 * with `BudgetExceededError` and is never sent) and settled with the response's
 * `usageMetadata`; a stream is settled once, when it ends. Outside any workflow the client
 * behaves exactly as before.
 */
export declare function wrapGenAI<C extends GoogleGenAI>(client: C, options?: WrapGenAIOptions): C;
