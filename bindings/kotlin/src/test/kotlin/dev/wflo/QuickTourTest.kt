package dev.wflo

import dev.wflo.examples.quickTour
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.ByteArrayOutputStream
import java.io.File
import java.io.PrintStream

/** examples/kotlin/QuickTour.kt, the README's Kotlin snippet, run and checked. */
class QuickTourTest {
    @Test
    fun `the quick tour runs and its figures add up`() = runBlocking {
        val out = ByteArrayOutputStream()
        val stdout = System.out
        System.setOut(PrintStream(out, true, "UTF-8"))
        val (b, settled) = try {
            quickTour()
        } finally {
            System.setOut(stdout)
        }
        val lines = out.toString("UTF-8").lines()

        // gpt-4o-mini: 21 prompt tokens at $0.15/M + 180 output tokens at $0.60/M.
        assertEquals(111_150L, settled.costNanos)
        assertEquals(Usage(input = 21, output = 180), settled.usage)
        assertEquals("call cost $0.00011115", lines[0])
        // The refused call never cost anything, and nothing stays reserved.
        assertTrue(lines[1].startsWith("refused: needs up to $"), lines[1])
        assertEquals("rolled back to {\"papers\":[\"a\",\"b\",\"c\"]}", lines[2])
        assertEquals(1L, b.calls)
        assertEquals(1L, b.refusedCalls)
        assertEquals(0L, b.reservedNanos)
        assertEquals(settled.costNanos, b.totalNanos)
        assertEquals(10_000_000L, b.budgetNanos)
        assertEquals("completed", b.status)
        assertEquals(listOf("search", "write"), b.byStep.map { it.step }.sorted())
        assertEquals("total $0.00011115 of $0.01, 1 call(s), 1 refused", lines[3])
    }

    @Test
    fun `the tour has its snippet markers`() {
        val dir = File(System.getProperty("wflo.examples.dir") ?: "../../examples/kotlin")
        val text = File(dir, "QuickTour.kt").readText()
        val start = text.indexOf("// tour:start")
        val end = text.indexOf("// tour:end")
        assertTrue(start in 0 until end, "tour markers missing or out of order")
    }
}
