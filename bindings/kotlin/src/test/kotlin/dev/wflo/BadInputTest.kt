package dev.wflo

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.math.BigDecimal

/** Bad input fails with the typed exception and its stable code, never a crash or a silent $0. */
class BadInputTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    @Test
    fun `a negative budget is refused`() {
        val e = assertThrows<InvalidArgumentException> { WfloWorkflow("w", budgetUsd = -1.0, engine = engine) }
        assertEquals("INVALID_ARGUMENT", e.code)
        assertThrows<InvalidArgumentException> { WfloWorkflow("w", budgetUsd = BigDecimal("-0.01"), engine = engine) }
        assertThrows<InvalidArgumentException> { WfloWorkflow("w", budgetUsd = -5, engine = engine) }
        assertThrows<InvalidArgumentException> { WfloWorkflow("w", budgetUsd = Double.NaN, engine = engine) }
    }

    @Test
    fun `an exact budget keeps every nano`() {
        assertEquals(10_000_001L, WfloWorkflow("w", BigDecimal("0.010000001"), engine).budgetNanos)
        assertEquals(3_000_000_000L, WfloWorkflow("w", 3, engine).budgetNanos)
        assertEquals(2_500_000_000L, Usd.parse("$2.50"))
    }

    @Test
    fun `malformed usage JSON is an invalid argument and leaves the reservation held`() {
        assertEquals("INVALID_ARGUMENT", assertThrows<WfloException> { parseUsage("{not json", "openai_chat") }.code)
        assertThrows<InvalidArgumentException> { parseUsage("""{"usage":{"prompt_tokens":-5}}""", "openai_chat") }
        assertThrows<InvalidArgumentException> { parseUsage("{}", "no_such_format") }

        WfloWorkflow("w", 1.0, engine).use { wf ->
            val call = wf.reserve(model = "gpt-4o-mini", inputTokens = 10, maxOutputTokens = 10)
            assertThrows<InvalidArgumentException> { call.settleJson("openai_chat", "[1, 2") }
            assertFalse(call.isEnded)
            assertTrue(wf.breakdown().reservedNanos > 0, "still held for a retry")
            val s = call.settleJson("openai_chat", """{"usage":{"prompt_tokens":10,"completion_tokens":5}}""")
            assertEquals(Usage(input = 10, output = 5), s.usage)
            assertEquals(0L, wf.breakdown().reservedNanos)
        }
    }

    @Test
    fun `an unknown model is refused with suggestions`() {
        val e = assertThrows<UnknownModelException> { engine.cost("gpt-4o-mini-typo", Usage(input = 1)) }
        assertEquals("UNKNOWN_MODEL", e.code)
        assertEquals("gpt-4o-mini-typo", e.model)
        assertTrue(e.suggestions.isNotEmpty() && e.suggestions.size <= 3, "${e.suggestions}")
        assertTrue(e.suggestions.any { it.startsWith("gpt-4o") }, "${e.suggestions}")

        // Under a budget an unpriced model cannot be reserved: its worst case is unknown.
        WfloWorkflow("w", 1.0, engine).use { wf ->
            assertThrows<UnknownModelException> { wf.reserve(model = "no-such-model-xyz", inputTokens = 10) }
        }
    }

    @Test
    fun `blank names and negative counts are refused before the engine`() {
        assertThrows<InvalidArgumentException> { WfloWorkflow("  ", engine = engine) }
        WfloWorkflow("w", 1.0, engine).use { wf ->
            assertThrows<InvalidArgumentException> { wf.reserve(model = "", inputTokens = 1) }
            assertThrows<InvalidArgumentException> { wf.reserve(model = "gpt-4o", inputTokens = -1) }
            assertThrows<InvalidArgumentException> { wf.scope("") }
            assertThrows<InvalidArgumentException> { runBlocking { wf.checkpoint("", 1) } }
            assertThrows<InvalidArgumentException> { runBlocking { wf.checkpoint("x", Double.NaN) } }
            assertThrows<InvalidArgumentException> { runBlocking { wf.checkpoint("x", Any()) } }
        }
        assertThrows<InvalidArgumentException> { engine.cost("gpt-4o", Usage(output = -3)) }
    }

    @Test
    fun `settling twice is a conflict`() {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            val call = wf.reserve(model = "gpt-4o-mini", inputTokens = 10, maxOutputTokens = 10)
            call.settle(Usage(input = 10, output = 10))
            assertEquals("CONFLICT", assertThrows<ConflictException> { call.settle(Usage(input = 1)) }.code)
            assertThrows<ConflictException> { call.release() }
            assertEquals(1L, wf.breakdown().calls)
        }
    }

    @Test
    fun `a rollback to a checkpoint that does not exist is not found`() = runBlocking {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.start()
            assertEquals("NOT_FOUND", assertThrows<NotFoundException> { runBlocking { wf.rollbackToCheckpoint("nope") } }.code)
        }
    }

    @Test
    fun `a closed workflow or engine says so`() {
        val wf = WfloWorkflow("w", 1.0, engine)
        assertThrows<ClosedException> { wf.breakdown() } // not started yet
        val step = wf.scope("s")
        wf.close()
        wf.close() // twice is fine
        assertEquals("CLOSED", assertThrows<ClosedException> { wf.reserve(model = "gpt-4o", inputTokens = 1) }.code)
        assertThrows<ClosedException> { step.reserve(model = "gpt-4o", inputTokens = 1) }

        val other = Engine.open("memory://")
        other.close()
        other.close()
        assertThrows<ClosedException> { other.countTokens("gpt-4o", "hi") }
    }

    @Test
    fun `every error kind is one sealed family`() {
        val wf = WfloWorkflow("w", 0.000001, engine)
        val e: WfloException = assertThrows<BudgetExceededException> {
            wf.reserve(model = "gpt-4o", inputTokens = 1000, maxOutputTokens = 1000)
        }
        val kind = when (e) {
            is BudgetExceededException -> "budget ${e.spentUsd} ${e.budgetUsd} ${e.requestedUsd} ${e.remainingUsd}"
            is UnknownModelException, is InvalidArgumentException, is NotFoundException, is ConflictException,
            is StorageException, is ClosedException, is InternalException, is CircuitOpenException,
            is ResourceBusyException, is ApprovalDeniedException, is ApprovalPendingException,
            is CallLimitException -> "other"
        }
        // 1,000 × $2.50/M + 1,000 × $10/M = $0.0125 asked of a $0.000001 budget.
        assertEquals("budget 0.0 1.0E-6 0.0125 1.0E-6", kind)
        assertEquals(wf.executionId, (e as BudgetExceededException).scope) // the execution's own scope
        wf.close()
    }
}
