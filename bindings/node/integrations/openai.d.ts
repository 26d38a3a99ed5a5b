// Types of `wflo/openai`.
import type { OpenAI } from 'openai';

export interface WrapOpenAIOptions {
  /** Lower the request's max tokens to what the budget still allows instead of refusing. */
  clampMaxTokens?: boolean;
}

/**
 * Meters `client` in place and returns it. Inside a workflow each `chat.completions.create`
 * and `responses.create` call — also through `.stream()`, `.parse()`, `runTools()`,
 * `.withResponse()` — is budgeted before its request leaves the process (a call that could
 * overspend rejects with `BudgetExceededError`, which is also an `OpenAI.OpenAIError`, and is
 * never sent) and settled with the response's usage; streams ask for their usage and are
 * settled when they end. Outside any workflow the client behaves exactly as before.
 */
export declare function wrapOpenAI<C extends OpenAI>(client: C, options?: WrapOpenAIOptions): C;
