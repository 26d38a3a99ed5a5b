package dev.wflo

import dev.wflo.ffi.NativeRetrier
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.isActive
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import java.math.BigInteger
import java.net.SocketException
import java.net.SocketTimeoutException
import java.net.http.HttpTimeoutException
import java.util.concurrent.TimeoutException
import kotlin.coroutines.AbstractCoroutineContextElement
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.cancellation.CancellationException
import kotlin.reflect.KClass
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/*
 * Budget-aware retries (core/src/resilience/retry.rs). Whether a failed call is retried, after
 * how long, and what a refused retry's error says are the engine's rules: this file converts
 * Kotlin's exceptions into the engine's failures ([Failure.of]) and runs the loop with
 * coroutines' `delay` ([withRetry]) or `Thread.sleep` ([withRetryBlocking]). Every attempt is
 * a new call that reserves like any other, so a retry the budget cannot cover is refused
 * before anything is sent.
 */

/** How the delay grows from one retry to the next. */
enum class Backoff(val code: String) {
    /** `baseDelay × multiplier^(n−1)` before retry n. */
    EXPONENTIAL("exponential"),

    /** `baseDelay × n` before retry n. */
    LINEAR("linear"),

    /** `baseDelay` before every retry. */
    FIXED("fixed"),
}

/**
 * A retry policy. Every field left null takes the engine's default (3 retries, exponential
 * from 1 s by ×2 up to 60 s, jitter ±10%, no deadline, HTTP 408, 429 and 5xx retried,
 * timeouts and connection errors retried); [Retrier.policy] shows them all filled in. The
 * engine checks the policy when a [Retrier] is made: a meaningless one throws
 * [InvalidArgumentException].
 *
 * [maxRetries]: retries after the first attempt. [maxDelay] caps a computed delay (a server's
 * Retry-After may ask for longer). [jitter]: spread each delay by ± this fraction (0 to 1).
 * [deadline]: no retry whose wait would end later than this after the first attempt began.
 * [retryStatuses]: the HTTP statuses worth retrying (any other is never retried). [seed]:
 * makes the jitter repeatable (tests); unseeded jitter is random.
 */
data class RetryPolicy(
    val backoff: Backoff? = null,
    val maxRetries: Int? = null,
    val baseDelay: Duration? = null,
    val maxDelay: Duration? = null,
    val multiplier: Double? = null,
    val jitter: Double? = null,
    val deadline: Duration? = null,
    val retryStatuses: List<Int>? = null,
    val retryTimeouts: Boolean? = null,
    val retryConnectionErrors: Boolean? = null,
    val seed: Long? = null,
) {
    /** The engine's policy JSON: the fields that are set. */
    fun toJson(): String = buildJsonObject {
        backoff?.let { put("backoff", it.code) }
        maxRetries?.let { put("max_retries", it) }
        baseDelay?.let { put("base_delay_ms", it.inWholeMilliseconds) }
        maxDelay?.let { put("max_delay_ms", it.inWholeMilliseconds) }
        multiplier?.let { put("multiplier", it) }
        jitter?.let { put("jitter", it) }
        deadline?.let { put("deadline_ms", it.inWholeMilliseconds) }
        retryStatuses?.let { s -> put("retry_statuses", JsonArray(s.map(::JsonPrimitive))) }
        retryTimeouts?.let { put("retry_timeouts", it) }
        retryConnectionErrors?.let { put("retry_connection_errors", it) }
        // The engine's seed is unsigned: a negative Long is its two's-complement value.
        seed?.let { put("seed", JsonPrimitive(BigInteger(java.lang.Long.toUnsignedString(it)))) }
    }.toString()

    internal companion object {
        /** The engine's filled-in policy JSON ([Retrier.policy]). */
        fun of(o: JsonObject) = RetryPolicy(
            backoff = Backoff.entries.firstOrNull { it.code == o.stringOrNull("backoff") },
            maxRetries = o.longOrNull("max_retries")?.toInt(),
            baseDelay = o.longOrNull("base_delay_ms")?.milliseconds,
            maxDelay = o.longOrNull("max_delay_ms")?.milliseconds,
            multiplier = (o["multiplier"] as? JsonPrimitive)?.doubleOrNull,
            jitter = (o["jitter"] as? JsonPrimitive)?.doubleOrNull,
            deadline = o.longOrNull("deadline_ms")?.milliseconds,
            retryStatuses = (o["retry_statuses"] as? JsonArray)?.map { it.jsonPrimitive.content.toInt() },
            retryTimeouts = (o["retry_timeouts"] as? JsonPrimitive)?.booleanOrNull,
            retryConnectionErrors = (o["retry_connection_errors"] as? JsonPrimitive)?.booleanOrNull,
            seed = (o["seed"] as? JsonPrimitive)?.takeIf { it !is JsonNull }?.content?.toULong()?.toLong(),
        )
    }
}

