// The quick tour from Kotlin: start an execution, track a call, hit the budget, checkpoint,
// roll back, print the breakdown. The README's Kotlin snippet is the part between the tour
// markers; bindings/kotlin/test.sh compiles it with the tests (QuickTourTest checks it) and
// runs main() from the packaged jar with plain `java -cp`.
package dev.wflo.examples

import dev.wflo.BudgetExceededException
import dev.wflo.Breakdown
import dev.wflo.Engine
import dev.wflo.Settled
import dev.wflo.WfloWorkflow
import kotlinx.coroutines.runBlocking

/** The tour; returns the breakdown and the settled call so the checks can look at them. */
suspend fun quickTour(): Pair<Breakdown, Settled> {
    // tour:start
    val engine = Engine.open("memory://")
    val workflow = WfloWorkflow(name = "research-agent", budgetUsd = 0.01, engine = engine)

    val settled = workflow.execute {
        // Count the prompt, reserve the worst case BEFORE the request leaves the process…
        val messages = listOf(mapOf("role" to "user", "content" to "Find three papers on BPE tokenizers."))
        val prompt = engine.countChatTokens("gpt-4o-mini", messages)
        val settled = step("search") {
            reserve(model = "gpt-4o-mini", inputTokens = prompt.tokens, maxOutputTokens = 400).use { call ->
                // …send it, then settle with the usage the provider reported.
                call.settleJson("openai_chat", """{"usage":{"prompt_tokens":21,"completion_tokens":180}}""")
            }
        }
        println("call cost $%.8f".format(settled.costUsd))
        checkpoint("searched", mapOf("papers" to listOf("a", "b", "c")))

        // A call that could overspend is refused before anything is sent.
        try {
            step("write") { reserve(model = "gpt-4o", inputTokens = 3000, maxOutputTokens = 4000) }
            error("expected a refusal")
        } catch (e: BudgetExceededException) {
            println("refused: needs up to $%.4f of a $%.2f budget".format(e.requestedUsd, e.budgetUsd))
        }

        // Roll back to the last good state and look at where the money went.
        val state = rollbackToCheckpoint("searched")
        println("rolled back to $state")
        settled
    }
    val b = workflow.breakdown()
    println("total $%.8f of $%.2f, %d call(s), %d refused".format(b.totalUsd, b.budgetUsd, b.calls, b.refusedCalls))
    // tour:end
    workflow.close()
    engine.close()
    return b to settled
}

fun main() = runBlocking {
    val (b, settled) = quickTour()
    check(b.calls == 1L && b.refusedCalls == 1L && b.reservedNanos == 0L) { "unexpected breakdown $b" }
    check(b.totalNanos == settled.costNanos && b.status == "completed") { "unexpected breakdown $b" }
    check(b.byStep.map { it.step }.sorted() == listOf("search", "write")) { "unexpected steps ${b.byStep}" }
}
