package dev.wflo

import dev.wflo.ffi.WfloException as NativeError
import dev.wflo.ffi.isRefusal as engineIsRefusal
import kotlin.time.Duration.Companion.milliseconds

/**
 * Any wflo error. [code] is the stable code every face of the engine shares
 * ("BUDGET_EXCEEDED", "UNKNOWN_MODEL", "INVALID_ARGUMENT", …). Sealed, so a `when` over the
 * kinds is exhaustive.
 */
sealed class WfloException(val code: String, message: String) : RuntimeException(message) {
    /**
     * Whether this is one of wflo's own refusals — a budget ([BudgetExceededException]), an
     * open breaker ([CircuitOpenException]), a busy resource ([ResourceBusyException]), a
     * denied or pending approval ([ApprovalDeniedException], [ApprovalPendingException]), the
     * execution's call limit ([CallLimitException]) — rather than a failure of what was called:
     * a [CircuitBreaker] does not count it and a retry never retries it. The engine's rule
     * (`ErrorCode::is_refusal`), asked by [code].
     */
    val isRefusal: Boolean get() = engineIsRefusal(code)
}

class InvalidArgumentException(message: String) : WfloException("INVALID_ARGUMENT", message)

class NotFoundException(message: String) : WfloException("NOT_FOUND", message)

class ConflictException(message: String) : WfloException("CONFLICT", message)

class StorageException(message: String) : WfloException("STORAGE", message)

class ClosedException(message: String) : WfloException("CLOSED", message)

class InternalException(message: String) : WfloException("INTERNAL", message)

/** The model is not in the price table; [suggestions] lists up to three close names. */
class UnknownModelException(message: String, val model: String, val suggestions: List<String>) :
    WfloException("UNKNOWN_MODEL", message)

/**
 * A call was refused BEFORE it was made: it could have passed the limit of [scope] (the
 * execution, a step, or a shared budget). The request must not be sent.
 *
 * Amounts are nano-USD (exact); the `*Usd` properties are the same figures in dollars.
 */
class BudgetExceededException @JvmOverloads constructor(
    message: String,
    val scope: String,
    val limitNanos: Long,
    val spentNanos: Long,
    val reservedNanos: Long,
    val requestedNanos: Long,
    /**
     * For a retry the budget refused ([withRetry], [Retrier.refused]): which attempt was not
     * sent and what failed before it, as the message also says; null otherwise.
     */
    val retryNote: String? = null,
) : WfloException("BUDGET_EXCEEDED", message) {
    val budgetUsd: Double get() = limitNanos / 1e9
    val spentUsd: Double get() = spentNanos / 1e9
    val reservedUsd: Double get() = reservedNanos / 1e9

    /** The worst case of the refused call. */
    val requestedUsd: Double get() = requestedNanos / 1e9

    /** What the scope had left when it refused (limit − spent − reserved). */
    val remainingUsd: Double get() = maxOf(0L, limitNanos - spentNanos - reservedNanos) / 1e9
}

/**
 * A circuit breaker ([CircuitBreaker]) is open: the call was refused before anything was
 * reserved or sent. [circuitName] is the breaker's name, [failures] the failures that opened
 * it, [retryInMs] how long it keeps refusing before it lets a trial call through.
 */
class CircuitOpenException(
    message: String,
    val circuitName: String,
    val failures: Long,
    val retryInMs: Long,
) : WfloException("CIRCUIT_OPEN", message) {
    /** [retryInMs] as a duration. */
    val retryIn: kotlin.time.Duration get() = retryInMs.milliseconds
}

/**
 * A named resource stayed busy until the acquisition's timeout: [resource], how long it was
 * waited for ([waitedMs]), and the workflows holding it then ([holders]).
 */
class ResourceBusyException(message: String, val resource: String, val waitedMs: Long, val holders: List<String>) :
    WfloException("RESOURCE_BUSY", message)

/**
 * An approval gate was denied ([by], with a [note]), or not answered in time ([timedOut]):
 * the approval [id] at gate [gate].
 */
class ApprovalDeniedException(
    message: String,
    val id: String,
    val gate: String,
    val timedOut: Boolean,
    val by: String?,
    val note: String?,
) : WfloException("APPROVAL_DENIED", message)