/**
 * One failed attempt as the engine reads it: its [kind], the HTTP [status] and response
 * [headers] when there was an answer (only the retry and rate-limit headers are read), and a
 * short [message]. [of] makes one from an exception.
 */
data class Failure(
    val kind: Kind,
    val status: Int? = null,
    val headers: List<Pair<String, String>> = emptyList(),
    val message: String = "",
) {
    /** What kind of failure an attempt ended in. Whether each is retried is the policy's. */
    enum class Kind(val code: String) {
        /** The provider answered with an HTTP error status. */
        HTTP("http"),

        /** No answer in time. */
        TIMEOUT("timeout"),

        /** The connection failed or was reset. */
        CONNECTION("connection"),

        /** The caller declared this exception retryable: retried while attempts last. */
        TRANSIENT("transient"),

        /**
         * wflo refused the call (a budget, an open breaker, a busy resource, a denied
         * approval: [WfloException.isRefusal]): never retried.
         */
        REFUSED("refused"),

        /** Anything else (a bug, a bad request): never retried. */
        OTHER("other"),
    }

    internal fun toJson(): String = buildJsonObject {
        put("kind", kind.code)
        put("status", status?.let(::JsonPrimitive) ?: JsonNull)
        put("headers", JsonArray(headers.map { (k, v) -> JsonArray(listOf(JsonPrimitive(k), JsonPrimitive(v))) }))
        put("message", message)
    }.toString()

    companion object {
        /**
         * The failure [error] stands for, looking along its causes (a client that wraps the
         * exception does not hide it): a wflo error the engine calls a refusal
         * ([WfloException.isRefusal]: [BudgetExceededException], [CircuitOpenException],
         * [ResourceBusyException], [ApprovalDeniedException]) anywhere is [Kind.REFUSED]; else
         * the first of: an exception with an HTTP status ([HttpStatusError], or a public
         * `statusCode()`, `code()` or `getStatus()` of an HTTP client's exception, with its
         * headers) is [Kind.HTTP];
         * [SocketTimeoutException], [HttpTimeoutException], [TimeoutException] or a coroutine
         * timeout is [Kind.TIMEOUT]; a [SocketException] ([java.net.ConnectException] too) is
         * [Kind.CONNECTION]; an instance of one of [retryable] is [Kind.TRANSIENT]. Anything
         * else is [Kind.OTHER].
         */
        @JvmStatic
        @JvmOverloads
        fun of(error: Throwable, retryable: Collection<KClass<out Throwable>> = emptyList()): Failure {
            val chain = causes(error)
            chain.firstOrNull(::isWfloRefusal)?.let { return Failure(Kind.REFUSED, message = describe(it)) }
            for (e in chain) {
                httpStatus(e)?.let { (status, headers) -> return Failure(Kind.HTTP, status, headers, describe(e, "")) }
                when (e) {
                    is SocketTimeoutException, is HttpTimeoutException, is TimeoutException,
                    is TimeoutCancellationException,
                    -> return Failure(Kind.TIMEOUT, message = describe(e))
                    is SocketException -> return Failure(Kind.CONNECTION, message = describe(e))
                }
                if (retryable.any { it.isInstance(e) }) return Failure(Kind.TRANSIENT, message = describe(e))
            }
            return Failure(Kind.OTHER, message = describe(error))
        }

        /** [error]'s first message line, else [fallback] (an HTTP failure's: the engine says "HTTP 503"). */
        private fun describe(e: Throwable, fallback: String = e.javaClass.simpleName.ifEmpty { e.javaClass.name }): String =
            e.message?.lineSequence()?.firstOrNull()?.trim()?.takeIf { it.isNotEmpty() }?.take(200) ?: fallback
    }
}

