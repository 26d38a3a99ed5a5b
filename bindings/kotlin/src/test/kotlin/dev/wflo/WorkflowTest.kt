package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** The idiomatic layer: executions, steps, calls, streams, checkpoints, resume, the bill. */
class WorkflowTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    private val openAiBody = """{"usage":{"prompt_tokens":1000,"completion_tokens":200,"prompt_tokens_details":{"cached_tokens":400}}}"""

    @Test
    fun `prices, costs and token counts`() {
        val p = engine.price("openai/gpt-4o-2024-08-06")
        assertEquals("gpt-4o-2024-08-06", p.resolved)
        assertEquals(2_500_000L, p.input) // pico-USD per token: $2.50 per million
        assertEquals(10_000_000L, p.output)
        // 1,000 in at $2.50/M + 200 out at $10/M = $0.0045.
        assertEquals(4_500_000L, engine.cost("gpt-4o", Usage(input = 1000, output = 200)))
        assertEquals(0.0045, engine.costUsd("gpt-4o", Usage(input = 1000, output = 200)), 1e-12)

        val count = engine.countTokens("gpt-4o", "Hello, world!")
        assertEquals(TokenCount(4, "o200k_base", false), count)
        assertEquals(4L, engine.countTokens("gpt-4", "Hello, world!").tokens)
        assertTrue(engine.countTokens("claude-sonnet-4-5", "Hello, world!").estimated)
        // The cookbook formula: 3 per message + content + 3 for the reply priming.
        val chat = engine.countChatTokens("gpt-4o", listOf(mapOf("role" to "user", "content" to "Hello, world!")))
        assertEquals(3 + 1 + 4 + 3L, chat.tokens)
        assertTrue(wfloVersion().matches(Regex("""\d+\.\d+\.\d+.*""")))
    }

    @Test
    fun `parseUsage reads every provider, auto-detected`() {
        assertEquals(Usage(input = 600, cacheRead = 400, output = 200), parseUsage(openAiBody))
        val anthropic = """{"usage":{"input_tokens":50,"cache_read_input_tokens":10,"cache_creation_input_tokens":5,"output_tokens":7}}"""
        assertEquals(Usage(input = 50, cacheRead = 10, cacheWrite5m = 5, output = 7), parseUsage(anthropic, "anthropic"))
        assertEquals(parseUsage(anthropic, "anthropic"), parseUsage(anthropic))
    }

    @Test
    fun `a tracked call reserves its worst case, then settles the actual cost`() {
        WfloWorkflow("w", 0.05, engine).use { wf ->
            val call = wf.reserve(model = "gpt-4o", inputTokens = 1000, maxOutputTokens = 500)
            // Worst case: 1,000 × $2.50/M + 500 × $10/M = $0.0075, held until settled.
            assertEquals(7_500_000L, call.amountNanos)
            assertEquals(500L, call.maxOutputTokens)
            assertEquals(7_500_000L, wf.breakdown().reservedNanos)
            val s = call.use { it.settleJson("openai_chat", openAiBody) }
            // 600 × $2.50/M + 400 cached × $1.25/M + 200 × $10/M = $0.004
            assertEquals(4_000_000L, s.costNanos)
            assertEquals(7_500_000L, s.reservedNanos)
            assertEquals(0L, s.overrunNanos)
            assertEquals(1L, s.seq)
            val b = wf.breakdown()
            assertEquals(0L, b.reservedNanos)
            assertEquals(4_000_000L, b.totalNanos)
            assertEquals(46_000_000L, b.remainingNanos)
            assertEquals(listOf("gpt-4o"), b.byModel.map { it.model })
            assertEquals(Usage(input = 600, cacheRead = 400, output = 200), b.usage)
        }
    }

    @Test
    fun `use releases a reservation when its block throws, and aborts an unsettled one`() {
        WfloWorkflow("w", 0.05, engine).use { wf ->
            assertThrows<IllegalStateException> {
                wf.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 100).use { error("provider down") }
            }
            wf.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 100).use { /* never settled */ }
            val b = wf.breakdown()
            assertEquals(0L, b.reservedNanos)
            assertEquals(0L, b.totalNanos)
            val statuses = wf.calls().map { it.jsonObject["status"]!!.jsonPrimitive.content }
            assertEquals(listOf("error", "aborted"), statuses)
        }
    }

    @Test
    fun `steps carry their own budgets and are billed separately`() = runBlocking {
        val wf = WfloWorkflow("w", 1.0, engine)
        wf.execute {
            step("cheap", budgetUsd = 0.001) {
                // $0.0075 worst case > the step's $0.001: refused by the step, not the execution.
                val e = assertThrows<BudgetExceededException> {
                    reserve(model = "gpt-4o", inputTokens = 1000, maxOutputTokens = 500)
                }
                assertEquals("cheap", e.scope)
                assertEquals(0.001, e.budgetUsd, 1e-12)
                assertEquals(0.0075, e.requestedUsd, 1e-12)
                reserve(model = "gpt-4o-mini", inputTokens = 100, maxOutputTokens = 100).use { it.settle(Usage(input = 100, output = 100)) }
            }
            step("research") { recordCall("gpt-4o", Usage(input = 1000)) }
        }
        val b = wf.breakdown()
        val byStep = b.byStep.associateBy { it.step }
        assertEquals(1_000_000L, byStep.getValue("cheap").budgetNanos)
        assertEquals(1L, byStep.getValue("cheap").refused)
        assertEquals(engine.cost("gpt-4o-mini", Usage(input = 100, output = 100)), byStep.getValue("cheap").costNanos)
        assertEquals(2_500_000L, byStep.getValue("research").costNanos)
        assertEquals(2L, b.calls)
        assertEquals(1L, b.refusedCalls)
        assertEquals("completed", b.status)
        wf.close()
    }

    @Test
    fun `clamping lowers max_tokens to what the budget allows`() {
        WfloWorkflow("w", 0.001, engine).use { wf ->
            val call = wf.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 4000, clampMaxTokens = true)
            // $0.001 − 100 × $2.50/M = $0.00075 of output at $10/M: 75 tokens.
            assertEquals(75L, call.maxOutputTokens)
            assertTrue(call.amountNanos <= 1_000_000L)
            call.release()
        }
    }

    @Test
    fun `a stream settles from its usage, or is estimated when cut`() {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            val full = Stream("openai_chat").use { s ->
                s.push("""{"choices":[{"delta":{"content":"Hello"}}]}""")
                s.push("""{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}""")
                s.push("[DONE]")
                assertEquals(Usage(input = 12, output = 3), s.state().usage)
                wf.reserve(model = "gpt-4o-mini", inputTokens = 12, maxOutputTokens = 100, stream = true).use { it.settleStream(s) }
            }
            assertFalse(full.estimated)
            assertEquals(Usage(input = 12, output = 3), full.usage)

            val cut = Stream("openai_chat").use { s ->
                s.push("""{"choices":[{"delta":{"content":"Hello there, general Kenobi"}}]}""")
                assertNull(s.state().usage)
                assertEquals("Hello there, general Kenobi", s.state().text)
                wf.reserve(model = "gpt-4o-mini", inputTokens = 12, maxOutputTokens = 100, stream = true).use { it.settleStream(s, "aborted") }
            }
            assertTrue(cut.usageMissing && cut.estimated)
            assertTrue(cut.usage.output > 0, "a cut stream is never free: ${cut.usage}")
            assertEquals(1L, wf.breakdown().estimatedCalls)
        }
    }

    @Test
    fun `checkpoints save state, a rollback returns it and supersedes later ones`() = runBlocking {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.start()
            assertNull(wf.latestCheckpoint())
            val first = wf.checkpoint("plan", mapOf("step" to 1, "items" to listOf("a", null, true)))
            assertEquals("plan", first.name)
            assertEquals(1L, first.sequence)
            wf.recordCall("gpt-4o", Usage(input = 1000))
            val second = wf.checkpoint("draft", "text state")
            assertEquals(2_500_000L, second.spentNanos)
            assertEquals(first.id, second.parentId)

            val state = wf.rollbackToCheckpoint("plan")
            assertEquals(JsonPrimitive(1), state.jsonObject["step"])
            assertEquals(listOf(JsonPrimitive("a"), JsonNull, JsonPrimitive(true)), state.jsonObject["items"]!!.jsonArray.toList())
            assertEquals(state, wf.latestCheckpoint())
            val all = wf.checkpoints()
            assertEquals(listOf("plan" to false, "draft" to true), all.map { it.name to it.superseded })
            // Money spent since the checkpoint stays spent.
            assertEquals(2_500_000L, wf.breakdown().totalNanos)
        }
    }

    @Test
    fun `execute ends the execution by how the block ended`() = runBlocking {
        val failed = WfloWorkflow("w", 1.0, engine)
        assertThrows<IllegalArgumentException> { runBlocking { failed.execute { throw IllegalArgumentException("boom") } } }
        assertEquals("failed", failed.breakdown().status)
        assertFalse(failed.isRunning)

        val refused = WfloWorkflow("w", 0.0001, engine)
        val e = assertThrows<RuntimeException> {
            runBlocking {
                refused.execute {
                    try {
                        reserve(model = "gpt-4o", inputTokens = 10_000)
                    } catch (e: BudgetExceededException) {
                        throw RuntimeException("a framework wrapped it", e) // the cause is found
                    }
                }
            }
        }
        // (kotlinx.coroutines may wrap it once more to recover the stack trace: walk the chain.)
        assertTrue(generateSequence<Throwable>(e) { it.cause }.any { it is BudgetExceededException }, "$e")
        assertEquals("budget_exceeded", refused.breakdown().status)

        // Each execute is a new execution.
        val wf = WfloWorkflow("twice", 1.0, engine)
        val one = wf.execute { executionId }
        val two = wf.execute { executionId }
        assertNotEquals(one, two)
        assertTrue(one!!.startsWith("exec-") && one.length == 17, one)
        listOf(failed, refused, wf).forEach { it.close() }
    }

    @Test
    fun `a stored execution resumes with its spend and checkpoints`(@TempDir dir: Path) = runBlocking {
        val url = "sqlite://" + dir.resolve("wflo.db")
        val id = Engine.open(url).use { store ->
            val wf = WfloWorkflow("resumable", 0.5, store)
            wf.start()
            wf.recordCall("gpt-4o", openAiBody, "openai_chat")
            wf.checkpoint("half", mapOf("next" to "write"))
            wf.close() // the process "crashes" here: the execution is still running in the store
            wf.executionId!!
        }
        Engine.open(url).use { store ->
            val wf = WfloWorkflow.resume(id, store)
            assertEquals("resumable", wf.name)
            assertEquals(500_000_000L, wf.budgetNanos)
            assertEquals(id, wf.executionId)
            assertEquals("write", wf.latestCheckpoint()!!.jsonObject["next"]!!.jsonPrimitive.content)
            assertEquals(4_000_000L, wf.breakdown().totalNanos)
            wf.finish()
            assertEquals("completed", store.execution(id)["execution"]!!.jsonObject["status"]!!.jsonPrimitive.content)
            assertEquals(id, store.listExecutions(5).first().jsonObject["id"]!!.jsonPrimitive.content)
            wf.close()
        }
    }

    @Test
    fun `shared scopes bound every execution that draws from them`() {
        engine.defineSharedScope("team", limitUsd = 0.01)
        val a = WfloWorkflow("a", engine = engine, sharedScopes = listOf("team"))
        val b = WfloWorkflow("b", engine = engine, sharedScopes = listOf("team"))
        a.recordCall("gpt-4o", Usage(input = 3000)) // $0.0075 of the team's $0.01
        val e = assertThrows<BudgetExceededException> { b.reserve(model = "gpt-4o", inputTokens = 1000, maxOutputTokens = 100) }
        assertEquals("team", e.scope)
        assertEquals(7_500_000L, e.spentNanos)
        assertEquals(7_500_000L, engine.sharedScope("team")["spent_nanos"]!!.jsonPrimitive.content.toLong())
        a.close()
        b.close()
    }

    @Test
    fun `a shared scope keeps how it is served, allowances unless told otherwise`() {
        engine.defineSharedScope("fleet", limitUsd = 1)
        assertEquals("true", engine.sharedScope("fleet")["allowances"]!!.jsonPrimitive.content)
        engine.defineSharedScope("fleet", limitUsd = 2, allowances = false)
        assertEquals("false", engine.sharedScope("fleet")["allowances"]!!.jsonPrimitive.content)
        engine.defineSharedScope("fleet", limitUsd = 3)
        assertEquals("false", engine.sharedScope("fleet")["allowances"]!!.jsonPrimitive.content, "kept")
        assertEquals(3_000_000_000L, engine.sharedScope("fleet")["limit_nanos"]!!.jsonPrimitive.content.toLong())
    }

    @Test
    fun `an override price applies to the engine that set it`() {
        engine.setPrices("""{"models":[{"name":"my-model","input":1000000,"output":2000000}]}""")
        // Prices are pico-USD per token: 1,000,000 + 2,000,000 pico = 3,000 nano-USD.
        assertEquals(3_000L, engine.cost("my-model", Usage(input = 1, output = 1)))
        assertThrows<UnknownModelException> { Engine.open("memory://").use { it.cost("my-model", Usage(input = 1)) } }
    }

    @Test
    fun `the C hot path and the UniFFI objects share one loaded library`() {
        val maps = java.io.File("/proc/self/maps")
        org.junit.jupiter.api.Assumptions.assumeTrue(maps.exists(), "Linux only")
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.reserve(model = "gpt-4o", inputTokens = 10).use { it.settle(Usage(input = 10)) } // C ABI
            wf.recordCall("gpt-4o", Usage(input = 10)) // UniFFI
            assertEquals(2L, wf.breakdown().calls)
        }
        // Two copies would each have their own globals (price table, thread-local errors).
        val copies = maps.readLines().map { it.substringAfterLast(' ') }
            .filter { it.endsWith("libwflo.so") || (it.contains("/jna") && it.endsWith(".tmp")) }
            .toSet()
        assertEquals(1, copies.size, "$copies")
    }
}
