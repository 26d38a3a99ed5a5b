package dev.wflo

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.math.BigDecimal
import java.nio.file.Path
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

/**
 * A workflow started with an approval threshold (`approvalAboveUsd`), on a real SQLite file:
 * a call whose worst case passes it stops at the engine's numbered gate until a person decides.
 * The gate, its numbering and the wait are the engine's; these tests check that the Kotlin
 * start option reaches it, that a blocking reserve waits on its thread, that a suspend one
 * never holds its dispatcher, and the typed exceptions.
 */
class ApprovalThresholdTest {
    private companion object {
        // gpt-4o, 100 in, 4000 out: about $0.04 worst case; gpt-4o-mini, 10 in, 20 out: far below $0.001.
        val costly = CallRequest("gpt-4o", inputTokens = 100, maxOutputTokens = 4000)
        val cheap = CallRequest("gpt-4o-mini", inputTokens = 10, maxOutputTokens = 20)
        val threshold = BigDecimal("0.001")
    }

    private fun url(dir: Path) = "sqlite://" + dir.resolve("wflo.db")

    /** The one pending approval of [engine]'s store, once it appears (at most 10 s). */
    private fun pendingOn(engine: Engine): Approval {
        val until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (System.nanoTime() < until) {
            engine.approvals(pendingOnly = true).singleOrNull()?.let { return it }
            Thread.sleep(10)
        }
        throw AssertionError("no pending approval appeared")
    }

    @Test
    fun `a costly call waits for approval from another thread, a cheap one meets no gate, a denied one reserves nothing`(
        @TempDir dir: Path,
    ) {
        Engine.open(url(dir)).use { engine ->
            Engine.open(url(dir)).use { reviewer -> // another process on the same store, in practice
                WfloWorkflow("gated", budgetUsd = 1, engine = engine, approvalAboveUsd = threshold).use { wf ->
                    wf.startBlocking()

                    // Gate 1: the reserving thread blocks until the reviewer approves.
                    val first = CompletableFuture.supplyAsync { wf.reserve(costly) }
                    val asked = pendingOn(reviewer)
                    assertEquals("call #1 over $0.001", asked.gate)
                    assertEquals(wf.executionId, asked.executionId)
                    assertTrue(asked.what.startsWith("a gpt-4o call that may cost up to $"), asked.what)
                    assertTrue(asked.worstCaseNanos!! > 1_000_000L, "${asked.worstCaseNanos}")
                    Thread.sleep(200)
                    assertFalse(first.isDone, "the call went on before anyone decided")
                    assertEquals(0L, wf.breakdown().reservedNanos)
                    reviewer.approve(asked.id, note = "fine", by = "ana")
                    first.get(10, TimeUnit.SECONDS).use { it.settle(Usage(input = 100, output = 50)) }
                    assertEquals(ApprovalStatus.APPROVED, engine.approval(asked.id).status)
                    assertEquals("ana", engine.approval(asked.id).decidedBy)
                    assertEquals(1, wf.calls().size)

                    // Below the threshold: no gate, no approval asked.
                    wf.reserve(cheap).use { it.settle(Usage(input = 10, output = 2)) }
                    assertEquals(1, engine.approvals().size)
                    assertEquals(2, wf.calls().size)

                    // Gate 2: denied from another thread — the typed exception, nothing reserved or recorded.
                    val denier = thread { reviewer.deny(pendingOn(reviewer).id, note = "too big", by = "bo") }
                    val denied = assertThrows<ApprovalDeniedException> { wf.reserve(costly) }
                    denier.join(10_000)
                    assertEquals("call #2 over $0.001", denied.gate)
                    assertEquals("bo", denied.by)
                    assertEquals("too big", denied.note)
                    assertFalse(denied.timedOut)
                    assertTrue(denied.isRefusal)
                    assertEquals(ApprovalStatus.DENIED, engine.approval(denied.id).status)
                    assertEquals(0L, wf.breakdown().reservedNanos)
                    assertEquals(2, wf.calls().size)
                    assertThrows<NotFoundException> { engine.approval("appr-000000000000") }
                }
            }
        }
    }

