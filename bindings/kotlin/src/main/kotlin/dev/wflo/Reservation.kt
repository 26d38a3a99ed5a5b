package dev.wflo

import dev.wflo.Scratch.Companion.OUT
import dev.wflo.Scratch.Companion.SETTLED
import dev.wflo.Scratch.Companion.USAGE
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject

/**
 * Budget held for one call: its worst case, reserved BEFORE the call is made. Settle it from
 * the provider's usage after the call, or release it if the call failed. Closed unsettled
 * (`use {}` left early, or collected by the garbage collector), it is released and recorded as
 * aborted, so the budget never leaks.
 *
 * One settle or release per reservation; a second one is a [ConflictException].
 */
class Reservation internal constructor(private var ptr: Long) : AutoCloseable {
    // Every use of `ptr` holds this object's lock, so close() never frees it under a call; the
    // cleanable frees it if the reservation is dropped unclosed. (Lighter than a CHandle: this
    // runs on every LLM call.)
    private val cleanable = Handles.cleaner.register(this, Free(ptr))
    private var ended = false

    // Read on first use (most callers never ask: two foreign calls saved per tracked call).
    private var amount = -1L
    private var maxOutput = -1L

    /** The worst case held, nano-USD. Readable until the reservation is closed. */
    val amountNanos: Long
        get() = synchronized(this) {
            if (amount < 0) amount = CAbi.wflo_reservation_amount_nanos(live())
            amount
        }

    val amountUsd: Double get() = amountNanos / 1e9

    /** The max_tokens to send (lower than asked under [CallRequest.clampMaxTokens]). */
    val maxOutputTokens: Long
        get() = synchronized(this) {
            if (maxOutput < 0) maxOutput = CAbi.wflo_reservation_max_output_tokens(live())
            maxOutput
        }

    val isEnded: Boolean get() = synchronized(this) { ended }

    /** Books the provider's usage. */
    fun settle(usage: Usage): Settled = end { p ->
        val s = Scratch.get()
        s.putUsage(usage)
        CAbi.check(CAbi.wflo_reservation_settle(p, s.base + USAGE, s.base + SETTLED))
        s.settled()
    }

    /**
     * Books the usage in a provider's response body or usage JSON ([format] as [parseUsage]).
     * Unreadable usage throws InvalidArgumentException and leaves the reservation held, so the
     * caller can settle it again or release it.
     */
    fun settleJson(format: String, json: String): Settled = end { p ->
        val f = format.toByteArray()
        val j = json.toByteArray()
        val s = Scratch.get(f.size + j.size)
        val fAt = s.put(f)
        val jAt = s.put(j)
        CAbi.check(CAbi.wflo_reservation_settle_json(p, fAt, f.size.toLong(), jAt, j.size.toLong(), s.base + SETTLED))
        s.settled()
    }

    /**
     * Books whatever the call returned: [json] is the provider's result ([format] as for
     * [BudgetScope.reserveRequest], or "auto"). Its usage when it has one, else the text it
     * generated (every choice, tool calls) estimated by the engine and flagged estimated.
     * [status]: how the call ended — "ok", or "error" / "aborted" for what a call that
     * failed midway had produced (booked: the provider billed it). Unreadable JSON throws
     * InvalidArgumentException and leaves the reservation held.
     */
    @JvmOverloads
    fun settleResult(format: String, json: String, status: String = "ok"): Settled = end { p ->
        val f = format.toByteArray()
        val j = json.toByteArray()
        val st = status.toByteArray()
        val s = Scratch.get(f.size + j.size + st.size)
        val fAt = s.put(f)
        val jAt = s.put(j)
        val stAt = s.put(st)
        CAbi.check(
            CAbi.wflo_reservation_settle_result(
                p, fAt, f.size.toLong(), jAt, j.size.toLong(), stAt, st.size.toLong(), s.base + SETTLED,
            ),
        )
        s.settled()
    }

    /**
     * Books a call whose usage never came, from the [text] it generated: the prompt as
     * reserved, the output counted by the engine, flagged estimated. [status]: "ok", "error"
     * (a framework failed after the model answered) or "aborted".
     */
    @JvmOverloads
    fun settleText(text: String, status: String = "ok"): Settled = end { p ->
        val t = text.toByteArray()
        val st = status.toByteArray()
        val s = Scratch.get(t.size + st.size)
        val tAt = s.put(t)
        val stAt = s.put(st)
        CAbi.check(CAbi.wflo_reservation_settle_text(p, tAt, t.size.toLong(), stAt, st.size.toLong(), s.base + SETTLED))
        s.settled()
    }

    /**
     * Books a finished or cut stream ([status] "ok", "error", "aborted"); without the
     * provider's usage the output is estimated from the streamed text and flagged. The stream
     * is consumed: it holds nothing afterwards.
     */
    @JvmOverloads
    fun settleStream(stream: Stream, status: String = "ok"): Settled = end { p ->
        val st = status.toByteArray()
        stream.handle.use { sp ->
            val s = Scratch.get(st.size)
            val at = s.put(st)
            CAbi.check(CAbi.wflo_reservation_settle_stream(p, sp, at, st.size.toLong(), s.base + SETTLED))
            s.settled()
        }
    }

    /** Gives the budget back: the call failed ([status] "error") or was abandoned ("aborted"). */
    @JvmOverloads
    fun release(status: String = "error", reason: String? = null) = end { p ->
        val st = status.toByteArray()
        val why = reason?.toByteArray()
        val s = Scratch.get(st.size + (why?.size ?: 0))
        val at = s.put(st)
        val whyAt = why?.let(s::put) ?: 0L
        CAbi.check(CAbi.wflo_reservation_release(p, at, st.size.toLong(), whyAt, why?.size?.toLong() ?: 0L))
    }

