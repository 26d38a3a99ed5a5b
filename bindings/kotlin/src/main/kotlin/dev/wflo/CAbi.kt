package dev.wflo

import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.Pointer
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.intOrNull
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
 *
 * The structs are packed by hand at fixed offsets ([Layout]); when the library is loaded its
 * own layout (wflo_layout_json) is compared with them, and on any difference every use of the
 * C ABI is refused ([ensureLayout]) instead of reading a field at the wrong offset.
 */
internal object CAbi {
    /** Why the library's struct layout is refused, or null when it matches [Layout.EXPECTED]. */
    private val layoutError: String?

    init {
        // The name UniFFI's generated loader uses, including its override property.
        val name = System.getProperty("uniffi.component.wflo.libraryOverride") ?: "wflo"
        Native.register(CAbi::class.java, name)
        layoutError = try {
            Layout.mismatches(layoutJson(), Layout.EXPECTED).takeIf { it.isNotEmpty() }?.let(Layout::refusal)
        } catch (e: Exception) {
            "libwflo's struct layout could not be read (${e.message}); this binding refuses to run on it"
        }
    }

    /** Throws when the library's structs are not laid out as this binding packs them. */
    fun ensureLayout() {
        layoutError?.let { throw IllegalStateException(it) }
    }

    /** wflo_layout_json: the library's own sizes and offsets of its by-value structs. */
    fun layoutJson(): String {
        val out = Memory(8)
        check(wflo_layout_json(Pointer.nativeValue(out)))
        val p = out.getLong(0)
        return try {
            Pointer(p).getString(0, "UTF-8")
        } finally {
            wflo_string_free(p)
        }
    }

    external fun wflo_last_error_json(): Long
    external fun wflo_cost(engine: Long, model: Long, modelLen: Long, usage: Long, nanosOut: Long): Int
    external fun wflo_reserve(execution: Long, scope: Long, request: Long, reservationOut: Long): Int
    external fun wflo_reservation_amount_nanos(reservation: Long): Long
    external fun wflo_reservation_max_output_tokens(reservation: Long): Long
    external fun wflo_reservation_settle(reservation: Long, usage: Long, settledOut: Long): Int
    external fun wflo_reservation_settle_json(reservation: Long, format: Long, formatLen: Long, json: Long, jsonLen: Long, settledOut: Long): Int
    external fun wflo_reservation_settle_stream(reservation: Long, stream: Long, status: Long, statusLen: Long, settledOut: Long): Int
    external fun wflo_reserve_request(
        execution: Long, scope: Long, format: Long, formatLen: Long, body: Long, bodyLen: Long,
        options: Long, optionsLen: Long, reservationOut: Long, bodyOut: Long,
    ): Int
    external fun wflo_reservation_settle_result(reservation: Long, format: Long, formatLen: Long, json: Long, jsonLen: Long, status: Long, statusLen: Long, settledOut: Long): Int
    external fun wflo_reservation_settle_text(reservation: Long, text: Long, textLen: Long, status: Long, statusLen: Long, settledOut: Long): Int
    external fun wflo_layout_json(jsonOut: Long): Int
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
            d.long("reserved_nanos"), d.long("requested_nanos"), d.stringOrNull("retry_note"),
        )
        "NOT_FOUND" -> NotFoundException(message)
        "CONFLICT" -> ConflictException(message)
        "STORAGE" -> StorageException(message)
        "CLOSED" -> ClosedException(message)
        "CIRCUIT_OPEN" -> CircuitOpenException(message, d.string("name"), d.long("failures"), d.long("retry_in_ms"))
        "RESOURCE_BUSY" -> ResourceBusyException(message, d.string("resource"), d.long("waited_ms"), d.strings("holders"))
        "APPROVAL_DENIED" -> ApprovalDeniedException(
            message, d.string("id"), d.string("gate"), d.bool("timed_out"), d.stringOrNull("by"), d.stringOrNull("note"),
        )
        "APPROVAL_PENDING" -> ApprovalPendingException(message, d.string("id"), d.string("gate"), d.string("what"))
        "CALL_LIMIT" -> CallLimitException(message, d.string("execution"), d.long("max_calls"))
        else -> InternalException(message)
    }
}

/**
 * The C structs of ffi/include/wflo.h that [Scratch] packs and reads by hand, on 64-bit
 * targets: each one's size and the byte offset of each field. [CAbi] compares them with the
 * library's own (wflo_layout_json) when it loads and refuses to run on any difference, so a
 * field moved or added in the library is never read or written at the wrong place here.
 */
internal object Layout {
    const val USAGE_SIZE = 48
    const val USAGE_INPUT = 0
    const val USAGE_OUTPUT = 8
    const val USAGE_CACHE_READ = 16
    const val USAGE_CACHE_WRITE_5M = 24
    const val USAGE_CACHE_WRITE_1H = 32
    const val USAGE_REASONING = 40

