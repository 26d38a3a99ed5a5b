package dev.wflo

import dev.wflo.ffi.Alert as NativeAlert
import dev.wflo.ffi.AlertListener as NativeAlertListener

/** What crossed: a percent of a scope's limit, or its soft budget. */
enum class AlertKind(val code: String) {
    /** Spend reached [Alert.percent] of the scope's hard limit. */
    THRESHOLD("threshold"),

    /** Spend reached the soft budget: a warning, nothing is refused. */
    SOFT_BUDGET("soft_budget"),
}

/**
 * A budget alert: spend on a scope reached a threshold of its limit (by default 50, 80 and
 * 95%, each once) or its soft budget. Which alerts fire, when and in what order is the
 * engine's rule.
 *
 * [scope] is "" for the execution's own budget, else a step label or a shared scope's name;
 * [executionId] and [workflow] are "" for a shared scope. [limitNanos] is the limit the
 * threshold is a part of (the soft budget itself for [AlertKind.SOFT_BUDGET]); [summary] is
 * one line for a person ("budget 80% reached on research/planner: $0.0810 of $0.1000").
 */
data class Alert(
    val executionId: String,
    val workflow: String,
    val scope: String,
    val kind: AlertKind,
    val percent: Int,
    val limitNanos: Long,
    val spentNanos: Long,
    /** When it fired, milliseconds since the Unix epoch. */
    val atMs: Long,
    val summary: String,
) {
    val limitUsd: Double get() = limitNanos / 1e9
    val spentUsd: Double get() = spentNanos / 1e9

    override fun toString() = summary

    internal companion object {
        fun of(a: NativeAlert) = Alert(
            a.executionId, a.workflow, a.scope,
            AlertKind.entries.firstOrNull { it.code == a.kind }
                ?: throw InternalException("the engine sent an alert of an unknown kind '${a.kind}'"),
            a.percent.toInt(), a.limitNanos.toLong(), a.spentNanos.toLong(), a.atMs.toLong(), a.summary,
        )
    }
}

/** Receives budget alerts ([Engine.onThreshold], [WfloWorkflow.onThreshold]). */
fun interface AlertCallback {
    fun onAlert(alert: Alert)
}

/**
 * The engine's listener over an [AlertCallback]. [filtered]: only the alerts of the execution
 * [executionId] names reach it (none while it names none). What the callback throws is logged
 * on the `wflo` logger and goes no further: the call that settled is not affected.
 */
internal class AlertAdapter(
    private val callback: AlertCallback,
    private val filtered: Boolean = false,
) : NativeAlertListener {
    @Volatile var executionId: String? = null

    override fun onAlert(alert: NativeAlert) {
        if (filtered && alert.executionId != executionId) return
        try {
            callback.onAlert(Alert.of(alert))
        } catch (e: Throwable) {
            WfloLog.warn("a budget alert callback threw; the alert was: ${alert.summary}", e)
        }
    }
}
