package dev.wflo

import dev.wflo.ffi.NativeBreaker
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.put
import kotlin.coroutines.cancellation.CancellationException
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/*
 * Circuit breakers (core/src/resilience/breaker.rs): after enough failures of a provider, a
 * model or a tool, calls through its breaker fail fast — before anything is reserved or sent —
 * until a recovery timeout has passed; then a few trial calls decide whether it closes again.
 * The states and their rules are the engine's; one breaker per name per engine
 * ([Engine.breaker]), shared by every caller in the process — or, with [BreakerConfig.shared],
 * by every process on the engine's store. Every change of state is recorded in the store
 * ([Engine.breakersOnStore]).
 */

/** Where a breaker is. */
enum class BreakerState(val code: String) {
    /** Calls go through; failures are counted. */
    CLOSED("closed"),

    /** Calls are refused with [CircuitOpenException] until the recovery timeout has passed. */
    OPEN("open"),

    /** Trial calls go through; enough successes close it, a failure opens it again. */
    HALF_OPEN("half_open"),
    ;

    internal companion object {
        fun of(code: String) = entries.firstOrNull { it.code == code }
            ?: throw InternalException("the engine reported an unknown breaker state '$code'")
    }
}

/**
 * A breaker's settings, used the first time its name is asked for. Every field left null takes
 * the engine's default (5 consecutive failures open it, 60 s of refusals, 2 successful trials
 * close it, no rate rule); [CircuitBreaker.config] shows them all filled in. [failureRate]:
 * also open when this fraction of the last [window] calls failed, once the window holds
 * [minCalls]. The engine checks them: meaningless settings throw [InvalidArgumentException].
 *
 * [shared]: keeps the state in the store: every process on the store sees one breaker; give
 * them all the same settings; each check/outcome is a store transaction (so [CircuitBreaker]'s
 * calls may then throw the store's errors, e.g. [StorageException]).
 */
data class BreakerConfig(
    val failureThreshold: Int? = null,
    val recoveryTimeout: Duration? = null,
    val successThreshold: Int? = null,
    val failureRate: Double? = null,
    val window: Int? = null,
    val minCalls: Int? = null,
    val shared: Boolean = false,
) {
    /** The engine's settings JSON: the fields that are set. */
    fun toJson(): String = buildJsonObject {
        failureThreshold?.let { put("failure_threshold", it) }
        recoveryTimeout?.let { put("recovery_timeout_ms", it.inWholeMilliseconds) }
        successThreshold?.let { put("success_threshold", it) }
        failureRate?.let { put("failure_rate", it) }
        window?.let { put("window", it) }
        minCalls?.let { put("min_calls", it) }
        if (shared) put("shared", true)
    }.toString()

    internal companion object {
        fun of(o: JsonObject) = BreakerConfig(
            o.longOrNull("failure_threshold")?.toInt(),
            o.longOrNull("recovery_timeout_ms")?.milliseconds,
            o.longOrNull("success_threshold")?.toInt(),
            (o["failure_rate"] as? JsonPrimitive)?.doubleOrNull,
            o.longOrNull("window")?.toInt(),
            o.longOrNull("min_calls")?.toInt(),
            o.bool("shared"),
        )
    }
}

/**
 * A change of breaker [breaker]'s state, and why ("2 consecutive failures", "recovery timeout
 * passed", "reset"). [shared]: the breaker is shared through the store (else it is one
 * process's); [holder]: the process whose call made the change (`host:pid`).
 */
data class BreakerTransition(
    val from: BreakerState,
    val to: BreakerState,
    val atMs: Long,
    val reason: String,
    val breaker: String = "",
    val shared: Boolean = false,
    val holder: String = "",
) {
    internal companion object {
        fun of(o: JsonObject) = BreakerTransition(
            BreakerState.of(o.string("from")), BreakerState.of(o.string("to")), o.long("at_ms"), o.string("reason"),
            o.string("breaker"), o.bool("shared"), o.string("holder"),
        )
    }
}

/**
 * A breaker's figures. [failureCount]: consecutive failures (closed) or failures since it last
 * closed; [successCount]: successful trials while half-open; [rejected]: calls refused while
 * open; [retryIn]: while open, how long until trial calls are let through; [transitions]: the
 * latest state changes, oldest first; [shared]: kept in the store ([BreakerConfig.shared]).
 */
