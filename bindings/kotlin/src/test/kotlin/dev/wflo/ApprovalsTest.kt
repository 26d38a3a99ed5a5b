package dev.wflo

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.math.BigDecimal
import java.nio.file.Path
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Approval gates through the idiomatic layer: the records, decisions and timeouts are the
 * engine's (kept in its store); these tests check the Kotlin types, the coroutine wait and the
 * typed exception. Timeouts are at most 200 ms, except a wait another engine ends.
 */
class ApprovalsTest {
    @Test
    fun `an awaited gate approved from another engine on the same SQLite file lets the workflow go on`(@TempDir dir: Path): Unit = runBlocking {
        val url = "sqlite://" + dir.resolve("wflo.db")
        Engine.open(url).use { mine ->
            Engine.open(url).use { theirs ->
                WfloWorkflow("publisher", engine = mine).use { wf ->
                    wf.start()
                    val waiting = async(Dispatchers.Default) {
                        wf.requireApproval("publish", why = "emails customers", worstCaseUsd = BigDecimal("0.25"))
                    }
                    // The other engine (another process, in practice) finds it pending and approves it.
                    val pending = withTimeout(5.seconds) {
                        var found = theirs.approvals(pendingOnly = true)
                        while (found.isEmpty()) {
                            delay(10)
                            found = theirs.approvals(pendingOnly = true)
                        }
                        found.single()
                    }
                    assertEquals("publish", pending.gate)
                    assertEquals("run publish", pending.what)
                    assertEquals(250_000_000L, pending.worstCaseNanos)
                    assertEquals(wf.executionId, pending.executionId)
                    assertEquals(ApprovalStatus.PENDING, pending.status)
                    val decided = theirs.approve(pending.id, note = "checked the copy", by = "ana")
                    assertEquals(ApprovalStatus.APPROVED, decided.status)
                    val approved = withTimeout(5.seconds) { waiting.await() }
                    assertEquals(pending.id, approved.id)
                    assertEquals(ApprovalStatus.APPROVED, approved.status)
                    assertEquals("ana", approved.decidedBy)
                    assertEquals("checked the copy", approved.note)
                    assertTrue(theirs.approvals(pendingOnly = true).isEmpty())
                    assertEquals(listOf(pending.id), theirs.approvals().map { it.id })
                    // Deciding twice is a conflict.
                    assertThrows<ConflictException> { theirs.deny(pending.id) }
                }
            }
        }
    }

    @Test
    fun `a denied gate throws ApprovalDeniedException with who denied it and their note`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("cleaner", engine = engine).use { wf ->
                val asked = wf.requestApproval("delete-index", why = "drops the search index")
                assertEquals(ApprovalStatus.PENDING, asked.status)
                engine.deny(asked.id, note = "not on a Friday", by = "bo")
                val denied = assertThrows<ApprovalDeniedException> { runBlocking { wf.requireApproval("delete-index") } }
                assertEquals("APPROVAL_DENIED", denied.code)
                assertEquals(asked.id, denied.id)
                assertEquals("delete-index", denied.gate)
                assertFalse(denied.timedOut)
                assertEquals("bo", denied.by)
                assertEquals("not on a Friday", denied.note)
            }
        }
    }

    @Test
    fun `nobody deciding within 100 ms is a denial that timed out, or an approval when asked so`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("nightly", engine = engine).use { wf ->
                val late = assertThrows<ApprovalDeniedException> {
                    runBlocking { wf.requireApproval("rebuild", why = "costly", timeout = 100.milliseconds) }
                }
                assertTrue(late.timedOut)
                assertEquals("rebuild", late.gate)
                val waved = wf.requireApproval("rebuild-small", timeout = 100.milliseconds, onTimeout = OnTimeout.APPROVE)
                assertEquals(ApprovalStatus.EXPIRED, waved.status)
                assertEquals(OnTimeout.APPROVE, waved.onTimeout)
            }
        }
    }

    @Test
    fun `the same gate asked again returns the same approval, and a short wait returns it pending`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("reporter", engine = engine).use { wf ->
                val first = wf.requestApproval("send-report", why = "goes to the board", worstCaseUsd = 2)
                val again = wf.requestApproval("send-report", why = "asked again")
                assertEquals(first.id, again.id)
                assertEquals("goes to the board", again.why)
                assertEquals(2_000_000_000L, again.worstCaseNanos)
                val still = wf.waitForApproval(first.id, Duration.ZERO)
                assertEquals(ApprovalStatus.PENDING, still.status)
                assertNull(still.decidedBy)
                engine.approve(first.id)
                assertEquals(ApprovalStatus.APPROVED, wf.waitForApprovalBlocking(first.id, 200.milliseconds).status)
                // Decided already: asking again finds the decision.
                assertEquals(ApprovalStatus.APPROVED, wf.requireApproval("send-report").status)
            }
        }
    }

    @Test
    fun `bad requests are refused`() {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("bad", engine = engine).use { wf ->
                assertThrows<InvalidArgumentException> { wf.requestApproval("") }
                assertThrows<InvalidArgumentException> { wf.requestApproval("g", worstCaseUsd = -1) }
                assertThrows<InvalidArgumentException> { wf.requestApproval("g", timeout = (-5).milliseconds) }
                assertTrue(engine.approvals().isEmpty())
                assertThrows<NotFoundException> { engine.approve("appr-000000000000") }
            }
        }
    }
}
