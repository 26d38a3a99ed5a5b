package dev.wflo

import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import dev.wflo.ffi.CheckpointState as NativeCheckpointState
import dev.wflo.ffi.Settled as NativeSettled
import dev.wflo.ffi.TokenCount as NativeTokenCount
import dev.wflo.ffi.Usage as NativeUsage

// The values callers see. The generated records use ULong (the engine's u64); these use Long,
// which every JVM language handles, and which holds any real amount (9.2e9 USD in nano-USD).

/** Token usage in wflo's six disjoint fields, each billed at its own price. */
data class Usage(
    val input: Long = 0,
    val output: Long = 0,
    val cacheRead: Long = 0,
    val cacheWrite5m: Long = 0,
    val cacheWrite1h: Long = 0,
    val reasoning: Long = 0,
) {
    internal fun toNative() = NativeUsage(
        unsigned(input, "input"), unsigned(output, "output"), unsigned(cacheRead, "cacheRead"),
        unsigned(cacheWrite5m, "cacheWrite5m"), unsigned(cacheWrite1h, "cacheWrite1h"),
        unsigned(reasoning, "reasoning"),
    )

    internal companion object {
        fun of(u: NativeUsage) = Usage(
            u.input.toLong(), u.output.toLong(), u.cacheRead.toLong(), u.cacheWrite5m.toLong(),
            u.cacheWrite1h.toLong(), u.reasoning.toLong(),
        )

        fun of(o: JsonObject) = Usage(
            o.long("input"), o.long("output"), o.long("cache_read"), o.long("cache_write_5m"),
            o.long("cache_write_1h"), o.long("reasoning"),
        )
    }
}

/** What a settled (or recorded) call came to. */
data class Settled(
    val seq: Long,
    val costNanos: Long,
    val reservedNanos: Long,
    /** Cost beyond what was reserved (a provider that returned more than max_tokens). */
    val overrunNanos: Long,
    /** The usage is the tokenizer's estimate, not the provider's report. */
    val estimated: Boolean,
    /** A stream ended without the provider's usage. */
    val usageMissing: Boolean,
    val usage: Usage,
) {
    val costUsd: Double get() = costNanos / 1e9

    internal companion object {
        fun of(s: NativeSettled) = Settled(
            s.seq.toLong(), s.costNanos.toLong(), s.reservedNanos.toLong(), s.overrunNanos.toLong(),
            s.estimated, s.usageMissing, Usage.of(s.usage),
        )
    }
}

/** A token count; [estimated] when the model's provider has no offline tokenizer. */
data class TokenCount(val tokens: Long, val encoding: String, val estimated: Boolean) {
    internal companion object {
        fun of(c: NativeTokenCount) = TokenCount(c.tokens.toLong(), c.encoding, c.estimated)
    }
}

/** Whether a request writes its prompt to a provider's cache (billed at the write rate). */
enum class CacheWrite { NONE, FIVE_MINUTES, ONE_HOUR }

/** How an execution ended. */
enum class ExecutionStatus(val code: String) {
    COMPLETED("completed"),
    FAILED("failed"),
    BUDGET_EXCEEDED("budget_exceeded"),
}

/**
 * What is known about a call before it is made: enough to reserve its worst case.
 *
 * [maxOutputTokens] null: the model's maximum output. [inputEstimated] null: the model's
 * tokenizer decides (exact for OpenAI models, estimated and raised by a margin otherwise).
 * [clampMaxTokens]: lower max_tokens to what the budget allows instead of refusing (send
 * [Reservation.maxOutputTokens] then).
 */
data class CallRequest(
    val model: String,
    val inputTokens: Long = 0,
    val maxOutputTokens: Long? = null,
    val provider: String? = null,
    val inputEstimated: Boolean? = null,
    val cacheWrite: CacheWrite = CacheWrite.NONE,
    val stream: Boolean = false,
    val clampMaxTokens: Boolean = false,
)

/**
 * How a model name resolves and its prices. Prices are pico-USD per token (null: the model
 * has no such price); [json] holds every field the table has.
 */
data class Price(
    val resolved: String,
    val resolution: String,
    val provider: String,
    val input: Long?,
    val output: Long?,
    val cacheRead: Long?,
    val maxInputTokens: Long?,
    val maxOutputTokens: Long?,
    val json: JsonObject,
) {
    internal companion object {
        fun of(o: JsonObject): Price {
            val p = o["price"] as? JsonObject ?: JsonObject(emptyMap())
            return Price(
                o.string("resolved"), o.string("resolution"), p.string("provider"),
                p.longOrNull("input"), p.longOrNull("output"), p.longOrNull("cache_read"),
                p.longOrNull("max_input"), p.longOrNull("max_output"), o,
            )
        }
    }
}

