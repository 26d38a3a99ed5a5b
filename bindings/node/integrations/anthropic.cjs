'use strict';
// wflo for `@anthropic-ai/sdk`: wrapAnthropic(client) meters messages.create on that client —
// and so `messages.stream()`, `messages.parse()` and `.withResponse()`, which go through it.
// How a call is metered lives in common.cjs; this file says how Messages requests read.
const { meterMethod, wrapClient, sdkErrorsOf } = require('./common.cjs');

const blocks = (content) => (Array.isArray(content) ? content : []);

/** The longest cache write the request asks for ('1h', '5m') or null: it is billed above input. */
function cacheWrite(body) {
  const marks = [body.cache_control];
  for (const b of blocks(body.system)) marks.push(b && b.cache_control);
  for (const t of blocks(body.tools)) marks.push(t && t.cache_control);
  for (const m of blocks(body.messages)) for (const b of blocks(m && m.content)) marks.push(b && b.cache_control);
  let found = null;
  for (const mark of marks) {
    if (!mark) continue;
    if (mark.ttl === '1h') return '1h';
    found = '5m';
  }
  return found;
}

/** Messages: `system` (a string or blocks) is a system message before `messages`. */
const messages = {
  format: 'anthropic',
  provider: 'anthropic',
  prompt: (body) => (body.system == null ? [] : [{ role: 'system', content: body.system }]).concat(body.messages ?? []),
  maxTokensKey: () => 'max_tokens',
  cacheWrite,
  text: (message) => blocks(message?.content).map((b) => b.text ?? b.thinking ?? '').join(''),
};

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
    if (c.messages) meterMethod(c.messages, 'create', messages, sdk, options);
  });
}

module.exports = { wrapAnthropic };
