package dev.wflo

import dev.wflo.ffi.NativeScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * Where a call's cost is charged: a [WfloWorkflow] (its execution) or one of its [Scope]s. A
 * reservation is checked against this scope and every scope above it, atomically.
 */
interface BudgetScope {
    /**
     * Reserves the worst case of a call BEFORE it is made. Throws [BudgetExceededException]
     * when it could overspend (then the request must not be sent), [UnknownModelException]
     * for a model without a price. Past the execution's approval threshold it waits on this
     * thread for a person's decision, and throws [ApprovalDeniedException] when denied.
     */
    fun reserve(request: CallRequest): Reservation

    /** [reserve] with the request's fields as arguments. */
    fun reserve(
        model: String,
        inputTokens: Long = 0,
        maxOutputTokens: Long? = null,
        provider: String? = null,
        inputEstimated: Boolean? = null,
        cacheWrite: CacheWrite = CacheWrite.NONE,
        stream: Boolean = false,
        clampMaxTokens: Boolean = false,
    ): Reservation = reserve(
        CallRequest(model, inputTokens, maxOutputTokens, provider, inputEstimated, cacheWrite, stream, clampMaxTokens),
    )

    /**
     * [reserve] on an IO thread (Dispatchers.IO): never on the caller's dispatcher, which a
     * store round trip or an approval gate would hold.
     */
    suspend fun reserveAsync(request: CallRequest): Reservation

    /** Records a call made without a reservation. */
    fun recordCall(model: String, usage: Usage): Settled

    /**
     * Reserves a provider request BEFORE it is sent, read by the engine: [format] is the API
     * it is written for ("openai_chat", "openai_responses", "anthropic", "gemini", "langchain",
     * "ai_sdk") and [request] its body as JSON text. The prompt (messages, system, tools,
     * schemas, images), the output limit in force and the number of choices decide the worst
     * case. Returns the reservation and the body to SEND. Throws [BudgetExceededException]
     * when the call could overspend: then nothing may be sent.
     */
    fun reserveRequest(format: String, request: String, options: RequestOptions = RequestOptions()): RequestReserved

    /** [reserveRequest] with the body as maps, lists and values (or kotlinx.serialization elements). */
    fun reserveRequest(format: String, request: Map<String, Any?>, options: RequestOptions = RequestOptions()): RequestReserved =
        reserveRequest(format, JsonText.encode(request, "request"), options)

    /**
     * [reserveRequest] on an IO thread (Dispatchers.IO), like [reserveAsync]. Inside
     * [withRetry] the call is recorded as the attempt being made ([RequestOptions.forRetry]
     * with [currentRetry]).
     */
    suspend fun reserveRequestAsync(format: String, request: String, options: RequestOptions = RequestOptions()): RequestReserved {
        val opts = options.forRetry(currentRetry())
        return offThread { reserveRequest(format, request, opts) }
    }
}

/**
 * A step (or agent) of an execution: calls reserved here are recorded under its [label] and
 * checked against its own budget, if it has one, as well as the execution's.
 */
class Scope internal constructor(
    val workflow: WfloWorkflow,
    val label: String,
    private val native: NativeScope,
) : BudgetScope {
    @Volatile private var freed = false

    /** The same scope through the C ABI, for the hot path. */
    private val c = CHandle(this, native.cHandle().toLong(), CAbi::wflo_scope_free, "the step '$label'")

    // A step belongs to one execution: the workflow frees it when it closes or starts another.
    private fun live(): NativeScope {
        if (freed) throw ClosedException("the step '$label' belongs to an execution this workflow no longer runs")
        return workflow.live(native)
    }

    internal fun free() {
        freed = true
        native.close()
        c.close()
    }

    override fun reserve(request: CallRequest): Reservation {
        live()
        return reserveOn(workflow.cExecution(), c, request)
    }

    override suspend fun reserveAsync(request: CallRequest): Reservation = offThread { reserve(request) }

    override fun reserveRequest(format: String, request: String, options: RequestOptions): RequestReserved {
        live()
        return reserveRequestOn(workflow.cExecution(), c, format, request, options)
    }

    override fun recordCall(model: String, usage: Usage): Settled =
        Settled.of(native { live().recordCall(model, usage.toNative()) })

    /**
     * A sub-step of this one, created on first use: checked against this step's budget too,
     * billed under its own [label] (labels are one namespace per execution).
     */
    @JvmOverloads
    fun child(label: String, budgetUsd: Number? = null): Scope {
        checkLabel(label)
        val nanos = budgetUsd?.let { Usd.toNanos(it, "budgetUsd").toULong() }
        val scope = native { live().child(label, nanos) }
        return Scope(workflow, scope.label(), scope).also { workflow.track(it) }
    }

    /** Runs [block] in the sub-step [label]; code in it finds the step with [currentScope]. */
    suspend fun <T> step(label: String, budgetUsd: Number? = null, block: suspend Scope.() -> T): T {
        val s = child(label, budgetUsd)
        return withContext(WfloContext(workflow, s)) { s.block() }
    }

    override fun toString() = "Scope(label=$label)"
}

