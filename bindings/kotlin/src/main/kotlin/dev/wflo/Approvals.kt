package dev.wflo

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.put
import kotlin.time.Duration

/*
 * Approval gates (core/src/resilience/approval.rs): a workflow stops at a gate until a person
 * approves it (`wflo approve ID`, the `wflo serve` page, or [Engine.approve] from any process
 * on the same store). The same gate asked again by the same execution — a restarted workflow —
 * finds the same approval; what a timeout means and how a wait polls are the engine's rules.
 * This file converts arguments and the engine's JSON: [WfloWorkflow.requireApproval] asks and
 * waits, [WfloWorkflow.requestApproval] only asks.
 */

/** Where an approval is. */
enum class ApprovalStatus(val code: String) {
    /** Nobody has decided yet. */
    PENDING("pending"),
    APPROVED("approved"),
    DENIED("denied"),

    /** Nobody decided in time; the gate applied its [OnTimeout] rule. */
    EXPIRED("expired"),
    ;

    internal companion object {
        fun of(code: String) = entries.firstOrNull { it.code == code }
            ?: throw InternalException("the engine reported an unknown approval status '$code'")
    }
}

/** What an unanswered approval means when its timeout passes. */
enum class OnTimeout(val code: String) {
    /** The gate is denied ([ApprovalDeniedException] with `timedOut`). The default. */
    DENY("deny"),

    /** The gate is approved. */
    APPROVE("approve"),
}

/**
 * An approval as the store holds it: [id] ("appr-" + 12 hex), the execution and [gate] it
 * belongs to, [what] happens once approved, [why] it needs approval, the worst case of the
 * spend behind it ([worstCaseNanos], exact; [worstCaseUsd] for display), who asked
 * ([requestedBy]), what a timeout means ([onTimeout]), its [status], and once decided who
 * decided ([decidedBy]; "timeout" when nobody did in time) and their [note]. Times are Unix ms.
 */
data class Approval(
    val id: String,
    val executionId: String,
    val gate: String,
    val what: String,
    val why: String,
    val worstCaseNanos: Long?,
    val requestedBy: String,
    val onTimeout: OnTimeout,
    val status: ApprovalStatus,
    val note: String?,
    val decidedBy: String?,
    val createdAtMs: Long,
    val expiresAtMs: Long?,
    val decidedAtMs: Long?,
) {
    val worstCaseUsd: Double? get() = worstCaseNanos?.let { it / 1e9 }

    internal companion object {
        fun of(o: JsonObject) = Approval(
            o.string("id"), o.string("execution_id"), o.string("gate"), o.string("what"), o.string("why"),
            o.longOrNull("worst_case_nanos"), o.string("requested_by"),
            OnTimeout.entries.firstOrNull { it.code == o.string("on_timeout") } ?: OnTimeout.DENY,
            ApprovalStatus.of(o.string("status")), o.stringOrNull("note"), o.stringOrNull("decided_by"),
            o.long("created_at_ms"), o.longOrNull("expires_at_ms"), o.longOrNull("decided_at_ms"),
        )

        fun parse(json: String) = of(JsonText.parse(json).jsonObject)
    }
}

/**
 * The engine's approval request JSON. [worstCaseUsd] goes through the engine's money parsing
 * ([Usd.toNanos]: a BigDecimal or whole number exactly). [what] null: the engine's "run GATE";
 * [timeout] null: the engine's (one hour); [requestedBy] null: this process.
 */
internal fun approvalRequestJson(
    gate: String,
    why: String,
    what: String?,
    worstCaseUsd: Number?,
    timeout: Duration?,
    onTimeout: OnTimeout,
    requestedBy: String?,
): String = buildJsonObject {
    put("gate", gate)
    put("why", why)
    what?.let { put("what", it) }
    worstCaseUsd?.let { put("worst_case_nanos", Usd.toNanos(it, "worstCaseUsd")) }
    requestedBy?.let { put("requested_by", it) }
    timeout?.let { put("timeout_ms", millis(it, "timeout")) }
    put("on_timeout", onTimeout.code)
}.toString()
