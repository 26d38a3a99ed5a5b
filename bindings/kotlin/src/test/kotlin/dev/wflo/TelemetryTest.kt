package dev.wflo

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.util.Collections
import java.util.concurrent.TimeUnit
import java.util.logging.Handler
import java.util.logging.Level
import java.util.logging.LogRecord
import java.util.logging.Logger

/**
 * What the engine tells a JVM host: budget alerts through [WfloWorkflow.onThreshold] and
 * [Engine.onThreshold], the trace an execution belongs to, the Prometheus metrics text, and
 * the engine's events on the `wflo` logger (java.util.logging here: SLF4J is not on the test
 * classpath).
 */
class TelemetryTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() {
        logEvents(null)
        engine.close()
    }

    /** [calls] gpt-4o calls of 100 input and 200 output tokens ($0.00225 each). */
    private fun spend(scope: BudgetScope, calls: Int) = repeat(calls) {
        scope.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 200).use { it.settle(Usage(input = 100, output = 200)) }
    }

    /** Records of the `wflo` java.util.logging logger while [block] runs. */
    private fun <T> logged(block: () -> T): Pair<T, List<LogRecord>> {
        val records = Collections.synchronizedList(mutableListOf<LogRecord>())
        val logger = Logger.getLogger("wflo")
        val handler = object : Handler() {
            override fun publish(record: LogRecord) {
                records += record
            }
            override fun flush() {}
            override fun close() {}
        }
        val before = logger.level
        val parents = logger.useParentHandlers
        logger.level = Level.ALL
        logger.useParentHandlers = false // kept from the console
        logger.addHandler(handler)
        try {
            return block() to records.toList()
        } finally {
            logger.removeHandler(handler)
            logger.useParentHandlers = parents
            logger.level = before
        }
    }

    @Test
    fun `onThreshold hears its own execution's alerts, once each, in order`() {
        val got = Collections.synchronizedList(mutableListOf<Alert>())
        WfloWorkflow("alerts", 0.01, engine, softBudgetUsd = "0.004".toBigDecimal()).use { wf ->
            wf.onThreshold { got += it }
            WfloWorkflow("other", 0.01, engine).use { other -> spend(other, 4) } // not wf's
            spend(wf, 4) // 22.5%, 45%, 67.5%, 90% of $0.01
            assertEquals(
                listOf(AlertKind.SOFT_BUDGET to 100, AlertKind.THRESHOLD to 50, AlertKind.THRESHOLD to 80),
                got.map { it.kind to it.percent },
            )
            val half = got[1]
            assertEquals(wf.executionId, half.executionId)
            assertEquals("alerts", half.workflow)
            assertEquals("", half.scope)
            assertEquals(10_000_000L, half.limitNanos)
            assertEquals(6_750_000L, half.spentNanos)
            assertEquals(0.01, half.limitUsd, 1e-12)
            assertTrue(half.toString().startsWith("budget 50% reached on alerts: $0.006"), half.summary)
            assertEquals(4_000_000L, got[0].limitNanos) // the soft budget, parsed exactly
        }
    }

    @Test
    fun `thresholds are the caller's, a step has its own, and bad ones are refused by the engine`() {
        val got = Collections.synchronizedList(mutableListOf<String>())
        WfloWorkflow("custom", 0.01, engine, alertThresholds = listOf(25, 60)).use { wf ->
            wf.onThreshold { got += "${it.scope}/${it.percent}" }
            spend(wf.scope("draft", 0.005), 1) // the step: 45% of $0.005; the execution: 22.5%
            spend(wf, 1) // the execution: 45%
            assertEquals(listOf("draft/25", "/25"), got)
        }
        WfloWorkflow("silent", 0.01, engine, alertThresholds = emptyList()).use { wf ->
            val none = mutableListOf<Alert>()
            wf.onThreshold { none += it }
            spend(wf, 4)
            assertEquals(emptyList<Alert>(), none)
        }
        for (bad in listOf(listOf(80, 50), listOf(0), listOf(101), listOf(-1))) {
            assertThrows<InvalidArgumentException> { WfloWorkflow("bad", null, engine, alertThresholds = bad).startBlocking() }
        }
        assertThrows<InvalidArgumentException> { WfloWorkflow("bad", null, engine, softBudgetUsd = -1) }
    }

    @Test
    fun `an engine listener hears every execution until closed`() {
        val got = Collections.synchronizedList(mutableListOf<String>())
        val listener = engine.onThreshold { got += it.workflow }
        for (name in listOf("a", "b")) WfloWorkflow(name, 0.01, engine).use { spend(it, 3) }
        assertEquals(listOf("a", "b"), got)
        listener.close()
        listener.close() // twice is fine
        WfloWorkflow("c", 0.01, engine).use { spend(it, 3) }
        assertEquals(listOf("a", "b"), got)
    }

    @Test
    fun `a throwing callback is logged and the call still settles`() {
        WfloWorkflow("boom", 0.01, engine).use { wf ->
            wf.onThreshold { throw IllegalStateException("the callback's own bug") }
            val (_, records) = logged { spend(wf, 3) }
            assertEquals(3L, wf.breakdown().calls)
            val thrown = records.filter { it.thrown != null }
            assertEquals(1, thrown.size, records.map { it.message }.toString())
            assertEquals(Level.WARNING, thrown[0].level)
            assertEquals("the callback's own bug", thrown[0].thrown.message)
        }
    }

    @Test
    fun `a generated listener or log sink that throws reaches neither the engine nor the caller`() {
        val heard = Collections.synchronizedList(mutableListOf<Long>())
        // The generated interfaces, with nothing of this layer around them: one throws an
        // unexpected exception, one the declared error type.
        engine.native.addAlertListener(object : dev.wflo.ffi.AlertListener {
            override fun onAlert(alert: dev.wflo.ffi.Alert) {
                heard += alert.percent.toLong()
                throw IllegalStateException("the listener's own bug")
            }
        })
        engine.native.addAlertListener(object : dev.wflo.ffi.AlertListener {
            override fun onAlert(alert: dev.wflo.ffi.Alert): Unit =
                throw dev.wflo.ffi.WfloException.Internal("the listener's own error")
        })
        dev.wflo.ffi.setLogSink("debug", object : dev.wflo.ffi.LogSink {
            override fun log(level: dev.wflo.ffi.LogLevel, line: String): Unit = throw IllegalStateException("the sink's own bug")
        })
        WfloWorkflow("raw", 0.01, engine).use { wf ->
            spend(wf, 3)
            assertEquals(3L, wf.breakdown().calls)
        }
        assertEquals(listOf(50L), heard)
    }

    @Test
    fun `the trace id is the traceParent's, else the execution's own`() {
        WfloWorkflow("traced", null, engine, traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").use { wf ->
            assertNull(wf.traceId) // not started
            wf.startBlocking()
            assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", wf.traceId)
            WfloWorkflow("own", null, engine).use { own ->
                own.startBlocking()
                assertTrue(own.traceId!!.matches(Regex("[0-9a-f]{32}")))
                assertNotEquals(wf.traceId, own.traceId)
            }
        }
        assertThrows<InvalidArgumentException> { WfloWorkflow("bad", null, engine, traceParent = "00-nonsense").startBlocking() }
    }

    @Test
    fun `metricsText counts money, calls and refusals, with no execution id`() {
        WfloWorkflow("metered", 0.005, engine).use { wf ->
            spend(wf, 2)
            assertThrows<BudgetExceededException> { spend(wf, 1) }
        }
        val text = engine.metricsText()
        val lines = text.lines()
        assertTrue("""wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.004500000""" in lines, text)
        assertTrue("""wflo_calls_total{model="gpt-4o",provider="openai",status="ok"} 2""" in lines, text)
        assertTrue(lines.any { it.startsWith("""wflo_refusals_total{model="gpt-4o"""") }, text)
        assertFalse("exec-" in text)
    }

    @Test
    fun `events reach the wflo logger at the level routed`() {
        assertEquals("jul", WfloLog.backend)
        assertEquals("info", logEvents("info"))
        val (_, info) = logged {
            WfloWorkflow("logged", 0.003, engine).use { wf -> assertThrows<BudgetExceededException> { spend(wf, 2) } }
        }
        val refused = info.filter { it.message.startsWith("refused:") }
        assertEquals(listOf(Level.INFO), refused.map { it.level })
        assertFalse(info.any { it.message.startsWith("reserved:") }) // debug: not routed
        assertEquals("debug", logEvents("debug"))
        val (_, debug) = logged { WfloWorkflow("debug", null, engine).use { spend(it, 1) } }
        assertEquals(listOf("reserved", "settled"), debug.map { it.message.substringBefore(':') })
        assertEquals(listOf(Level.FINE, Level.FINE), debug.map { it.level })
        assertNull(logEvents(null))
        val (_, off) = logged { WfloWorkflow("off", null, engine).use { spend(it, 1) } }
        assertEquals(emptyList<LogRecord>(), off)
        assertThrows<InvalidArgumentException> { logEvents("loud") }
    }

    @Test
    fun `the observability example hears its alerts, joins its trace and counts its calls`() {
        val (alerts, traceId, metrics) = dev.wflo.examples.observability()
        assertEquals(
            listOf(AlertKind.THRESHOLD to 50, AlertKind.SOFT_BUDGET to 100, AlertKind.THRESHOLD to 80),
            alerts.map { it.kind to it.percent },
        )
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", traceId)
        assertTrue("""wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.009000000""" in metrics.lines())
    }

    @Test
    fun `WFLO_LOG routes the events when the first engine is made`() {
        fun run(level: String?): Pair<Int, String> {
            val java = File(System.getProperty("java.home"), "bin/java").path
            // Surefire names the test classpath in surefire.test.class.path (java.class.path may be its booter jar).
            val cp = System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path")
            val pb = ProcessBuilder(java, "-cp", cp, "dev.wflo.EnvLogMain")
            pb.environment().remove("WFLO_LOG")
            if (level != null) pb.environment()["WFLO_LOG"] = level
            pb.redirectErrorStream(true)
            val p = pb.start()
            val out = p.inputStream.bufferedReader().readText()
            assertTrue(p.waitFor(60, TimeUnit.SECONDS))
            return p.exitValue() to out
        }
        val (loudCode, loud) = run("info")
        assertEquals(0, loudCode, loud)
        assertTrue("refused: call refused before sending" in loud, loud)
        val (silentCode, silent) = run(null)
        assertEquals(0, silentCode, silent)
        assertFalse("refused:" in silent, silent)
        val (badCode, bad) = run("loud")
        assertEquals(0, badCode, bad)
        assertTrue("WFLO_LOG must be off, error, warn, info, debug or trace, not 'loud'" in bad, bad)
        assertFalse("refused:" in bad, bad)
    }
}

/** A program whose only call is refused (run by the WFLO_LOG test in a JVM of its own). */
object EnvLogMain {
    @JvmStatic
    fun main(args: Array<String>) {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("env", 0.001, engine).use { wf ->
                try {
                    wf.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 200)
                } catch (_: BudgetExceededException) {
                    println("refused")
                }
            }
        }
    }
}
