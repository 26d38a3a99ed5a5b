'use strict';
// wflo for the official `openai` SDK: wrapOpenAI(client) meters chat.completions.create and
// responses.create on that client — and so everything the SDK builds on them: `.stream()`,
// `.parse()`, `runTools()`, `.withResponse()`. How a call is metered lives in common.cjs;
// this file says how these two APIs' requests and responses read.
const { meterMethod, wrapClient, sdkErrorsOf } = require('./common.cjs');

/** Chat Completions. */
const chat = {
  format: 'openai_chat',
  provider: 'openai',
  prompt: (body) => body.messages ?? [],
  // max_tokens is deprecated and refused by reasoning models: add max_completion_tokens.
  maxTokensKey: (body) => (body.max_completion_tokens == null && body.max_tokens != null ? 'max_tokens' : 'max_completion_tokens'),
  // Each of n choices may use the whole cap.
  choices: (body) => body.n ?? 1,
  // Without include_usage a chat stream never says what it used.
  beforeStream(sent) {
    sent.stream_options = { ...sent.stream_options, include_usage: true };
  },
  // The usage-only last chunk (choices: []) reaches only callers who asked for it.
  hides: (chunk, body) => !!chunk.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0 && !body.stream_options?.include_usage,
  text: (completion) => (completion?.choices ?? []).map((c) => c.message?.content ?? '').join(''),
};

/** Responses: `instructions` is a system message, `input` a user message or the items. */
const responses = {
  format: 'openai_responses',
  provider: 'openai',
  prompt(body) {
    const messages = [];
    if (typeof body.instructions === 'string') messages.push({ role: 'system', content: body.instructions });
    if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
    else if (Array.isArray(body.input)) messages.push(...body.input);
    return messages;
  },
  maxTokensKey: () => 'max_output_tokens',
  text: (response) => response?.output_text ?? '',
};

/**
 * Meters `client` (an `OpenAI` or `AzureOpenAI` instance) in place and returns it. Inside a
 * workflow each chat.completions.create / responses.create call is budgeted before its request
 * leaves the process — a call that could overspend rejects with BudgetExceededError and is
 * never sent — and settled with the response's usage (streams when they end). Outside any
 * workflow the client behaves exactly as before.
 *
 * @param {object} client
 * @param {{clampMaxTokens?: boolean}} [options] clampMaxTokens: lower the request's max tokens
 *   to what the budget allows instead of refusing
 */
function wrapOpenAI(client, options = {}) {
  const sdk = sdkErrorsOf(client, 'OpenAIError');
  return wrapClient(client, (c) => {
    if (c.chat && c.chat.completions) meterMethod(c.chat.completions, 'create', chat, sdk, options);
    if (c.responses) meterMethod(c.responses, 'create', responses, sdk, options);
  });
}

module.exports = { wrapOpenAI };
