package dev.wflo

import kotlinx.serialization.json.JsonElement

/*
 * trackLlmCall: meter a block that makes one LLM call, inside the running workflow, before it
 * sends anything. Kotlin has no client wflo meters by itself, so the tracker budgets the call
 * from its actual request when it is shown that request (trackLlmRequest), and up front,
 * from what it is told, when it is not (trackLlmCall) — the same rule as every face's tracker.
 */

/**
 * Runs [block], which makes one LLM call whose request the tracker cannot see, budgeted up
 * front in the current step (else the workflow): [input]'s prompt (a string, the messages, or
 * a map with "messages") plus [maxTokens] of output (null: the model's maximum). [block]'s
 * result settles it: a [String] is the generated text; a [ByteArray] (a response body), a
 * [JsonElement], a map or a list is read as JSON for its usage (without usage the output is
 * estimated from its text, flagged). A refusal ([BudgetExceededException]) says how the call
 * was sized and how to make it precise; [block] does not run. An exception from [block]
 * releases the reservation. Outside a workflow [block] runs as it is.
 */
suspend fun <T> trackLlmCall(
    model: String,
    input: Any? = null,
    maxTokens: Int? = null,
    provider: String? = null,
    resultFormat: String = "auto",
    block: suspend () -> T,
): T {
    if (model.isEmpty()) throw invalid("trackLlmCall needs model, the model the block calls")
    val where = currentBudgetScope() ?: return block()
    val asked = buildMap<String, Any?> {
        put("model", model)
        put("input", input)
        maxTokens?.let { put("max_tokens", it) }
        provider?.let { put("ls_provider", it) }
    }
    val made = where.reserveRequestAsync("langchain", JsonText.encode(asked, "input"), RequestOptions(upfront = true))
    return settledBy(made.reservation, resultFormat) { block() }
}

/**
 * Runs [block] with the body to send for [request] (a provider request in [format]:
 * "openai_chat", "anthropic", …), budgeted from that actual request in the current step (else
 * the workflow) — its prompt and its output limit — BEFORE [block] sends it; [block]'s result
 * settles it as [trackLlmCall]'s does. A call that could overspend throws
 * [BudgetExceededException] and [block] does not run. Outside a workflow [block] gets [request]
 * as it is.
 */
suspend fun <T> trackLlmRequest(
    format: String,
    request: String,
    options: RequestOptions = RequestOptions(),
    block: suspend (body: String) -> T,
): T {
    val where = currentBudgetScope() ?: return block(request)
    val made = where.reserveRequestAsync(format, request, options)
    return settledBy(made.reservation, format) { block(made.body) }
}

/** [trackLlmRequest] with the request as maps, lists and values. */
suspend fun <T> trackLlmRequest(
    format: String,
    request: Map<String, Any?>,
    options: RequestOptions = RequestOptions(),
    block: suspend (body: String) -> T,
): T = trackLlmRequest(format, JsonText.encode(request, "request"), options, block)

/** Runs [call] under [reservation], then settles it from the result (released on a failure). */
private suspend fun <T> settledBy(reservation: Reservation, format: String, call: suspend () -> T): T =
    reservation.use {
        val result = try {
            call()
        } catch (e: Throwable) {
            it.releaseAfter(e)
            throw e
        }
        when (result) {
            // A string is encoded as a JSON string, which the engine reads as the generated text.
            is ByteArray -> it.settleResult(format, result.decodeToString())
            // A value JSON cannot hold (a class of the caller's): estimated from its text.
            else -> runCatching { JsonText.encode(result, "the call's result") }.fold(
                { json -> it.settleResult(format, json) },
                { _ -> it.settleText(result.toString()) },
            )
        }
        result
    }