/** Cost of one model within an execution. */
data class ModelCost(val model: String, val calls: Long, val costNanos: Long, val usage: Usage) {
    val costUsd: Double get() = costNanos / 1e9
}

/** Cost of one step within an execution; [budgetNanos] is the step's own limit, if any. */
data class StepCost(val step: String, val calls: Long, val refused: Long, val costNanos: Long, val budgetNanos: Long?) {
    val costUsd: Double get() = costNanos / 1e9
}

/** Where an execution's money went. Amounts in nano-USD; `*Usd` are the same in dollars. */
data class Breakdown(
    val executionId: String,
    val name: String,
    val status: String,
    val totalNanos: Long,
    val budgetNanos: Long?,
    val reservedNanos: Long,
    val remainingNanos: Long?,
    val overrunNanos: Long,
    val calls: Long,
    val refusedCalls: Long,
    val estimatedCalls: Long,
    val usage: Usage,
    val byModel: List<ModelCost>,
    val byStep: List<StepCost>,
    /**
     * The prices of the engine that made this breakdown, in one line: the built-in table's
     * source and date, and the price files loaded over it ([Engine.priceTable] in full).
     */
    val priceTable: String,
    /** The engine's breakdown as it is, for fields this class does not name. */
    val json: JsonObject,
) {
    val totalUsd: Double get() = totalNanos / 1e9
    val budgetUsd: Double? get() = budgetNanos?.let { it / 1e9 }
    val remainingUsd: Double? get() = remainingNanos?.let { it / 1e9 }

    internal companion object {
        fun of(o: JsonObject) = Breakdown(
            o.string("execution_id"), o.string("name"), o.string("status"), o.long("total_nanos"),
            o.longOrNull("budget_nanos"), o.long("reserved_nanos"), o.longOrNull("remaining_nanos"),
            o.long("overrun_nanos"), o.long("calls"), o.long("refused_calls"), o.long("estimated_calls"),
            (o["usage"] as? JsonObject)?.let(Usage::of) ?: Usage(),
            o.objects("by_model").map {
                ModelCost(it.string("model"), it.long("calls"), it.long("cost_nanos"),
                    (it["usage"] as? JsonObject)?.let(Usage::of) ?: Usage())
            },
            o.objects("by_step").map {
                StepCost(it.string("step"), it.long("calls"), it.long("refused"), it.long("cost_nanos"),
                    it.longOrNull("budget_nanos"))
            },
            o.string("price_table"),
            o,
        )
    }
}

/** A saved checkpoint, without its state. */
data class CheckpointInfo(
    val id: Long,
    val executionId: String,
    val name: String,
    /** Order within the execution, from 1. */
    val sequence: Long,
    val parentId: Long?,
    /** The execution's spend when it was saved. */
    val spentNanos: Long,
    val createdAtMs: Long,
    /** True once a rollback to an earlier checkpoint made this one history. */
    val superseded: Boolean,
    val stateBytes: Long,
    /** The content type of a binary state ([WfloWorkflow.checkpointBinary]); null for a JSON one. */
    val contentType: String? = null,
) {
    internal companion object {
        fun of(o: JsonObject) = CheckpointInfo(
            o.long("id"), o.string("execution_id"), o.string("name"), o.long("sequence"),
            o.longOrNull("parent_id"), o.long("spent_nanos"), o.long("created_at_ms"), o.bool("superseded"),
            o.long("state_bytes"), o.stringOrNull("content_type"),
        )

        /** The engine's JSON array of checkpoints (`checkpoints_json`'s shape) as a list. */
        fun ofArray(json: String): List<CheckpointInfo> = JsonText.parse(json).jsonArray.map { of(it.jsonObject) }
    }
}

/** What [WfloWorkflow.checkpointsSince] read: the checkpoints after a sequence, and the rollback count. */
data class CheckpointsSince(
    /** The checkpoints saved after the sequence asked for, in order, superseded ones included. */
    val checkpoints: List<CheckpointInfo>,
    /** How many rollbacks the execution has had: when it grew, earlier checkpoints may have become history. */
    val rollbacks: Long,
)

/**
 * What [WfloWorkflow.checkpointsSinceWithState] read in one call: what [WfloWorkflow.checkpointsSince]
 * reads, and one checkpoint's state of either kind.
 */
