// Resource locks and approval gates from Kotlin: two workflows share one migration lock, and a
// publish step waits at an approval gate that another engine on the same store (another
// process, in practice: `wflo approve ID`) approves. Compiled with the tests by
// bindings/kotlin/test.sh; run it with `java -cp … dev.wflo.examples.LocksAndApprovalsKt`.
package dev.wflo.examples

import dev.wflo.Engine
import dev.wflo.LockConfig
import dev.wflo.ResourceBusyException
import dev.wflo.WfloWorkflow
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import java.math.BigDecimal
import java.nio.file.Files
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

fun main(): Unit = runBlocking {
    val url = "sqlite://" + Files.createTempDirectory("wflo").resolve("wflo.db")
    Engine.open(url).use { engine ->
        Engine.open(url).use { reviewer ->
            // One migration at a time, whichever process runs it.
            val migration = engine.resource("db-migration", LockConfig(maxConcurrent = 1, timeout = 200.milliseconds))
            migration.withLock("wf-nightly") {
                try {
                    migration.acquire("wf-adhoc").close()
                } catch (e: ResourceBusyException) {
                    println("busy after ${e.waitedMs} ms, held by ${e.holders}")
                }
            }
            println("migration lock: ${migration.stats().acquisitions} acquisition(s), ${migration.stats().timeouts} timeout(s)")

            WfloWorkflow("newsletter", budgetUsd = BigDecimal("0.50"), engine = engine).use { wf ->
                wf.execute {
                    val gate = async(Dispatchers.Default) {
                        requireApproval("publish", why = "emails 40k customers", worstCaseUsd = BigDecimal("0.25"), timeout = 30.seconds)
                    }
                    // The reviewer sees it pending and approves it.
                    var pending = reviewer.approvals(pendingOnly = true)
                    while (pending.isEmpty()) {
                        delay(20)
                        pending = reviewer.approvals(pendingOnly = true)
                    }
                    reviewer.approve(pending.single().id, note = "copy checked", by = "ana")
                    val approved = gate.await()
                    println("gate '${approved.gate}' ${approved.status.code} by ${approved.decidedBy}: ${approved.note}")
                }
            }
        }
    }
}