/**
 * Where every suspend reservation runs: on [Dispatchers.IO], never on the caller's dispatcher.
 * A reservation may block its thread — on the store, when the execution draws from shared
 * scopes, and on a person, when its worst case passes the execution's approval threshold
 * (`approvalAboveUsd`: the engine waits on the reserving thread until the gate is decided) —
 * and a coroutine dispatcher's thread must never be held by either. The one place that rule
 * lives; the blocking calls ([BudgetScope.reserve]) block their caller's thread as asked.
 */
internal suspend fun <T> offThread(block: () -> T): T = withContext(Dispatchers.IO) { block() }

internal fun checkLabel(label: String) {
    if (label.isBlank()) throw invalid("a step label must be a non-empty string")
}

/**
 * wflo_reserve on [execution]'s C handle, charged to [scope] (null: the execution's own).
 * The request's strings and fields go into this thread's scratch buffer: nothing is allocated
 * on the native side but the reservation itself.
 */
internal fun reserveOn(execution: CHandle, scope: CHandle?, r: CallRequest): Reservation {
    if (r.model.isBlank()) throw invalid("model must be a non-empty string")
    val model = r.model.toByteArray()
    val provider = r.provider?.toByteArray()
    val s = Scratch.get(model.size + (provider?.size ?: 0))
    s.putRequest(r, model, provider)
    val request = s.base + Scratch.REQUEST
    val out = s.base + Scratch.OUT
    execution.use { e ->
        val status = if (scope == null) CAbi.wflo_reserve(e, 0L, request, out) else scope.use { CAbi.wflo_reserve(e, it, request, out) }
        CAbi.check(status)
    }
    return Reservation(s.buf.getLong(Scratch.OUT))
}

/**
 * wflo_reserve_request on [execution]'s C handle, charged to [scope] (null: the execution's
 * own): the engine reads the request, reserves its worst case and returns the body to send.
 */
internal fun reserveRequestOn(
    execution: CHandle,
    scope: CHandle?,
    format: String,
    request: String,
    options: RequestOptions,
): RequestReserved {
    val f = format.toByteArray()
    val b = request.toByteArray()
    val o = options.toJson()?.toByteArray()
    val s = Scratch.get(f.size + b.size + (o?.size ?: 0))
    val fAt = s.put(f)
    val bAt = s.put(b)
    val oAt = o?.let(s::put) ?: 0L
    val out = s.base + Scratch.OUT
    val bodyOut = s.base + Scratch.OUT2
    execution.use { e ->
        val status = if (scope == null) {
            CAbi.wflo_reserve_request(e, 0L, fAt, f.size.toLong(), bAt, b.size.toLong(), oAt, o?.size?.toLong() ?: 0L, out, bodyOut)
        } else {
            scope.use { sc ->
                CAbi.wflo_reserve_request(e, sc, fAt, f.size.toLong(), bAt, b.size.toLong(), oAt, o?.size?.toLong() ?: 0L, out, bodyOut)
            }
        }
        CAbi.check(status)
    }
    // Both were written: the reservation first, so a failure reading the body still frees it.
    val reservation = Reservation(s.buf.getLong(Scratch.OUT))
    val body = try {
        s.takeString(Scratch.OUT2)
    } catch (e: Throwable) {
        reservation.close()
        throw e
    }
    return RequestReserved(reservation, body)
}
