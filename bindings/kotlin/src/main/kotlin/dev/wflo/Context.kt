package dev.wflo

import kotlin.coroutines.AbstractCoroutineContextElement
import kotlin.coroutines.CoroutineContext
import kotlin.coroutines.coroutineContext

/**
 * The running workflow and step, carried in the coroutine context by [WfloWorkflow.execute]
 * and [WfloWorkflow.step]: code deep inside (an HTTP interceptor, a tool) finds where to charge
 * a call without being handed the workflow, and coroutines launched inside inherit it while
 * concurrent executions never see each other's.
 */
internal class WfloContext(val workflow: WfloWorkflow, val scope: Scope?) :
    AbstractCoroutineContextElement(WfloContext) {
    companion object Key : CoroutineContext.Key<WfloContext>
}

/** The workflow this coroutine runs in ([WfloWorkflow.execute]), or null. */
suspend fun currentWorkflow(): WfloWorkflow? = coroutineContext[WfloContext]?.workflow

/** The step scope this coroutine runs in ([WfloWorkflow.step]), or null. */
suspend fun currentScope(): Scope? = coroutineContext[WfloContext]?.scope

/** Where a call made here is charged: the current step scope, else the current workflow, else null. */
suspend fun currentBudgetScope(): BudgetScope? = coroutineContext[WfloContext]?.let { it.scope ?: it.workflow }