    /** Runs [block], then closes: an exception releases the held budget as "error". */
    inline fun <R> use(block: (Reservation) -> R): R {
        try {
            return block(this)
        } catch (e: Throwable) {
            releaseAfter(e)
            throw e
        } finally {
            close()
        }
    }

    @PublishedApi
    internal fun releaseAfter(e: Throwable) {
        if (!isEnded) runCatching { release("error", e.toString()) }
    }

    /** Releases the budget if the call was never settled ("aborted"), and frees the handle. */
    override fun close() {
        synchronized(this) {
            if (ptr == 0L) return
            if (!ended) runCatching { release("aborted", "not settled") }
            ptr = 0L
        }
        cleanable.clean()
    }

    private fun live(): Long = if (ptr != 0L) ptr else throw ClosedException("the reservation is closed")

    private class Free(private val ptr: Long) : Runnable {
        override fun run() = CAbi.wflo_reservation_free(ptr)
    }

    // The reservation's one ending; a failed one (unreadable usage) leaves it held. The handle
    // is freed by close() (or the garbage collector), not here, so the figures stay readable.
    private inline fun <T> end(block: (Long) -> T): T =
        synchronized(this) {
            if (ended) throw ConflictException("the reservation is already settled or released")
            val result = block(live())
            ended = true
            result
        }
}

/**
 * A provider request reserved by [BudgetScope.reserveRequest]: the [reservation] to settle
 * after the call, and the [body] to SEND (JSON text): the caller's request with the output
 * limit the reservation covers written in, and `stream_options.include_usage` on an OpenAI
 * chat stream. `val (call, body) = scope.reserveRequest(…)`.
 */
data class RequestReserved(val reservation: Reservation, val body: String) {
    /** [body], parsed. */
    val bodyJson: JsonElement get() = JsonText.parse(body)
}

/**
 * What an integration knows about a request besides its body. [baseUrl]: the client's base
 * URL (names the provider: https://api.x.ai/v1 is xAI); [provider], [model], [stream]: what
 * the body does not say (Gemini's URL, the AI SDK's model object); [clampMaxTokens]: lower
 * the output limit to what the budget allows instead of refusing. [attempt] (null: the first)
 * and [retryReason]: which attempt of a retried call this is and why it is made (a retry
 * decision's `attempt` and `reason`), recorded with the call; [forRetry] fills them from
 * [withRetry]'s [RetryContext]. [agent]: the agent the call is made for, by the name its
 * framework gives it — the call reserves on the execution's agent scope `agent:<name>`
 * (limited by the workflow's `agentBudgetsUsd` share for it, if any) instead of the scope asked.
 */
data class RequestOptions @JvmOverloads constructor(
    val baseUrl: String? = null,
    val provider: String? = null,
    val model: String? = null,
    val stream: Boolean? = null,
    val clampMaxTokens: Boolean = false,
    val attempt: Int? = null,
    val retryReason: String? = null,
    val agent: String? = null,
    /** The request is what a tracker that cannot see the call was told ([trackLlmCall]): a refusal says how it was sized and how to make it precise. */
    val upfront: Boolean = false,
) {
    /**
     * These options for the attempt [retry] describes (null: unchanged): its attempt number
     * and reason, unless [attempt] is already set.
     */
    fun forRetry(retry: RetryContext?): RequestOptions =
        if (retry == null || attempt != null) this else copy(attempt = retry.attempt, retryReason = retry.reason)

    /** The engine's options JSON, or null when nothing is set. */
    internal fun toJson(): String? {
        val fields = buildMap<String, Any> {
            baseUrl?.let { put("base_url", it) }
            provider?.let { put("provider", it) }
            model?.let { put("model", it) }
            stream?.let { put("stream", it) }
            if (clampMaxTokens) put("clamp_max_tokens", true)
            if (upfront) put("upfront", true)
            attempt?.let { put("attempt", unsigned(it.toLong(), "attempt").toLong()) }
            retryReason?.let { put("retry_reason", it) }
            agent?.let { put("agent", it) }
        }
        return if (fields.isEmpty()) null else JsonText.encode(fields, "options")
    }
}

/**
 * Accumulates a streamed response's events ("openai_chat", "openai_responses", "anthropic",
 * "gemini") so the call can be settled from the usage they carry, or, when the stream was cut
 * before its usage, estimated from the text it streamed. Safe to share; calls are serialised.
 */
class Stream(format: String) : AutoCloseable {
    internal val handle: CHandle

    init {
        val f = format.toByteArray()
        val s = Scratch.get(f.size)
        val at = s.put(f)
        CAbi.check(CAbi.wflo_stream_new(at, f.size.toLong(), s.base + OUT))
        handle = CHandle(this, s.buf.getLong(OUT), CAbi::wflo_stream_free, "the stream")
    }

    /** Feeds one server-sent event's data (JSON text; "[DONE]" is ignored). */
    fun push(event: String) = synchronized(this) {
        val d = event.toByteArray()
        handle.use { p ->
            val s = Scratch.get(d.size)
            val at = s.put(d)
            CAbi.check(CAbi.wflo_stream_push(p, at, d.size.toLong()))
        }
    }

    /** What the stream told so far. */
    fun state(): StreamState = synchronized(this) {
        val text = handle.use { p ->
            val s = Scratch.get()
            CAbi.check(CAbi.wflo_stream_state_json(p, s.base + OUT))
            s.takeString()
        }
        val o = JsonText.parse(text).jsonObject
        StreamState((o["usage"] as? JsonObject)?.let(Usage::of), o.bool("complete"), o.string("text"))
    }

    override fun close() = handle.close()
}

/** A stream's usage (null until an event carried it), whether it completed, and its text. */
data class StreamState(val usage: Usage?, val complete: Boolean, val text: String)