/**
 * Implement on an exception that carries an HTTP answer so [Failure.of] reads its status and
 * the response's headers (Retry-After and the rate-limit resets decide the delay).
 */
interface HttpStatusError {
    val httpStatus: Int
    val httpHeaders: List<Pair<String, String>> get() = emptyList()
}

/** What the engine decided after a failed attempt ([Retrier.next]). */
sealed class Decision {
    /** Why: the failure, and where the delay came from (or why there is no retry). */
    abstract val reason: String

    /** Wait [delay], then make attempt number [attempt] (it reserves like any call). */
    data class Retry(val attempt: Int, val delay: Duration, override val reason: String) : Decision() {
        val delayMs: Long get() = delay.inWholeMilliseconds
    }

    /** Give up: the last failure stands. [why] is the engine's rule for it. */
    data class GiveUp(val why: Why, override val reason: String) : Decision()

    /** Why the engine gave up. */
    enum class Why(val code: String) {
        /** The policy never retries this failure: it is raised as it was. */
        NOT_RETRYABLE("not_retryable"),

        /** The attempts ran out: [RetryExhaustedException]. */
        EXHAUSTED("exhausted"),

        /** A retry would have ended past the policy's deadline: [RetryExhaustedException]. */
        DEADLINE("deadline"),
    }

    internal companion object {
        fun of(o: JsonObject): Decision = when (val d = o.string("decision")) {
            "retry" -> Retry(o.long("attempt").toInt(), o.long("delay_ms").milliseconds, o.string("reason"))
            "give_up" -> GiveUp(
                Why.entries.firstOrNull { it.code == o.string("why") }
                    ?: throw InternalException("the engine gave up for an unknown rule '${o.string("why")}'"),
                o.string("reason"),
            )
            else -> throw InternalException("the engine returned an unknown retry decision '$d'")
        }
    }
}

/**
 * The retry state of one logical call ([Engine.retrier]): ask [next] after each failed
 * attempt. [withRetry] runs the whole loop; use a retrier directly to drive one by hand.
 * Thread-safe. [close] frees it now (else the garbage collector does).
 */
class Retrier internal constructor(private val native: NativeRetrier) : AutoCloseable {
    /** The attempt being made now (1 for the first). */
    val attempt: Int get() = native.attempt().toInt()

    /** The policy with every field filled in. */
    val policy: RetryPolicy get() = RetryPolicy.of(JsonText.parse(native.policyJson()).jsonObject)

    /** The attempt just made failed: the engine's decision (retry after how long, or give up). */
    fun next(failure: Failure): Decision = Decision.of(JsonText.parse(native { native.next(failure.toJson()) }).jsonObject)

    /** What a refusal of the coming retry must say ("attempt 2 not sent: attempt 1 failed: …"), once an attempt failed. */
    val refusalNote: String? get() = native.refusalNote()

    /** [message] with [refusalNote] added, as the engine words a refused retry (unchanged before a failure). */
    fun refusedMessage(message: String): String = native.refusedMessage(message)

    /**
     * The error for a retry the budget refused: the same [BudgetExceededException] with its
     * message saying which attempt was not sent and what failed before it ([refusalNote]).
     * Any other error, or a refusal of the first attempt, is returned unchanged.
     */
    fun refused(error: WfloException): WfloException {
        if (error !is BudgetExceededException) return error
        val note = refusalNote ?: return error
        return BudgetExceededException(
            refusedMessage(error.message ?: ""), error.scope, error.limitNanos, error.spentNanos,
            error.reservedNanos, error.requestedNanos, note,
        ).also { it.stackTrace = error.stackTrace }
    }

    /** The policy's jittered delay before retry [retry] (1 = the first), drawing jitter from this retrier. */
    fun delay(retry: Int): Duration = native.delayMs(unsigned(retry.toLong(), "retry").toUInt()).toLong().milliseconds

    override fun close() = native.close()

