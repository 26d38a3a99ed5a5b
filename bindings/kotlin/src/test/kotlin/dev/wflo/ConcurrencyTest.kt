package dev.wflo

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.yield
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

/** Executions run side by side on one engine without seeing each other's calls, steps or state. */
class ConcurrencyTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    @Test
    fun `coroutines with their own executions do not mix`() = runBlocking {
        val agents = 8
        val calls = 40
        val workflows = (1..agents).map { i ->
            async(Dispatchers.Default) {
                val wf = WfloWorkflow("agent-$i", budgetUsd = 1.0, engine = engine)
                wf.execute {
                    repeat(calls) {
                        step("step-$i") {
                            // The context carries this coroutine's own workflow and step.
                            assertSame(wf, currentWorkflow())
                            assertEquals("step-$i", currentScope()?.label)
                            reserve(model = "gpt-4o-mini", inputTokens = 100L * i, maxOutputTokens = 50).use {
                                it.settle(Usage(input = 100L * i, output = 10))
                            }
                        }
                        yield() // let the other agents interleave
                    }
                    checkpoint("done", mapOf("agent" to i))
                }
                wf
            }
        }.awaitAll()

        assertEquals(agents, workflows.map { it.executionId }.toSet().size)
        workflows.forEachIndexed { index, wf ->
            val i = index + 1
            val b = wf.breakdown()
            assertEquals(calls.toLong(), b.calls, "agent $i")
            assertEquals(calls * engine.cost("gpt-4o-mini", Usage(input = 100L * i, output = 10)), b.totalNanos, "agent $i")
            assertEquals(listOf("step-$i"), b.byStep.map { it.step }, "agent $i")
            assertEquals(JsonPrimitive(i), wf.latestCheckpoint()!!.jsonObject["agent"])
            assertEquals("completed", b.status)
            wf.close()
        }
        assertNull(currentWorkflow(), "nothing leaks into the caller's context")
    }

    @Test
    fun `threads on one execution never overspend its budget`() {
        // Each reservation holds gpt-4o-mini's worst case for 1,000 in + 1,000 out; the budget
        // holds exactly ten of them. Eight threads race for it without settling.
        val worst = engine.cost("gpt-4o-mini", Usage(input = 1000, output = 1000))
        WfloWorkflow("race", budgetUsd = java.math.BigDecimal(worst * 10).movePointLeft(9), engine = engine).use { wf ->
            wf.startBlocking()
            val granted = AtomicInteger()
            val refused = AtomicInteger()
            val held = java.util.concurrent.ConcurrentLinkedQueue<Reservation>()
            val go = CountDownLatch(1)
            val threads = (1..8).map {
                thread {
                    go.await()
                    repeat(5) {
                        try {
                            held += wf.reserve(model = "gpt-4o-mini", inputTokens = 1000, maxOutputTokens = 1000)
                            granted.incrementAndGet()
                        } catch (e: BudgetExceededException) {
                            refused.incrementAndGet()
                        }
                    }
                }
            }
            go.countDown()
            threads.forEach { it.join() }
            assertEquals(10, granted.get())
            assertEquals(30, refused.get())
            assertEquals(10 * worst, wf.breakdown().reservedNanos)
            held.forEach { it.release("aborted") }
            assertEquals(0L, wf.breakdown().reservedNanos)
            assertEquals(30L, wf.breakdown().refusedCalls)
        }
    }

    @Test
    fun `launched coroutines inherit their step, siblings keep theirs`() = runBlocking {
        val wf = WfloWorkflow("nested", budgetUsd = 1.0, engine = engine)
        wf.execute {
            step("outer") {
                val jobs = listOf("a", "b").map { name ->
                    launch(Dispatchers.Default) {
                        step(name) {
                            assertEquals(name, currentScope()?.label)
                            val scope = currentBudgetScope()!!
                            scope.reserve(model = "gpt-4o-mini", inputTokens = 10, maxOutputTokens = 10)
                                .use { it.settle(Usage(input = 10, output = 1)) }
                        }
                    }
                }
                jobs.forEach { it.join() }
                assertEquals("outer", currentScope()?.label)
                withContext(Dispatchers.IO) { assertEquals("outer", currentScope()?.label) }
            }
        }
        val steps = wf.breakdown().byStep.associate { it.step to it.calls }
        // Sub-steps are billed under their own labels, each with its own call.
        assertEquals(1L, steps["a"], "$steps")
        assertEquals(1L, steps["b"], "$steps")
        assertTrue(wf.breakdown().calls == 2L)
        wf.close()
    }

    @Test
    fun `closing a workflow while threads reserve on it fails them cleanly`() {
        val wf = WfloWorkflow("closing", budgetUsd = 100.0, engine = engine).startBlocking()
        val closedSeen = AtomicInteger()
        val otherErrors = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
        val go = CountDownLatch(1)
        val threads = (1..4).map {
            thread {
                go.await()
                while (true) {
                    try {
                        wf.reserve(model = "gpt-4o-mini", inputTokens = 10, maxOutputTokens = 10).use { it.settle(Usage(input = 10)) }
                    } catch (e: ClosedException) {
                        closedSeen.incrementAndGet()
                        break
                    } catch (e: Throwable) {
                        otherErrors += e
                        break
                    }
                }
            }
        }
        go.countDown()
        Thread.sleep(50)
        wf.close() // frees the execution handle only once no reserve is using it
        threads.forEach { it.join(10_000) }
        assertEquals(emptyList<Throwable>(), otherErrors.toList())
        assertEquals(4, closedSeen.get())
    }

    @Test
    fun `a reservation dropped without closing is released by the garbage collector`() {
        WfloWorkflow("dropped", budgetUsd = 1.0, engine = engine).use { wf ->
            fun leak() {
                wf.reserve(model = "gpt-4o", inputTokens = 1000, maxOutputTokens = 100) // never settled or closed
            }
            leak()
            assertEquals(3_500_000L, wf.breakdown().reservedNanos)
            val deadline = System.nanoTime() + 10_000_000_000L
            while (wf.breakdown().reservedNanos != 0L && System.nanoTime() < deadline) {
                System.gc()
                Thread.sleep(20)
            }
            assertEquals(0L, wf.breakdown().reservedNanos, "the cleaner should have released it")
            assertEquals("aborted", wf.calls().single().jsonObject["status"].toString().trim('"'))
        }
    }
}