data class BreakerStatus(
    val name: String,
    val state: BreakerState,
    val failureCount: Long,
    val successCount: Long,
    val totalCalls: Long,
    val totalFailures: Long,
    val rejected: Long,
    val openedAtMs: Long?,
    val retryIn: Duration?,
    val transitions: List<BreakerTransition>,
    val shared: Boolean = false,
) {
    internal companion object {
        fun of(o: JsonObject) = BreakerStatus(
            o.string("name"), BreakerState.of(o.string("state")), o.long("failure_count"), o.long("success_count"),
            o.long("total_calls"), o.long("total_failures"), o.long("rejected"), o.longOrNull("opened_at_ms"),
            o.longOrNull("retry_in_ms")?.milliseconds,
            o.objects("transitions").map(BreakerTransition::of),
            o.bool("shared"),
        )
    }
}

/**
 * Circuit breakers as the engine's store knows them ([Engine.breakersOnStore]): every [shared]
 * breaker's figures (whichever process made it), by name, and the latest [transitions] of every
 * breaker on the store, shared or one process's, oldest first.
 */
data class BreakersOnStore(val shared: List<BreakerStatus>, val transitions: List<BreakerTransition>) {
    internal companion object {
        fun of(o: JsonObject) = BreakersOnStore(o.objects("shared").map(BreakerStatus::of), o.objects("transitions").map(BreakerTransition::of))
    }
}

/**
 * The engine's breaker [name] ([Engine.breaker]): ask [check] before reserving a call, then
 * record how it went — or let [call] do all three. Thread-safe; every [CircuitBreaker] of the
 * same name and engine is the same breaker. A shared breaker ([BreakerConfig.shared]) reads
 * and writes the store: its calls here may throw the store's [WfloException]s too.
 */
class CircuitBreaker internal constructor(@PublishedApi internal val handle: NativeBreaker) {
    val name: String = handle.name()

    /** Throws [CircuitOpenException] while the breaker is open; call it before reserving. */
    fun check() = native { handle.check() }

    fun recordSuccess() = native { handle.recordSuccess() }

    fun recordFailure() = native { handle.recordFailure() }

    /** Closes the breaker and forgets its counts (for every process on the store, when shared). */
    fun reset() = native { handle.reset() }

    /** Where the breaker is now (a shared breaker's, read from the store). */
    val state: BreakerState get() = BreakerState.of(native { handle.state() })

    fun status(): BreakerStatus = BreakerStatus.of(JsonText.parse(native { handle.statusJson() }).jsonObject)

    /** The settings, every field filled in. */
    val config: BreakerConfig get() = BreakerConfig.of(JsonText.parse(handle.configJson()).jsonObject)

    /**
     * Runs [block] through the breaker: [check] first (an open breaker throws
     * [CircuitOpenException] and the block does not run), then records a success, or a
     * failure when the block throws (the exception is rethrown). A wflo refusal anywhere along
     * the exception's causes ([WfloException.isRefusal], the engine's rule: a budget, an open
     * breaker inside, a busy resource, a denied or pending approval) and cancellation (other than a
     * timeout) are not the service's failures: nothing is recorded, neither a failure nor a
     * success. Inline, so [block] may suspend. When a shared breaker's store fails to record
     * the outcome, its [WfloException] is thrown (with the block's own exception, if any,
     * suppressed in it).
     */
    inline fun <T> call(block: () -> T): T {
        check()
        val result = try {
            block()
        } catch (e: Throwable) {
            recordThrown(e)
            throw e
        }
        recordSuccess()
        return result
    }

    @PublishedApi
    internal fun recordThrown(e: Throwable) {
        if (e is CancellationException && e !is TimeoutCancellationException) return
        if (causes(e).any(::isWfloRefusal)) return
        // A shared breaker's store may fail to record it: that error is thrown, carrying [e].
        try {
            recordFailure()
        } catch (s: WfloException) {
            s.addSuppressed(e)
            throw s
        }
    }

    override fun toString() = "CircuitBreaker(name=$name, state=${state.code})"
}
