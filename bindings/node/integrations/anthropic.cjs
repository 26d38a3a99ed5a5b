'use strict';
// wflo for `@anthropic-ai/sdk`: wrapAnthropic(client) meters messages.create on that client —
// and so `messages.stream()`, `messages.parse()` and `.withResponse()`, which go through it.
// How a call is metered lives in common.cjs; the engine reads Messages requests.
const { meterMethod, wrapClient, sdkErrorsOf } = require('./common.cjs');

/** Messages (the engine reads system, tools and cache_control marks). */
const messages = { format: 'anthropic' };

/**
 * Meters `client` (an `Anthropic` instance) in place and returns it. Inside a workflow each
 * messages.create call — also through messages.stream() — is budgeted before its request
 * leaves the process and settled with the response's usage, cache reads and writes included.
 * A refusal rejects with an error that is both a wflo BudgetExceededError and an
 * Anthropic.AnthropicError (so MessageStream hands it on as it is). Outside any workflow the
 * client behaves exactly as before.
 *
 * @param {object} client
 * @param {{clampMaxTokens?: boolean}} [options] clampMaxTokens: lower max_tokens to what the
 *   budget allows instead of refusing
 */
function wrapAnthropic(client, options = {}) {
  const sdk = sdkErrorsOf(client, 'AnthropicError');
  return wrapClient(client, (c) => {
    if (c.messages) meterMethod(c.messages, 'create', messages, sdk, options, c);
  });
}

module.exports = { wrapAnthropic };