    /**
     * [error] ended the attempt: the retry to make, or throws — a refusal (re-worded by
     * [refused]), the error itself when the engine never retries it, else
     * [RetryExhaustedException].
     */
    internal fun afterFailure(error: Throwable, failure: Failure): Decision.Retry {
        if (failure.kind == Failure.Kind.REFUSED) {
            // Never retried. Only a budget refusal is re-worded (as the engine's refused() does);
            // a wrapper around it gives way to the re-worded refusal, with the wrapper as its
            // cause. Any other refusal (an open breaker, a busy resource, a denied approval) is
            // thrown as it was.
            val budget = causes(error).firstNotNullOfOrNull { it as? BudgetExceededException } ?: throw error
            val reworded = refused(budget)
            if (reworded === budget) throw error
            if (budget !== error) reworded.initCause(error)
            throw reworded
        }
        return when (val d = next(failure)) {
            is Decision.Retry -> d
            is Decision.GiveUp -> throw if (d.why == Decision.Why.NOT_RETRYABLE) error else RetryExhaustedException(attempt, error, d.reason)
        }
    }
}

/**
 * The engine gave up retrying: attempts or the policy's deadline ran out. [reason] is the
 * engine's ("503 Service Unavailable; gave up after 4 attempts (max_retries 3)"), [lastError]
 * what the last attempt threw (also the cause). A failure the policy never retries (a 400, a
 * bug) is not wrapped: it is thrown as it was.
 */
class RetryExhaustedException(val attempts: Int, val lastError: Throwable, val reason: String) :
    RuntimeException(reason, lastError)

/**
 * Runs [block] until it returns, retrying its failures as [policy] says, with coroutines'
 * `delay` between attempts. [block] gets the attempt number (1 for the first); each attempt
 * should reserve its call (through [WfloWorkflow] or an integration) like any other, so a
 * retry the budget cannot cover is refused before anything is sent. The block runs with a
 * [RetryContext] (the attempt and why it is made) in its coroutine context:
 * [BudgetScope.reserveRequestAsync] records it with the call, [currentRetry] reads it.
 *
 * [classify] turns what the block threw into a [Failure] (default [Failure.of] with
 * [retryable], the exception types you declare always worth retrying). [onRetry] is called
 * before each wait. Throws: a budget refusal as [BudgetExceededException] (after a failed
 * attempt, its message says which attempt was not sent and why), any other wflo refusal (an
 * open breaker's [CircuitOpenException], a [ResourceBusyException], an
 * [ApprovalDeniedException]) as it was, at once, a failure the policy never retries (a 400, a
 * bug) as it was, else [RetryExhaustedException]. [engine]: default the current workflow's,
 * else [Engine.default].
 * Cancellation is never retried. Compose with a breaker: `withRetry { breaker.call { … } }`.
 */
suspend fun <T> withRetry(
    policy: RetryPolicy = RetryPolicy(),
    engine: Engine? = null,
    retryable: Collection<KClass<out Throwable>> = emptyList(),
    classify: (Throwable) -> Failure = { Failure.of(it, retryable) },
    onRetry: (Decision.Retry, Throwable) -> Unit = { _, _ -> },
    block: suspend (attempt: Int) -> T,
): T {
    val e = engine ?: currentWorkflow()?.engine ?: Engine.default()
    e.retrier(policy).use { retrier ->
        var reason: String? = null
        while (true) {
            val attempt = retrier.attempt
            // The failure is caught inside withContext and handed out as a value: thrown out of
            // it, coroutines' stack-trace recovery may replace it with a copy, and a failure
            // the engine never retries must be rethrown as the very object the block threw.
            val outcome = withContext(RetryContext(attempt, reason)) {
                try {
                    Result.success(block(attempt))
                } catch (x: Exception) {
                    // A timeout inside the block is a failed attempt; this coroutine's own
                    // cancellation is not.
                    if (x is CancellationException && (x !is TimeoutCancellationException || !currentCoroutineContext().isActive)) throw x
                    Result.failure(x)
                }
            }
            val error = outcome.exceptionOrNull() ?: return outcome.getOrThrow()
            val retry = retrier.afterFailure(error, classify(error))
            reason = retry.reason
            onRetry(retry, error)
            delay(retry.delay)
        }
    }
}

/**
 * The attempt [withRetry] is making, in the coroutine context of its block: [attempt] (1 for
 * the first) and [reason], why it is made (the engine's retry decision's reason; null for the
 * first). [BudgetScope.reserveRequestAsync] records it with the call; an integration that
 * reserves otherwise passes it on with [RequestOptions.forRetry] and [currentRetry].
 */
