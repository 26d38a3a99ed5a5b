// Types of `wflo/anthropic`.
import type { Anthropic } from '@anthropic-ai/sdk';

export interface WrapAnthropicOptions {
  /** Lower the request's max_tokens to what the budget still allows instead of refusing. */
  clampMaxTokens?: boolean;
}

/**
 * Meters `client` in place and returns it. Inside a workflow each `messages.create` call —
 * also through `messages.stream()`, `messages.parse()`, `.withResponse()` — is budgeted before
 * its request leaves the process and settled with the response's usage (cache reads and
 * writes at their own rates). A refusal rejects with `BudgetExceededError`, which is also an
 * `Anthropic.AnthropicError`, so `MessageStream` hands it on unchanged. Outside any workflow
 * the client behaves exactly as before.
 */
export declare function wrapAnthropic<C extends Anthropic>(client: C, options?: WrapAnthropicOptions): C;
