package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * Execution limits (the original SDK's `max_iterations` and `per_agent_budgets`): [WfloWorkflow]'s
 * `maxCalls` refuses the call after the last with [CallLimitException], and `agentBudgetsUsd`
 * gives each agent its own share, charged through [RequestOptions.agent].
 */
class LimitsTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    private fun chat(maxTokens: Int, model: String = "gpt-4o-mini") = mapOf(
        "model" to model,
        "messages" to listOf(mapOf("role" to "user", "content" to "Research the market.")),
        "max_tokens" to maxTokens,
    )

    private fun WfloWorkflow.steps() = calls().map {
        it.jsonObject.getValue("step").jsonPrimitive.content + "=" + it.jsonObject.getValue("status").jsonPrimitive.content
    }

    @Test
    fun `the call after maxCalls is refused with CallLimitException, nothing reserved`() = runBlocking {
        WfloWorkflow("capped", 1, engine, maxCalls = 2).use { wf ->
            wf.start()
            repeat(2) { wf.reserveRequest("openai_chat", chat(50)).reservation.use { it.settle(Usage(input = 10, output = 5)) } }
            val e = assertThrows<CallLimitException> { wf.reserveRequest("openai_chat", chat(50)) }
            assertEquals("CALL_LIMIT", e.code)
            assertEquals(2L, e.maxCalls)
            assertEquals(wf.executionId, e.execution)
            assertTrue(e.isRefusal)
            // The suspend path (off the caller's thread) and the hot path are capped alike.
            assertThrows<CallLimitException> { runBlocking { wf.reserveRequestAsync("openai_chat", JsonText.encode(chat(50), "chat")) } }
            assertThrows<CallLimitException> { wf.reserve(CallRequest("gpt-4o-mini", inputTokens = 10, maxOutputTokens = 10)) }
            val b = wf.breakdown()
            assertEquals(0L, b.reservedNanos)
            assertEquals(3L, b.refusedCalls)
            assertEquals(ExecutionStatus.FAILED, wf.end(RuntimeException("the agent loop stopped", e)))
        }
    }

    @Test
    fun `a refusal for another reason does not use up the cap, and a resumed execution counts its calls`(@TempDir dir: Path) {
        Engine.open(dir.resolve("w.db").toString()).use { file ->
            val id = WfloWorkflow("resumed", 1, file, maxCalls = 2).use { wf ->
                wf.reserveRequest("openai_chat", chat(50)).reservation.use { it.settle(Usage(input = 10, output = 5)) }
                assertThrows<BudgetExceededException> { wf.reserveRequest("openai_chat", chat(200_000, "gpt-4o")) }
                runBlocking { wf.finish() }
                wf.executionId!!
            }
            WfloWorkflow.resume(id, file).use { wf ->
                wf.reserveRequest("openai_chat", chat(50)).reservation.use { it.settle(Usage(input = 10, output = 5)) }
                assertThrows<CallLimitException> { wf.reserveRequest("openai_chat", chat(50)) }
                assertEquals(listOf("=ok", "=refused", "=ok", "=refused"), wf.steps())
            }
        }
    }

    @Test
    fun `the agent over its share is refused while another agent goes on`() {
        // gpt-4o-mini's output is $0.60 per million tokens: a 1,000-token call holds about
        // $0.0006 and, settled at 900 tokens (no overrun), spends $0.00054.
        WfloWorkflow("agents", 1, engine, agentBudgetsUsd = mapOf("researcher" to "0.001".toBigDecimal(), "critic" to 0.5)).use { wf ->
            val researcher = RequestOptions(agent = "researcher")
            wf.reserveRequest("openai_chat", chat(1000), researcher).reservation.use { it.settle(Usage(input = 10, output = 900)) }
            val e = assertThrows<BudgetExceededException> { wf.reserveRequest("openai_chat", chat(1000), researcher) }
            assertEquals("agent:researcher", e.scope)
            assertEquals(1_000_000L, e.limitNanos)
            // The writer has no share of its own: the execution's budget is its limit.
            repeat(3) {
                wf.reserveRequest("openai_chat", chat(1000), RequestOptions(agent = "writer"))
                    .reservation.use { it.settle(Usage(input = 10, output = 900)) }
            }
            assertEquals(
                listOf("agent:researcher=ok", "agent:researcher=refused", "agent:writer=ok", "agent:writer=ok", "agent:writer=ok"),
                wf.steps(),
            )
            assertEquals(0L, wf.breakdown().reservedNanos)
        }
    }

    @Test
    fun `the execution's budget still limits an agent with a larger share`() {
        WfloWorkflow("outer", "0.0005".toBigDecimal(), engine, agentBudgetsUsd = mapOf("researcher" to 10)).use { wf ->
            val e = assertThrows<BudgetExceededException> {
                wf.reserveRequest("openai_chat", chat(1000), RequestOptions(agent = "researcher"))
            }
            assertEquals(wf.executionId, e.scope)
        }
    }

    @Test
    fun `bad limits are refused when the workflow is made`() {
        assertThrows<InvalidArgumentException> { WfloWorkflow("bad", engine = engine, maxCalls = -1) }
        assertThrows<InvalidArgumentException> { WfloWorkflow("bad", engine = engine, agentBudgetsUsd = mapOf("a" to -1)) }
        val mapped = fromNative(dev.wflo.ffi.WfloException.CallLimit("capped", "exec-0123456789ab", 3uL))
        assertTrue(mapped is CallLimitException && mapped.maxCalls == 3L && mapped.execution == "exec-0123456789ab")
    }
}
