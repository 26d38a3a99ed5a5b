package dev.wflo

import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.Pointer
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The hot path: reserve, settle, release, cost and streams through libwflo's C ABI
 * (ffi/include/wflo.h), JNA direct-mapped with primitive arguments only.
 *
 * Why: every call through the UniFFI-generated Kotlin allocates JNA Structures (a call status,
 * buffers), each a native allocation tracked by JNA's cleaner; in a loop that costs 30–80 µs a
 * call and the cleaner falls behind. These functions run on every LLM call, so they take
 * pointers as `Long`s and read and write each thread's own preallocated buffer: no allocation
 * per call. Both doors lead to the same engine: the UniFFI objects hand out C handles to
 * themselves (`cHandle()`), and this object registers against the very library instance
 * UniFFI loaded (same name, same class loader: JNA's cache returns the same one).
 */
internal object CAbi {
    init {
        // The name UniFFI's generated loader uses, including its override property.
        val name = System.getProperty("uniffi.component.wflo.libraryOverride") ?: "wflo"
        Native.register(CAbi::class.java, name)
    }

    external fun wflo_last_error_json(): Long
    external fun wflo_cost(engine: Long, model: Long, modelLen: Long, usage: Long, nanosOut: Long): Int
    external fun wflo_reserve(execution: Long, scope: Long, request: Long, reservationOut: Long): Int
    external fun wflo_reservation_amount_nanos(reservation: Long): Long
    external fun wflo_reservation_max_output_tokens(reservation: Long): Long
    external fun wflo_reservation_settle(reservation: Long, usage: Long, settledOut: Long): Int
    external fun wflo_reservation_settle_json(reservation: Long, format: Long, formatLen: Long, json: Long, jsonLen: Long, settledOut: Long): Int
    external fun wflo_reservation_settle_stream(reservation: Long, stream: Long, status: Long, statusLen: Long, settledOut: Long): Int
    external fun wflo_reservation_release(reservation: Long, status: Long, statusLen: Long, reason: Long, reasonLen: Long): Int
    external fun wflo_reservation_free(reservation: Long)
    external fun wflo_stream_new(format: Long, formatLen: Long, streamOut: Long): Int
    external fun wflo_stream_push(stream: Long, data: Long, dataLen: Long): Int
    external fun wflo_stream_state_json(stream: Long, jsonOut: Long): Int
    external fun wflo_stream_free(stream: Long)
    external fun wflo_string_free(s: Long)
    external fun wflo_engine_free(engine: Long)
    external fun wflo_execution_free(execution: Long)
    external fun wflo_scope_free(scope: Long)

    /** Throws the typed exception for a failed call (read on the failing thread, as the C ABI asks). */
    fun check(status: Int) {
        if (status != 0) throw fromDetails(status, Pointer(wflo_last_error_json()).getString(0, "UTF-8"))
    }
}

/** wflo_last_error_json's `{"code": …, "message": …, …}` as wflo's exception. */
internal fun fromDetails(status: Int, json: String): WfloException {
    val d = runCatching { JsonText.parse(json).jsonObject }.getOrElse { JsonObject(emptyMap()) }
    val message = d.string("message").ifEmpty { "wflo error (status $status)" }
    return when (d.string("code")) {
        "INVALID_ARGUMENT" -> InvalidArgumentException(message)
        "UNKNOWN_MODEL" -> UnknownModelException(
            message, d.string("model"),
            (d["suggestions"] as? JsonArray)?.map { it.jsonPrimitive.content } ?: emptyList(),
        )
        "BUDGET_EXCEEDED" -> BudgetExceededException(
            message, d.string("scope"), d.long("limit_nanos"), d.long("spent_nanos"),
            d.long("reserved_nanos"), d.long("requested_nanos"),
        )
        "NOT_FOUND" -> NotFoundException(message)
        "CONFLICT" -> ConflictException(message)
        "STORAGE" -> StorageException(message)
        "CLOSED" -> ClosedException(message)
        else -> InternalException(message)
    }
}

/**
 * One thread's argument and result structs, in native memory it keeps for its lifetime, with
 * a ByteBuffer view so fields are written and read in plain Java. Offsets follow the C
 * structs of ffi/include/wflo.h on 64-bit targets; the shared vectors and tests would fail on
 * any mismatch.
 */
internal class Scratch private constructor(size: Int) {
    private val memory = Memory(size.toLong())
    val base: Long = Pointer.nativeValue(memory)
    val buf: ByteBuffer = memory.getByteBuffer(0, size.toLong()).order(ByteOrder.nativeOrder())
    private var next = STRINGS

    companion object {
        // wflo_call_request: 64 bytes; wflo_usage: 48; wflo_settled: 88; an out-pointer: 8.
        const val REQUEST = 0
        const val USAGE = 64
        const val SETTLED = 112
        const val OUT = 200
        const val STRINGS = 208
        private const val DEFAULT_SIZE = 16 * 1024

        private val local = ThreadLocal.withInitial { Scratch(DEFAULT_SIZE) }

        /** This thread's scratch, with room for [stringBytes] bytes of strings. */
        fun get(stringBytes: Int = 0): Scratch {
            var s = local.get()
            if (STRINGS + stringBytes > s.buf.capacity()) {
                s = Scratch(maxOf(STRINGS + stringBytes, s.buf.capacity() * 2))
                local.set(s)
            }
            s.next = STRINGS
            return s
        }
    }

    /** Copies [bytes] into the string area; returns their address. */
    fun put(bytes: ByteArray): Long {
        val at = next
        buf.put(at, bytes, 0, bytes.size)
        next += bytes.size
        return base + at
    }

    fun putUsage(u: Usage) {
        buf.putLong(USAGE, unsigned(u.input, "input").toLong())
        buf.putLong(USAGE + 8, unsigned(u.output, "output").toLong())
        buf.putLong(USAGE + 16, unsigned(u.cacheRead, "cacheRead").toLong())
        buf.putLong(USAGE + 24, unsigned(u.cacheWrite5m, "cacheWrite5m").toLong())
        buf.putLong(USAGE + 32, unsigned(u.cacheWrite1h, "cacheWrite1h").toLong())
        buf.putLong(USAGE + 40, unsigned(u.reasoning, "reasoning").toLong())
    }

    fun usageAt(at: Int) = Usage(
        buf.getLong(at), buf.getLong(at + 8), buf.getLong(at + 16), buf.getLong(at + 24),
        buf.getLong(at + 32), buf.getLong(at + 40),
    )

    fun settled() = Settled(
        seq = buf.getLong(SETTLED),
        costNanos = buf.getLong(SETTLED + 8),
        reservedNanos = buf.getLong(SETTLED + 16),
        overrunNanos = buf.getLong(SETTLED + 24),
        usage = usageAt(SETTLED + 32),
        estimated = buf.get(SETTLED + 80).toInt() != 0,
        usageMissing = buf.get(SETTLED + 81).toInt() != 0,
    )

    /** Fills wflo_call_request from [r] (its strings go to the string area). */
    fun putRequest(r: CallRequest, model: ByteArray, provider: ByteArray?) {
        buf.putLong(REQUEST, put(model))
        buf.putLong(REQUEST + 8, model.size.toLong())
        buf.putLong(REQUEST + 16, if (provider == null) 0L else put(provider))
        buf.putLong(REQUEST + 24, provider?.size?.toLong() ?: 0L)
        buf.putLong(REQUEST + 32, unsigned(r.inputTokens, "inputTokens").toLong())
        // WFLO_COUNT_AUTO 0, EXACT 1, ESTIMATED 2.
        buf.putInt(REQUEST + 40, when (r.inputEstimated) { null -> 0; false -> 1; true -> 2 })
        // 0: not given (the model's maximum output).
        buf.putLong(REQUEST + 48, r.maxOutputTokens?.let { unsigned(it, "maxOutputTokens").toLong() } ?: 0L)
        buf.putInt(REQUEST + 56, r.cacheWrite.ordinal) // NONE 0, 5M 1, 1H 2, as the header
        buf.put(REQUEST + 60, if (r.stream) 1 else 0)
        buf.put(REQUEST + 61, if (r.clampMaxTokens) 1 else 0)
    }

    /** Reads and frees a library-owned string written to the out-pointer. */
    fun takeString(): String {
        val p = buf.getLong(OUT)
        return try {
            Pointer(p).getString(0, "UTF-8")
        } finally {
            CAbi.wflo_string_free(p)
        }
    }
}