    const val SETTLED_SIZE = 88
    const val SETTLED_SEQ = 0
    const val SETTLED_COST = 8
    const val SETTLED_RESERVED = 16
    const val SETTLED_OVERRUN = 24
    const val SETTLED_USAGE = 32
    const val SETTLED_ESTIMATED = 80
    const val SETTLED_USAGE_MISSING = 81

    const val REQUEST_SIZE = 64
    const val REQUEST_MODEL = 0
    const val REQUEST_MODEL_LEN = 8
    const val REQUEST_PROVIDER = 16
    const val REQUEST_PROVIDER_LEN = 24
    const val REQUEST_INPUT_TOKENS = 32
    const val REQUEST_INPUT_COUNT = 40
    const val REQUEST_MAX_OUTPUT = 48
    const val REQUEST_CACHE_WRITE = 56
    const val REQUEST_STREAM = 60
    const val REQUEST_CLAMP = 61

    /** A struct as this binding packs it: its size and each field's offset. */
    data class Struct(val size: Int, val fields: Map<String, Int>)

    /** Every struct this binding packs or reads, as it does (the constants above). */
    val EXPECTED: Map<String, Struct> = mapOf(
        "wflo_usage" to Struct(
            USAGE_SIZE,
            mapOf(
                "input" to USAGE_INPUT, "output" to USAGE_OUTPUT, "cache_read" to USAGE_CACHE_READ,
                "cache_write_5m" to USAGE_CACHE_WRITE_5M, "cache_write_1h" to USAGE_CACHE_WRITE_1H,
                "reasoning" to USAGE_REASONING,
            ),
        ),
        "wflo_settled" to Struct(
            SETTLED_SIZE,
            mapOf(
                "seq" to SETTLED_SEQ, "cost_nanos" to SETTLED_COST, "reserved_nanos" to SETTLED_RESERVED,
                "overrun_nanos" to SETTLED_OVERRUN, "usage" to SETTLED_USAGE, "estimated" to SETTLED_ESTIMATED,
                "usage_missing" to SETTLED_USAGE_MISSING,
            ),
        ),
        "wflo_call_request" to Struct(
            REQUEST_SIZE,
            mapOf(
                "model" to REQUEST_MODEL, "model_len" to REQUEST_MODEL_LEN, "provider" to REQUEST_PROVIDER,
                "provider_len" to REQUEST_PROVIDER_LEN, "input_tokens" to REQUEST_INPUT_TOKENS,
                "input_count" to REQUEST_INPUT_COUNT, "max_output_tokens" to REQUEST_MAX_OUTPUT,
                "cache_write" to REQUEST_CACHE_WRITE, "stream" to REQUEST_STREAM, "clamp_max_tokens" to REQUEST_CLAMP,
            ),
        ),
    )

    /**
     * Where the library's layout ([libraryJson], wflo_layout_json's text) differs from
     * [expected]: a struct missing, another size, a field missing or elsewhere, or a field this
     * binding does not know (it would be left unwritten). Empty when they match.
     */
    fun mismatches(libraryJson: String, expected: Map<String, Struct>): List<String> {
        val library = JsonText.parse(libraryJson).jsonObject
        val found = mutableListOf<String>()
        for ((name, want) in expected) {
            val got = library[name] as? JsonObject
            if (got == null) {
                found += "$name: not in the library"
                continue
            }
            val size = (got["size"] as? JsonPrimitive)?.intOrNull
            if (size != want.size) found += "$name: ${size ?: "no"} bytes in the library, ${want.size} here"
            val fields = got["fields"] as? JsonObject ?: JsonObject(emptyMap())
            for ((field, offset) in want.fields) {
                val at = (fields[field] as? JsonPrimitive)?.intOrNull
                when {
                    at == null -> found += "$name.$field: not in the library"
                    at != offset -> found += "$name.$field: at byte $at in the library, $offset here"
                }
            }
            for (field in fields.keys - want.fields.keys) found += "$name.$field: in the library, unknown here"
        }
        return found
    }

    fun refusal(mismatches: List<String>): String =
        "libwflo's structs are not laid out as this binding packs them (${mismatches.joinToString("; ")}): " +
            "the binding and the library come from different versions; this binding refuses to run on it"

    /** Throws [IllegalStateException] naming every difference, unless the layouts match. */
    fun verify(libraryJson: String, expected: Map<String, Struct>) {
        val found = mismatches(libraryJson, expected)
        if (found.isNotEmpty()) throw IllegalStateException(refusal(found))
    }
}

/**
 * One thread's argument and result structs, in native memory it keeps for its lifetime, with
 * a ByteBuffer view so fields are written and read in plain Java, at the offsets of [Layout]
 * (checked against the library's when it loads).
 */
internal class Scratch private constructor(size: Int) {
    private val memory = Memory(size.toLong())
    val base: Long = Pointer.nativeValue(memory)
    val buf: ByteBuffer = memory.getByteBuffer(0, size.toLong()).order(ByteOrder.nativeOrder())
    private var next = STRINGS

