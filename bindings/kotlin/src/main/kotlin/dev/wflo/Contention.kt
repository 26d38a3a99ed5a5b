package dev.wflo

import dev.wflo.ffi.NativePermit
import dev.wflo.ffi.NativeResource
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.put
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/*
 * Named resources (core/src/resilience/contention.rs): a lock or semaphore kept in the
 * engine's store, so every process on that store — and every Engine on it in this one — sees
 * the same slots. Who may take a slot, how long a wait lasts, what counts as contention and
 * when a hold's lease ends are the engine's rules: this file converts durations and JSON, and
 * waits with the engine's off-thread acquisition ([ResourceLock.acquire]) so a coroutine does
 * not hold a thread while it waits.
 */

/**
 * A resource's settings, used the first time its name is asked for in a process. Every field
 * left null takes the engine's default (one holder — a lock —, 30 s timeout, 5 s contention
 * threshold, the engine's lease); [ResourceLock.config] shows them filled in. [maxConcurrent]:
 * how many may hold it at once. [timeout]: how long an acquisition waits before it fails with
 * [ResourceBusyException]. [contentionThreshold]: a longer wait is counted (and logged) as
 * contention. [lease]: how long a hold lasts unless renewed ([Permit.renew]); a holder that
 * dies frees its slot when its lease ends. The engine checks them: meaningless settings throw
 * [InvalidArgumentException].
 */
data class LockConfig(
    val maxConcurrent: Int? = null,
    val timeout: Duration? = null,
    val contentionThreshold: Duration? = null,
    val lease: Duration? = null,
) {
    /** The engine's settings JSON: the fields that are set. */
    fun toJson(): String = buildJsonObject {
        maxConcurrent?.let { put("max_concurrent", unsigned(it.toLong(), "maxConcurrent").toLong()) }
        timeout?.let { put("timeout_ms", millis(it, "timeout")) }
        contentionThreshold?.let { put("contention_threshold_ms", millis(it, "contentionThreshold")) }
        lease?.let { put("lease_ms", millis(it, "lease")) }
    }.toString()

    internal companion object {
        fun of(o: JsonObject) = LockConfig(
            o.longOrNull("max_concurrent")?.toInt(),
            o.longOrNull("timeout_ms")?.milliseconds,
            o.longOrNull("contention_threshold_ms")?.milliseconds,
            o.longOrNull("lease_ms")?.milliseconds,
        )
    }
}

/** A duration as whole milliseconds for the engine; negative ones are refused here. */
internal fun millis(d: Duration, what: String): Long = unsigned(d.inWholeMilliseconds, what).toLong()

/**
 * One hold of a resource: [holdId], the process that holds it ([holder], `host:pid`), the
 * workflow it was taken for, when ([acquiredAtMs], Unix ms) and until when its lease runs
 * ([leaseUntilMs]).
 */
data class ResourceHolder(
    val holdId: String,
    val holder: String,
    val workflowId: String,
    val acquiredAtMs: Long,
    val leaseUntilMs: Long,
)

/**
 * A resource's figures since it was made or last reset ([ResourceLock.resetStats]):
 * [acquisitions] granted, [contentions] (acquisitions and timeouts that waited past the
 * contention threshold), [timeouts] (acquisitions refused with [ResourceBusyException]), the
 * summed and longest wait of the granted ones, and the current [holders], oldest first.
 */
data class ResourceStats(
    val resource: String,
    val acquisitions: Long,
    val contentions: Long,
    val timeouts: Long,
    val totalWait: Duration,
    val maxWait: Duration,
    val holders: List<ResourceHolder>,
) {
    internal companion object {
        fun of(o: JsonObject) = ResourceStats(
            o.string("resource"), o.long("acquisitions"), o.long("contentions"), o.long("timeouts"),
            o.long("total_wait_ms").milliseconds, o.long("max_wait_ms").milliseconds,
            o.objects("holders").map {
                ResourceHolder(
                    it.string("hold_id"), it.string("holder"), it.string("workflow_id"),
                    it.long("acquired_at_ms"), it.long("lease_until_ms"),
                )
            },
        )
    }
}

/**
 * The engine's resource [name] ([Engine.resource]): a lock (one holder) or a semaphore (up to
 * `maxConcurrent`) shared by every process on the engine's store. Take a slot with [acquire]
 * (or [withLock]) and give it back with [Permit.release] / [Permit.close]. Thread-safe.
 */
class ResourceLock internal constructor(private val native: NativeResource) {
    val name: String = native.name()

    /** The settings, every field filled in. */
    val config: LockConfig get() = LockConfig.of(JsonText.parse(native.configJson()).jsonObject)

    /**
     * Takes a slot for [workflowId], waiting at most [timeout] (null: the configured timeout;
     * zero: do not wait). The wait happens off this coroutine's thread, polling the store.
     * Throws [ResourceBusyException] (with the holders at that moment) when no slot freed in
     * time. Close the returned [Permit] (or `use` it) to give the slot back.
     */
    suspend fun acquire(workflowId: String, timeout: Duration? = null): Permit =
        Permit(native { native.acquireAsync(workflowId, timeout?.let { millis(it, "timeout").toULong() }) })

    /** [acquire] blocking the caller's thread (for code outside coroutines). */
    fun acquireBlocking(workflowId: String, timeout: Duration? = null): Permit =
        Permit(native { native.acquire(workflowId, timeout?.let { millis(it, "timeout").toULong() }) })

    /**
     * Runs [block] holding a slot taken for [workflowId] (see [acquire]) and gives it back
     * when the block returns or throws.
     */
    suspend fun <T> withLock(workflowId: String, timeout: Duration? = null, block: suspend (Permit) -> T): T =
        acquire(workflowId, timeout).use { block(it) }

    /** The figures and current holders (read from the store, so every process's). */
    fun stats(): ResourceStats = ResourceStats.of(JsonText.parse(native { native.statsJson() }).jsonObject)

    /** Zeroes the figures; holds stay. */
    fun resetStats() = native { native.resetStats() }

    override fun toString() = "ResourceLock(name=$name)"
}

/**
 * A slot of a resource ([ResourceLock.acquire]), held until [release] or [close] (or until its
 * lease ends without [renew]). Thread-safe; releasing twice is fine.
 */
class Permit internal constructor(private val native: NativePermit) : AutoCloseable {
    /** How long the acquisition waited, ms. */
    val waitedMs: Long = native.waitedMs().toLong()

    /** How long the acquisition waited. */
    val waited: Duration get() = waitedMs.milliseconds

    /** Gives the slot back now. */
    fun release() = native { native.release() }

    /**
     * Extends the lease from now. False when it had already ended: the slot may be someone
     * else's, stop using the resource.
     */
    fun renew(): Boolean = native { native.renew() }

    /** [release], then frees the native object. */
    override fun close() {
        try {
            release()
        } finally {
            native.close()
        }
    }

    override fun toString() = "Permit(waitedMs=$waitedMs)"
}
