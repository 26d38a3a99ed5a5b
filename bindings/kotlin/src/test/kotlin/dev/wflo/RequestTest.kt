package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Provider requests read by the engine, results settled by it, and how an execution ends. */
class RequestTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    private val chat = mapOf(
        "model" to "gpt-4o-mini",
        "messages" to listOf(mapOf("role" to "user", "content" to "Name three tokenizers.")),
    )

    @Test
    fun `a request is reserved as the engine reads it, and settled from its result`() {
        WfloWorkflow("w", 0.05, engine).use { wf ->
            val (call, body) = wf.reserveRequest("openai_chat", chat)
            // The output limit the reservation covers is written into the body to send.
            val sent = JsonText.parse(body).jsonObject
            assertTrue(sent.getValue("max_completion_tokens").jsonPrimitive.long > 0, body)
            assertEquals(sent, wf.reserveRequest("openai_chat", JsonText.encode(chat, "chat")).also { it.reservation.close() }.bodyJson)
            val settled = call.use {
                it.settleResult("openai_chat", """{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30}}""")
            }
            assertEquals(Usage(input = 12, output = 30), settled.usage)
            assertFalse(settled.estimated)
        }
    }

    @Test
    fun `a result without usage and a bare text are estimated and flagged`() {
        WfloWorkflow("w", 0.05, engine).use { wf ->
            val step = wf.scope("draft")
            val noUsage = step.reserveRequest("openai_chat", chat).reservation.use {
                it.settleResult("openai_chat", """{"choices":[{"message":{"role":"assistant","content":"BPE, WordPiece and Unigram."}}]}""")
            }
            assertTrue(noUsage.estimated && noUsage.usage.output > 0, "$noUsage")
            val text = step.reserveRequest("openai_chat", chat).reservation.use { it.settleText("BPE, WordPiece and Unigram.", "error") }
            assertTrue(text.estimated && text.usage.output > 0, "$text")
            val statuses = wf.calls().map { it.jsonObject.getValue("status").jsonPrimitive.content }
            assertEquals(listOf("ok", "error"), statuses)
            assertEquals(listOf("draft", "draft"), wf.calls().map { it.jsonObject.getValue("step").jsonPrimitive.content })
        }
    }

    @Test
    fun `options name what the body does not, and clamping writes the lower limit`() {
        WfloWorkflow("w", 0.05, engine).use { wf ->
            wf.reserveRequest("openai_chat", chat + ("model" to "grok-4") + ("max_tokens" to 100), RequestOptions(baseUrl = "https://api.x.ai/v1"))
                .reservation.use { it.settleResult("openai_chat", """{"usage":{"prompt_tokens":10,"completion_tokens":5}}""") }
            assertEquals("xai", wf.calls().single().jsonObject.getValue("provider").jsonPrimitive.content)
        }
        WfloWorkflow("w", 0.001, engine).use { wf ->
            val big = chat + ("model" to "gpt-4o") + ("max_tokens" to 100_000)
            assertThrows<BudgetExceededException> { wf.reserveRequest("openai_chat", big) }
            val (call, body) = wf.reserveRequest("openai_chat", big, RequestOptions(clampMaxTokens = true))
            val limit = JsonText.parse(body).jsonObject.getValue("max_tokens").jsonPrimitive.long
            assertTrue(limit in 1 until 100_000, body)
            assertEquals(limit, call.maxOutputTokens)
            call.release("error", "not sent")
        }
        assertThrows<InvalidArgumentException> { WfloWorkflow("w", 1.0, engine).use { it.reserveRequest("no_such_api", chat) } }
    }

    @Test
    fun `the engine chooses the status from the codes along the error's causes`() = runBlocking {
        fun wrapped(inner: Throwable) = IllegalStateException("framework", RuntimeException("middle", inner))
        val refusal = BudgetExceededException("refused", "execution", 1, 0, 0, 2)
        assertEquals(listOf("BUDGET_EXCEEDED"), wfloCodes(wrapped(refusal)))
        assertEquals(listOf("CONFLICT"), wfloCodes(wrapped(ConflictException("c"))))
        assertEquals(emptyList<String>(), wfloCodes(IllegalStateException("foreign")))

        val cases = listOf(
            null to ExecutionStatus.COMPLETED,
            wrapped(refusal) to ExecutionStatus.BUDGET_EXCEEDED,
            wrapped(StorageException("disk")) to ExecutionStatus.FAILED,
            IllegalStateException("foreign") to ExecutionStatus.FAILED,
        )
        for ((error, want) in cases) {
            WfloWorkflow("w", 1.0, engine).use { wf ->
                wf.start()
                assertEquals(want, wf.end(error), "$error")
                assertEquals(want.code, wf.breakdown().status)
                assertNull(wf.end(error), "a second end does nothing")
            }
        }
        // A refusal buried deeper than any fixed depth is still found.
        var deep: Throwable = refusal
        repeat(20) { deep = RuntimeException("layer $it", deep) }
        WfloWorkflow("w", 1.0, engine).use { wf ->
            assertThrows<RuntimeException> { runBlocking { wf.execute { throw deep } } }
            assertEquals("budget_exceeded", wf.breakdown().status)
        }
    }

    @Test
    fun `an execution id can be chosen`() {
        WfloWorkflow("w", 1.0, engine, executionId = "exec-00000000abcd").use { wf ->
            runBlocking { wf.execute { } }
            assertEquals("exec-00000000abcd", wf.executionId)
            assertEquals("completed", engine.execution("exec-00000000abcd")["execution"]!!.jsonObject["status"]!!.jsonPrimitive.content)
            // Only the first execution takes it.
            val second = runBlocking { wf.execute { executionId } }
            assertTrue(second != "exec-00000000abcd" && second!!.startsWith("exec-"), second)
        }
        assertTrue(engine.listExecutions().jsonArray.size >= 2)
    }
}