    companion object {
        // wflo_call_request, wflo_usage, wflo_settled, two out-pointers, then strings.
        const val REQUEST = 0
        const val USAGE = REQUEST + Layout.REQUEST_SIZE
        const val SETTLED = USAGE + Layout.USAGE_SIZE
        const val OUT = SETTLED + Layout.SETTLED_SIZE
        const val OUT2 = OUT + 8
        const val STRINGS = OUT2 + 8
        private const val DEFAULT_SIZE = 16 * 1024

        private val local = ThreadLocal.withInitial { Scratch(DEFAULT_SIZE) }

        /** This thread's scratch, with room for [stringBytes] bytes of strings. */
        fun get(stringBytes: Int = 0): Scratch {
            CAbi.ensureLayout()
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
        buf.putLong(USAGE + Layout.USAGE_INPUT, unsigned(u.input, "input").toLong())
        buf.putLong(USAGE + Layout.USAGE_OUTPUT, unsigned(u.output, "output").toLong())
        buf.putLong(USAGE + Layout.USAGE_CACHE_READ, unsigned(u.cacheRead, "cacheRead").toLong())
        buf.putLong(USAGE + Layout.USAGE_CACHE_WRITE_5M, unsigned(u.cacheWrite5m, "cacheWrite5m").toLong())
        buf.putLong(USAGE + Layout.USAGE_CACHE_WRITE_1H, unsigned(u.cacheWrite1h, "cacheWrite1h").toLong())
        buf.putLong(USAGE + Layout.USAGE_REASONING, unsigned(u.reasoning, "reasoning").toLong())
    }

    fun usageAt(at: Int) = Usage(
        buf.getLong(at + Layout.USAGE_INPUT), buf.getLong(at + Layout.USAGE_OUTPUT),
        buf.getLong(at + Layout.USAGE_CACHE_READ), buf.getLong(at + Layout.USAGE_CACHE_WRITE_5M),
        buf.getLong(at + Layout.USAGE_CACHE_WRITE_1H), buf.getLong(at + Layout.USAGE_REASONING),
    )

    fun settled() = Settled(
        seq = buf.getLong(SETTLED + Layout.SETTLED_SEQ),
        costNanos = buf.getLong(SETTLED + Layout.SETTLED_COST),
        reservedNanos = buf.getLong(SETTLED + Layout.SETTLED_RESERVED),
        overrunNanos = buf.getLong(SETTLED + Layout.SETTLED_OVERRUN),
        usage = usageAt(SETTLED + Layout.SETTLED_USAGE),
        estimated = buf.get(SETTLED + Layout.SETTLED_ESTIMATED).toInt() != 0,
        usageMissing = buf.get(SETTLED + Layout.SETTLED_USAGE_MISSING).toInt() != 0,
    )

    /** Fills wflo_call_request from [r] (its strings go to the string area). */
    fun putRequest(r: CallRequest, model: ByteArray, provider: ByteArray?) {
        buf.putLong(REQUEST + Layout.REQUEST_MODEL, put(model))
        buf.putLong(REQUEST + Layout.REQUEST_MODEL_LEN, model.size.toLong())
        buf.putLong(REQUEST + Layout.REQUEST_PROVIDER, if (provider == null) 0L else put(provider))
        buf.putLong(REQUEST + Layout.REQUEST_PROVIDER_LEN, provider?.size?.toLong() ?: 0L)
        buf.putLong(REQUEST + Layout.REQUEST_INPUT_TOKENS, unsigned(r.inputTokens, "inputTokens").toLong())
        // WFLO_COUNT_AUTO 0, EXACT 1, ESTIMATED 2.
        buf.putInt(REQUEST + Layout.REQUEST_INPUT_COUNT, when (r.inputEstimated) { null -> 0; false -> 1; true -> 2 })
        // 0: not given (the model's maximum output).
        buf.putLong(
            REQUEST + Layout.REQUEST_MAX_OUTPUT,
            r.maxOutputTokens?.let { unsigned(it, "maxOutputTokens").toLong() } ?: 0L,
        )
        buf.putInt(REQUEST + Layout.REQUEST_CACHE_WRITE, r.cacheWrite.ordinal) // NONE 0, 5M 1, 1H 2, as the header
        buf.put(REQUEST + Layout.REQUEST_STREAM, if (r.stream) 1 else 0)
        buf.put(REQUEST + Layout.REQUEST_CLAMP, if (r.clampMaxTokens) 1 else 0)
    }

    /** Reads and frees a library-owned string written to the out-pointer at [at]. */
    fun takeString(at: Int = OUT): String {
        val p = buf.getLong(at)
        return try {
            Pointer(p).getString(0, "UTF-8")
        } finally {
            CAbi.wflo_string_free(p)
        }
    }
}