data class CheckpointsSinceWithState(
    /** The checkpoints saved after the sequence asked for, in order, superseded ones included. */
    val checkpoints: List<CheckpointInfo>,
    /** How many rollbacks the execution has had: when it grew, earlier checkpoints may have become history. */
    val rollbacks: Long,
    /** The state of the checkpoint asked for, of either kind. */
    val state: CheckpointState,
)

/**
 * A checkpoint's state of either kind, as [WfloWorkflow.rollbackToCheckpointAny],
 * [WfloWorkflow.latestCheckpointAny] and [WfloWorkflow.checkpointStateAny] return it: the
 * JSON a [WfloWorkflow.checkpoint] saved, or the bytes a [WfloWorkflow.checkpointBinary] saved,
 * byte for byte, with their content type.
 */
sealed class CheckpointState {
    /** A JSON state, parsed. */
    data class Json(val state: JsonElement) : CheckpointState()

    /**
     * A binary state: [data] in the caller's own format, named by [contentType] (for example
     * "application/msgpack"). Equal to another with the same content type and the same bytes
     * (a ByteArray alone compares by identity).
     */
    class Binary(val contentType: String, val data: ByteArray) : CheckpointState() {
        override fun equals(other: Any?): Boolean =
            other is Binary && other.contentType == contentType && other.data.contentEquals(data)

        override fun hashCode(): Int = 31 * contentType.hashCode() + data.contentHashCode()

        // The size, not the bytes: a state may be megabytes.
        override fun toString(): String = "Binary(contentType=$contentType, ${data.size} bytes)"
    }

    internal companion object {
        /** The generated layer's state as this one's (a JSON state's text parsed). */
        fun of(native: NativeCheckpointState): CheckpointState = when (native) {
            is NativeCheckpointState.Json -> Json(JsonText.parse(native.text))
            is NativeCheckpointState.Binary -> Binary(native.contentType, native.bytes)
        }
    }
}

/** One field of a model's entry before and after a price file ([JsonNull]: absent); prices in pico-USD per token. */
data class PriceFieldChange(val field: String, val before: JsonElement, val after: JsonElement)

/** A model whose entry a price file changes, field by field. */
data class PriceChange(val name: String, val fields: List<PriceFieldChange>)

/**
 * An entry of a price file that is not a per-token price (LiteLLM's image, audio, search
 * prices…): reported, never an error. [line] is its line in the file.
 */
data class SkippedPrice(val name: String, val line: Long, val reason: String)

/**
 * What [Engine.loadPrices] changed in the table. [format] is "wflo" or "litellm"; [models] the
 * price entries in the file; [added] the names the table did not have; [unchanged] the
 * entries equal to what it had.
 */
data class PriceChanges(
    val origin: String,
    val format: String,
    val models: Long,
    val added: List<String>,
    val changed: List<PriceChange>,
    val unchanged: Long,
    val skipped: List<SkippedPrice>,
) {
    internal companion object {
        fun of(o: JsonObject) = PriceChanges(
            o.string("origin"), o.string("format"), o.long("models"), o.strings("added"),
            o.objects("changed").map { c ->
                PriceChange(c.string("name"), c.objects("fields").map {
                    PriceFieldChange(it.string("field"), it["before"] ?: JsonNull, it["after"] ?: JsonNull)
                })
            },
            o.long("unchanged"),
            o.objects("skipped").map { SkippedPrice(it.string("name"), it.long("line"), it.string("reason")) },
        )
    }
}

/**
 * A price file loaded over the built-in table. [version] and [retrieved] are what it states
 * (else the day it was last written); null when unknown.
 */
data class PriceFile(
    val origin: String,
    val format: String,
    val version: String?,
    val retrieved: String?,
    val models: Long,
)

/**
 * Where an engine's prices come from: the built-in table's [source], [version] and
 * [retrieved] date, the [files] loaded over it in order, and [overrides] (names priced at run
 * time by files and [Engine.setPrices]). [Breakdown.priceTable] is the same in one line.
 */
data class PriceTable(
    val source: String,
    val version: String,
    val retrieved: String,
    val models: Long,
    val files: List<PriceFile>,
    val overrides: Long,
) {
    internal companion object {
        fun of(o: JsonObject) = PriceTable(
            o.string("source"), o.string("version"), o.string("retrieved"), o.long("models"),
            o.objects("files").map {
                PriceFile(it.string("origin"), it.string("format"), it.stringOrNull("version"),
                    it.stringOrNull("retrieved"), it.long("models"))
            },
            o.long("overrides"),
        )
    }
}
