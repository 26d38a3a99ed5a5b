// What wflo tells a JVM host while it runs: budget alerts, the trace an execution belongs to,
// the Prometheus metrics text and the engine's events on the `wflo` logger. The Kotlin
// README's observability snippet is the part between the tour markers; bindings/kotlin/test.sh
// compiles it with the tests (TelemetryTest runs it and checks what it returns).
package dev.wflo.examples

import dev.wflo.Alert
import dev.wflo.Engine
import dev.wflo.Usage
import dev.wflo.WfloWorkflow
import dev.wflo.logEvents
import java.math.BigDecimal

/** Runs four calls against a $0.01 budget; returns the alerts heard, the trace id and the metrics text. */
fun observability(): Triple<List<Alert>, String?, String> {
    val alerts = java.util.Collections.synchronizedList(mutableListOf<Alert>())
    // tour:start
    logEvents("info") // or WFLO_LOG=info in the environment; silent by default
    val engine = Engine.open("memory://")
    val workflow = WfloWorkflow(
        "research-agent", budgetUsd = BigDecimal("0.01"), engine = engine,
        alertThresholds = listOf(50, 80), // default 50, 80, 95; empty: none
        softBudgetUsd = BigDecimal("0.006"), // an alert, never a refusal
        traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // the host's span
    ).onThreshold { alert -> alerts += alert } // "budget 50% reached on research-agent: $0.0067 of $0.0100"

    repeat(4) { // $0.00225 a call: 22.5%, 45%, 67.5% (50% and the soft budget), 90%
        workflow.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 200)
            .use { it.settle(Usage(input = 100, output = 200)) }
    }
    val traceId = workflow.traceId // the traceParent's trace: "4bf92f3577b34da6a3ce929d0e0e4736"
    val metrics = engine.metricsText() // Prometheus text, for your own /metrics
    // tour:end
    workflow.close()
    engine.close()
    logEvents(null)
    return Triple(alerts.toList(), traceId, metrics)
}