/**
 * A call passed its execution's approval threshold (`approvalAboveUsd`) on an engine that
 * returns pending approvals instead of waiting on the reserving thread
 * (`engine.native.setApprovalWait(true)`): nothing was reserved or sent. Wait for approval
 * [id] ([WfloWorkflow.waitForApproval]) and reserve again — the same gate [gate] finds the
 * same approval, now decided. [what] is what the approval allows ("call gpt-4o, worst case …").
 */
class ApprovalPendingException(
    message: String,
    val id: String,
    val gate: String,
    val what: String,
) : WfloException("APPROVAL_PENDING", message)

/**
 * The execution [execution] made as many LLM calls as its [maxCalls] allows (the workflow's
 * `maxCalls`, the original SDK's `max_iterations`): this call was refused before anything was
 * reserved or sent. A call refused for another reason does not count; a resumed execution
 * counts the calls it made before.
 */
class CallLimitException(message: String, val execution: String, val maxCalls: Long) :
    WfloException("CALL_LIMIT", message)

/** The typed exception for an engine error from the generated layer. */
internal fun fromNative(e: NativeError): WfloException =
    when (e) {
        is NativeError.InvalidArgument -> InvalidArgumentException(e.detail)
        is NativeError.UnknownModel -> UnknownModelException(e.detail, e.model, e.suggestions)
        is NativeError.BudgetExceeded -> BudgetExceededException(
            e.detail, e.scope, e.limitNanos.toLong(), e.spentNanos.toLong(),
            e.reservedNanos.toLong(), e.requestedNanos.toLong(),
        )
        is NativeError.NotFound -> NotFoundException(e.detail)
        is NativeError.Conflict -> ConflictException(e.detail)
        is NativeError.Storage -> StorageException(e.detail)
        is NativeError.Closed -> ClosedException(e.detail)
        is NativeError.Internal -> InternalException(e.detail)
        is NativeError.CircuitOpen -> CircuitOpenException(e.detail, e.name, e.failures.toLong(), e.retryInMs.toLong())
        is NativeError.ResourceBusy -> ResourceBusyException(e.detail, e.resource, e.waitedMs.toLong(), e.holders)
        is NativeError.ApprovalDenied -> ApprovalDeniedException(e.detail, e.id, e.gate, e.timedOut, e.by, e.note)
        is NativeError.ApprovalPending -> ApprovalPendingException(e.detail, e.id, e.gate, e.what)
        is NativeError.CallLimit -> CallLimitException(e.detail, e.execution, e.maxCalls.toLong())
    }

/**
 * Calls the engine, raising its errors as wflo's classes. Inline, so it wraps suspend calls
 * too. The generated layer's own InternalException (a lifting failure, a Rust panic caught by
 * UniFFI) becomes wflo's InternalException.
 */
internal inline fun <T> native(block: () -> T): T =
    try {
        block()
    } catch (e: NativeError) {
        throw fromNative(e)
    } catch (e: dev.wflo.ffi.InternalException) {
        throw InternalException("internal error: ${e.message}")
    }

internal fun invalid(message: String) = InvalidArgumentException("invalid argument: $message")

/** A count or amount for the engine's unsigned fields: negative values are refused here. */
internal fun unsigned(value: Long, what: String): ULong {
    if (value < 0) throw invalid("$what must not be negative, got $value")
    return value.toULong()
}

/**
 * The wflo error codes along [error]'s chain of causes, outermost first: what the engine's
 * finish rule reads ([WfloWorkflow.end]). Empty for an error that is not wflo's and wraps
 * none. A chain that loops back on itself is walked once.
 */
internal fun wfloCodes(error: Throwable): List<String> = causes(error).mapNotNull(::wfloCode)

/** [e]'s wflo error code, from this layer's exceptions or the generated layer's; null for any other. */
internal fun wfloCode(e: Throwable): String? = when (e) {
    is WfloException -> e.code
    is NativeError -> fromNative(e).code
    is dev.wflo.ffi.InternalException -> "INTERNAL"
    else -> null
}

/**
 * Whether [e] itself (not its causes) is a wflo error the engine calls a refusal
 * ([WfloException.isRefusal]): this layer's exception or the generated layer's.
 */
internal fun isWfloRefusal(e: Throwable): Boolean = wfloCode(e)?.let(::engineIsRefusal) ?: false