    @Test
    fun `a suspend call at a gate leaves its single-thread dispatcher free until a person approves`(@TempDir dir: Path) {
        val single = Executors.newSingleThreadExecutor()
        val oneThread = single.submit<Thread> { Thread.currentThread() }.get()
        val dispatcher = single.asCoroutineDispatcher()
        val decided = CountDownLatch(1)
        Engine.open(url(dir)).use { engine ->
            // Should the gate hold the one thread, this denies it after 15 s so the test fails
            // (the call throws) instead of hanging.
            val watchdog = thread(isDaemon = true) {
                if (!decided.await(15, TimeUnit.SECONDS)) {
                    engine.approvals(pendingOnly = true).forEach { engine.deny(it.id, note = "watchdog") }
                }
            }
            WfloWorkflow("gated-async", budgetUsd = 1, engine = engine, approvalAboveUsd = threshold).use { wf ->
                try {
                    runBlocking(dispatcher) {
                        var ticks = 0
                        val ticker = launch {
                            assertTrue(Thread.currentThread() === oneThread)
                            while (true) {
                                ticks++
                                delay(5)
                            }
                        }
                        val call = async { wf.reserveAsync(costly) }
                        // Polled from this dispatcher too: the store read is quick, the wait is a delay.
                        var pending = engine.approvals(pendingOnly = true)
                        while (pending.isEmpty()) {
                            delay(10)
                            pending = engine.approvals(pendingOnly = true)
                        }
                        val before = ticks
                        delay(300)
                        assertFalse(call.isCompleted, "the call went on before anyone decided")
                        assertTrue(ticks > before + 5, "the dispatcher's other coroutine stalled: $before -> $ticks")
                        withContext(Dispatchers.IO) { engine.approve(pending.single().id, by = "ana") }
                        decided.countDown()
                        call.await().use { it.settle(Usage(input = 100, output = 50)) }
                        ticker.cancel()
                    }
                } finally {
                    decided.countDown()
                    watchdog.join(1_000)
                    dispatcher.close()
                }
                assertEquals(1, wf.calls().size)
                assertEquals(ApprovalStatus.APPROVED, engine.approvals().single().status)
            }
        }
    }

    @Test
    fun `an engine that returns pending approvals throws ApprovalPendingException, and the same gate goes through once approved`() {
        Engine.open("memory://").use { engine ->
            engine.native.setApprovalWait(true)
            WfloWorkflow("gated-return", budgetUsd = 1, engine = engine, approvalAboveUsd = threshold).use { wf ->
                val pending = assertThrows<ApprovalPendingException> { wf.reserve(costly) }
                assertEquals("APPROVAL_PENDING", pending.code)
                assertTrue(pending.isRefusal)
                assertEquals("call #1 over $0.001", pending.gate)
                assertTrue(pending.what.startsWith("a gpt-4o call"), pending.what)
                assertEquals(ApprovalStatus.PENDING, engine.approval(pending.id).status)
                assertEquals(0L, wf.breakdown().reservedNanos)
                // Asked again, still pending: the same approval.
                assertEquals(pending.id, assertThrows<ApprovalPendingException> { wf.reserve(costly) }.id)
                engine.approve(pending.id)
                wf.reserve(costly).use { it.settle(Usage(input = 100, output = 50)) }
                assertEquals(1, engine.approvals().size)
                assertEquals(1, wf.calls().size)
            }
        }
        // The generated layer's variant maps to the same class.
        val mapped = fromNative(dev.wflo.ffi.WfloException.ApprovalPending("pending", "appr-0123456789ab", "call #1 over $1", "a call"))
        assertTrue(mapped is ApprovalPendingException && mapped.id == "appr-0123456789ab" && mapped.gate == "call #1 over $1")
    }

    @Test
    fun `the threshold is dollars like the budget, a negative one is refused`() {
        Engine.open("memory://").use { engine ->
            assertThrows<InvalidArgumentException> { WfloWorkflow("bad", engine = engine, approvalAboveUsd = -1) }
            // Whole dollars: a $1 threshold lets the $0.04 call through without a gate.
            WfloWorkflow("whole", engine = engine, approvalAboveUsd = 1).use { wf ->
                wf.reserve(costly).use { it.settle(Usage(input = 100, output = 50)) }
                assertTrue(engine.approvals().isEmpty())
            }
        }
    }
}
