package dev.wflo

import dev.wflo.ffi.NativeExecution
import dev.wflo.ffi.NativeLangGraphCheckpointer
import kotlinx.serialization.json.JsonElement
import java.util.concurrent.atomic.AtomicBoolean
import dev.wflo.ffi.LangGraphAnswer as NativeLangGraphAnswer

/** A value as LangGraph's serializer wrote it: its type name and its bytes. */
class LangGraphValue(val type: String, val data: ByteArray) {
    override fun equals(other: Any?) = other is LangGraphValue && type == other.type && data.contentEquals(other.data)

    override fun hashCode() = 31 * type.hashCode() + data.contentHashCode()

    override fun toString() = "LangGraphValue(type=$type, ${data.size} bytes)"
}

/**
 * The answer to a [LangGraphCheckpointer.call]: its JSON text (values by index into [values],
 * their `[type, length]` under `"values"`) and the values, in that order.
 */
data class LangGraphAnswer(val json: String, val values: List<LangGraphValue>) {
    /** [json] parsed. */
    fun parsed(): JsonElement = JsonText.parse(json)

    /** The values' bytes one after another, as the JSON's `"values"` lists them. */
    fun joined(): ByteArray {
        val out = ByteArray(values.sumOf { it.data.size })
        var at = 0
        for (v in values) {
            v.data.copyInto(out, at)
            at += v.data.size
        }
        return out
    }

    internal companion object {
        fun of(a: NativeLangGraphAnswer) = LangGraphAnswer(a.json, a.values.map { LangGraphValue(it.kind, it.data) })
    }
}

/**
 * A LangGraph saver's index and records, decided in the engine (`wflo_core::langgraph`): a
 * checkpoint stores only its changed channels and takes the rest from its parents, a task's
 * writes are merged and ordered as LangGraph orders them, and a wflo rollback makes later
 * checkpoints history. Each [call] is one request in the engine's wire form — JSON naming the
 * operation (`put`, `put_writes`, `get`, `list`, `pending_writes`, `delete_thread`,
 * `delete_checkpoints`, `copy_thread`, `prune`, `name`, `key_of`) and its fields, each value's
 * `[type, length]` listed under `"values"` and their bytes one after another in `values`.
 *
 * Thread-safe; keeps its index of one execution at a time. [close] frees the native object.
 */
class LangGraphCheckpointer : AutoCloseable {
    private val handle = NativeLangGraphCheckpointer()
    private val closed = AtomicBoolean(false)

    /**
     * Runs [request] on [workflow]'s execution (it must have started; null only for `name` and
     * `key_of`). A malformed request is refused with [InvalidArgumentException] and changes
     * nothing.
     */
    @JvmOverloads
    fun call(workflow: WfloWorkflow?, request: String, values: ByteArray = EMPTY): LangGraphAnswer {
        val exec = workflow?.nativeExecution()
        return LangGraphAnswer.of(native { live().call(exec, request, values) })
    }

    /** [call] off the caller's thread: storage is read and written on a blocking pool. */
    suspend fun callAsync(workflow: WfloWorkflow?, request: String, values: ByteArray = EMPTY): LangGraphAnswer {
        val exec: NativeExecution? = workflow?.nativeExecution()
        return LangGraphAnswer.of(native { live().callAsync(exec, request, values) })
    }

    private fun live(): NativeLangGraphCheckpointer {
        if (closed.get()) throw ClosedException("the LangGraph checkpointer is closed")
        return handle
    }

    /** Frees the native object; calling again is fine. */
    override fun close() {
        if (closed.compareAndSet(false, true)) handle.close()
    }

    override fun toString() = "LangGraphCheckpointer(closed=${closed.get()})"

    private companion object {
        val EMPTY = ByteArray(0)
    }
}