class RetryContext(val attempt: Int, val reason: String?) : AbstractCoroutineContextElement(RetryContext) {
    companion object Key : CoroutineContext.Key<RetryContext>

    override fun toString() = "RetryContext(attempt=$attempt, reason=$reason)"
}

/** The attempt of [withRetry] this coroutine runs in, or null outside one. */
suspend fun currentRetry(): RetryContext? = currentCoroutineContext()[RetryContext]

/** [withRetry] for code outside coroutines: waits with `Thread.sleep` (an interrupt ends it). */
fun <T> withRetryBlocking(
    policy: RetryPolicy = RetryPolicy(),
    engine: Engine? = null,
    retryable: Collection<KClass<out Throwable>> = emptyList(),
    classify: (Throwable) -> Failure = { Failure.of(it, retryable) },
    onRetry: (Decision.Retry, Throwable) -> Unit = { _, _ -> },
    block: (attempt: Int) -> T,
): T {
    (engine ?: Engine.default()).retrier(policy).use { retrier ->
        while (true) {
            val error = try {
                return block(retrier.attempt)
            } catch (x: Exception) {
                if (x is InterruptedException) throw x
                x
            }
            val retry = retrier.afterFailure(error, classify(error))
            onRetry(retry, error)
            Thread.sleep(retry.delay.inWholeMilliseconds)
        }
    }
}

/** [error] and its causes, outermost first; a chain that loops back is walked once. */
internal fun causes(error: Throwable): List<Throwable> {
    val seen = java.util.Collections.newSetFromMap(java.util.IdentityHashMap<Throwable, Boolean>())
    return generateSequence(error) { it.cause }.takeWhile(seen::add).toList()
}

/**
 * The HTTP status (100–599) and response headers an exception carries: [HttpStatusError], else
 * what the common clients expose publicly — `statusCode()` (OpenAI's and Anthropic's Java
 * SDKs), `code()` (Retrofit), `getStatusCode()`/`getStatus()` returning a number or a status
 * object with `value()` (Spring, Ktor's `response.status`) — with `headers()` as a map, a
 * `java.net.http.HttpHeaders`, or a names/values object. Null when there is none.
 */
private fun httpStatus(e: Throwable): Pair<Int, List<Pair<String, String>>>? {
    if (e is HttpStatusError) return e.httpStatus to e.httpHeaders
    fun number(v: Any?): Int? = when (v) {
        is Int -> v
        null, is String -> null
        else -> (reflect(v, "value") ?: reflect(v, "getValue")) as? Int
    }?.takeIf { it in 100..599 }
    for (holder in listOfNotNull(e, reflect(e, "getResponse") ?: reflect(e, "response"))) {
        val status = sequenceOf("statusCode", "getStatusCode", "code", "getStatus", "status")
            .firstNotNullOfOrNull { number(reflect(holder, it)) } ?: continue
        return status to headerPairs(reflect(holder, "headers") ?: reflect(holder, "getHeaders"))
    }
    return null
}

/** A header collection as (name, value) pairs: a map of values or lists, `map()`, or `names()` + `values(name)`. */
private fun headerPairs(raw: Any?): List<Pair<String, String>> {
    if (raw == null) return emptyList()
    val map = raw as? Map<*, *> ?: reflect(raw, "map") as? Map<*, *>
    if (map != null) {
        return map.flatMap { (k, v) ->
            (if (v is Iterable<*>) v.toList() else listOf(v)).filterNotNull().map { k.toString() to it.toString() }
        }
    }
    val names = reflect(raw, "names") as? Iterable<*> ?: return emptyList()
    return names.filterNotNull().map(Any::toString).flatMap { n ->
        (reflect(raw, "values", n) as? Iterable<*>)?.filterNotNull()?.map { n to it.toString() } ?: emptyList()
    }
}

/** [target]'s public method [name] with [args] (strings) called, or null when it has none or it fails. */
private fun reflect(target: Any, name: String, vararg args: String): Any? = runCatching {
    target.javaClass.methods.firstOrNull { it.name == name && it.parameterCount == args.size }?.invoke(target, *args)
}.getOrNull()
