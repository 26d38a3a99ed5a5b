'use strict';
// wflo for the official `openai` SDK: wrapOpenAI(client) meters chat.completions.create and
// responses.create on that client — and so everything the SDK builds on them: `.stream()`,
// `.parse()`, `runTools()`, `.withResponse()`. How a call is metered lives in common.cjs;
// this file names the two APIs and what of their streams the caller did not ask for.
const { meterMethod, wrapClient, sdkErrorsOf } = require('./common.cjs');

/** Chat Completions. The engine adds include_usage to a stream's request, so the usage-only
 * last chunk (choices: []) reaches only callers who asked for it. */
const chat = {
  format: 'openai_chat',
  hides: (chunk, body) => !!chunk.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0 && !body.stream_options?.include_usage,
};

/** Responses. */
const responses = { format: 'openai_responses' };

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
    if (c.chat && c.chat.completions) meterMethod(c.chat.completions, 'create', chat, sdk, options, c);
    if (c.responses) meterMethod(c.responses, 'create', responses, sdk, options, c);
  });
}

module.exports = { wrapOpenAI };
