package dev.wflo

import dev.wflo.ffi.NativeExecution
import dev.wflo.ffi.StartOptions
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import java.util.concurrent.ConcurrentHashMap
import kotlin.time.Duration

/**
 * A named, budgeted workflow. Each [execute] runs one execution ([executionId], "exec-" + 12
 * hex) in which every LLM call is reserved BEFORE it is made (refused with
 * [BudgetExceededException] when it could overspend) and settled from the provider's usage
 * after. Checkpoints and rollbacks belong to the execution.
 *
 * [budgetUsd]: dollars (a Double, a whole number, or a BigDecimal for an exact amount); null:
 * no limit of its own. [sharedScopes]: names of budgets shared with other executions and
 * processes ([Engine.defineSharedScope]), drawn from as well. [engine]: default
 * [Engine.default]. [executionId]: the id the first execution it starts takes ("exec-" + 12
 * lower-case hex; default a fresh one, as every later execution gets).
 *
 * Budget alerts ([onThreshold]) fire when spend on an execution or one of its steps reaches a
 * percent of its limit — [alertThresholds], default 50, 80 and 95; each once; empty: none —
 * or the [softBudgetUsd] (a warning: nothing is refused). The execution joins the trace of
 * [traceParent] (a W3C `traceparent` value: the host's current span), else starts its own;
 * [traceId] says which.
 *
 * [approvalAboveUsd]: dollars, like [budgetUsd]; a call whose worst case passes it meets an
 * approval gate (`call #1 over $0.50`) before it reserves, and goes on once a person approves
 * it ([Engine.approve], `wflo approve ID`, `wflo serve`, from any process on the store); a
 * denied or timed-out gate throws [ApprovalDeniedException] and nothing is reserved. A
 * blocking call ([reserve]) waits on its thread; the suspend ones ([reserveAsync],
 * [BudgetScope.reserveRequestAsync]) wait on [kotlinx.coroutines.Dispatchers.IO], never on the
 * caller's dispatcher. The threshold is kept with the execution: a resumed one gates alike.
 *
 * [maxCalls]: the most LLM calls an execution may make (the original SDK's `max_iterations`);
 * the next throws [CallLimitException] before anything is reserved or sent, and a call refused
 * for another reason does not count. [agentBudgetsUsd]: each agent's own budget, dollars like
 * [budgetUsd], by the name its framework gives the agent: a call made for an agent
 * ([RequestOptions.agent]) reserves on the agent's scope `agent:<name>`, limited by its share
 * and by the execution's budget. Both are kept with the execution: a resumed one enforces them.
 *
 * Thread-safe. [close] frees the native handles (it does not end the execution: [execute] and
 * [finish] do); the stored execution stays and can be [resume]d.
 */
class WfloWorkflow @JvmOverloads constructor(
    name: String = "workflow",
    budgetUsd: Number? = null,
    engine: Engine? = null,
    sharedScopes: List<String> = emptyList(),
    executionId: String? = null,
    alertThresholds: List<Int>? = null,
    softBudgetUsd: Number? = null,
    traceParent: String? = null,
    approvalAboveUsd: Number? = null,
    maxCalls: Long? = null,
    agentBudgetsUsd: Map<String, Number>? = null,
) : BudgetScope, AutoCloseable {
    var name: String = name
        private set

    /** The budget in nano-USD (exact), or null. */
    var budgetNanos: Long? = budgetUsd?.let { Usd.toNanos(it, "budgetUsd") }
        private set

    val budgetUsd: Double? get() = budgetNanos?.let { it / 1e9 }

    private val givenEngine = engine

    // The id asked for the first execution; taken (cleared) by the start that uses it.
    @Volatile private var firstId: String? = executionId

    private val sharedScopes = sharedScopes.toList()

    private val alertThresholds: List<UInt>? = alertThresholds?.map {
        if (it < 0) throw invalid("alert thresholds are percents from 1 to 100 in ascending order, not $alertThresholds")
        it.toUInt()
    }

    private val softBudgetNanos: Long? = softBudgetUsd?.let { Usd.toNanos(it, "softBudgetUsd") }

    private val traceParent = traceParent

    private val approvalAboveNanos: Long? = approvalAboveUsd?.let { Usd.toNanos(it, "approvalAboveUsd") }

    private val maxCalls: ULong? = maxCalls?.let { unsigned(it, "maxCalls") }

    private val agentBudgets: Map<String, ULong>? = agentBudgetsUsd?.mapValues { (agent, usd) ->
        Usd.toNanos(usd, "agentBudgetsUsd[\"$agent\"]").toULong()
    }

    // onThreshold's listeners on the engine, each following the current execution.
    private val alertListeners = java.util.concurrent.CopyOnWriteArrayList<Pair<AlertAdapter, AutoCloseable>>()

    val engine: Engine get() = givenEngine ?: Engine.default()

    private val lock = Any()
    private val startMutex = Mutex()

    @Volatile private var execution: NativeExecution? = null

    // The same execution through the C ABI, for the hot path (reserve).
    @Volatile private var cExec: CHandle? = null

    @Volatile private var running = false

    @Volatile private var closed = false

    private var id: String? = null
    private val steps = ConcurrentHashMap<String, Scope>()
    private val children = ConcurrentHashMap.newKeySet<Scope>()

    init {
        if (name.isBlank()) throw invalid("name must be a non-empty string")
    }

    /** The current (or last) execution's id; null before the first start. */
    val executionId: String? get() = synchronized(lock) { id }

    /**
     * The W3C trace id (32 lower-case hex) the current (or last) execution belongs to: the
     * host's trace when it joined one ([traceParent]), else its own; null before the first start.
     */
    val traceId: String? get() = synchronized(lock) { execution?.let { live(it).traceId() } }

    /**
     * Calls [callback] with each budget alert of this workflow's executions, in the order they
     * fire (register it before the calls it should hear). It runs on the thread that settled
     * the call; what it throws is logged on the `wflo` logger and affects nothing else.
     * Removed by [close]. Returns this workflow.
     */
    fun onThreshold(callback: AlertCallback): WfloWorkflow {
        val adapter = AlertAdapter(callback, filtered = true)
        synchronized(lock) {
            if (closed) throw ClosedException("the workflow is closed")
            adapter.executionId = id
            alertListeners += adapter to engine.addListener(adapter)
        }
        return this
    }

    val isRunning: Boolean get() = running

    companion object {
        /**
         * Opens a stored execution again (in this process or a new one after a crash) with its
         * spend, budget and checkpoints; [latestCheckpoint] says where to continue.
         */
        @JvmStatic
        @JvmOverloads
        fun resume(executionId: String, engine: Engine? = null, sharedScopes: List<String> = emptyList()): WfloWorkflow {
            val wf = WfloWorkflow("resumed", null, engine, sharedScopes)
            val exec = native { wf.engine.live().resumeExecution(executionId, wf.sharedScopes) }
            synchronized(wf.lock) { wf.adopt(exec) }
            wf.name = exec.name()
            wf.budgetNanos = wf.breakdown().budgetNanos
            return wf
        }
    }

    // -- the execution -------------------------------------------------------------------------

    /** Starts an execution unless one is running ([execute] does this itself). */
    suspend fun start(): WfloWorkflow {
        if (running) return this
        startMutex.withLock {
            if (!running) {
                val exec = native { engine.live().startExecutionAsync(name, budgetNanos?.toULong(), startOptions()) }
                synchronized(lock) { if (running) exec.close() else adopt(exec) }
            }
        }
        return this
    }

    /** [start] for code outside coroutines (and for [reserve], which starts one if needed). */
    fun startBlocking(): WfloWorkflow {
        synchronized(lock) {
            if (!running) adopt(native { engine.live().startExecution(name, budgetNanos?.toULong(), startOptions()) })
        }
        return this
    }

    private fun startOptions() = StartOptions(
        id = firstId,
        sharedScopes = sharedScopes,
        traceparent = traceParent,
        alertThresholds = alertThresholds,
        softBudgetNanos = softBudgetNanos?.toULong(),
        approvalAboveNanos = approvalAboveNanos?.toULong(),
        maxCalls = maxCalls,
        agentBudgets = agentBudgets,
    )

    // Takes a freshly started or resumed execution; the previous one's handles are freed.
    private fun adopt(exec: NativeExecution) {
        if (closed) {
            exec.close()
            throw ClosedException("the workflow is closed")
        }
        val old = execution
        val oldC = cExec
        execution = exec
        cExec = CHandle(this, exec.cHandle().toLong(), CAbi::wflo_execution_free, "the workflow's execution")
        id = exec.id()
        alertListeners.forEach { it.first.executionId = id }
        firstId = null
        running = true
        freeSteps()
        old?.close()
        oldC?.close()
    }

    /**
     * Ends the execution with an explicit [status] ([end] lets the engine choose it from how
     * the run ended; [execute] does that itself).
     */
    suspend fun finish(status: ExecutionStatus = ExecutionStatus.COMPLETED) {
        val exec = synchronized(lock) {
            if (!running) return
            running = false
            execution
        } ?: return
        native { exec.finishAsync(status.code) }
    }

    /**
     * Ends the execution the way its body ended, by the engine's one rule: [error] null (it
     * returned) is "completed"; else a budget refusal anywhere along the error's causes (a
     * framework that wrapped it does not hide it) is "budget_exceeded", any other error
     * "failed". Returns the status the engine chose, or null when no execution was running.
     */
    fun endBlocking(error: Throwable? = null): ExecutionStatus? {
        val exec = synchronized(lock) {
            if (!running) return null
            running = false
            execution
        } ?: return null
        val code = native { exec.end(error?.let(::wfloCodes)) }
        return ExecutionStatus.entries.firstOrNull { it.code == code }
            ?: throw InternalException("the engine ended the execution with an unknown status '$code'")
    }

    /** [endBlocking] on an IO thread (the status is one store write). */
    suspend fun end(error: Throwable? = null): ExecutionStatus? =
        if (!running) null else withContext(Dispatchers.IO) { endBlocking(error) }

    /**
     * Runs [block] as one execution and returns its result. Ends the execution as [end] says:
     * "completed", or "failed" / "budget_exceeded" when the block throws (the exception is
     * rethrown). In the block, [currentWorkflow] is this workflow.
     */
    suspend fun <T> execute(block: suspend WfloWorkflow.() -> T): T {
        start()
        val result = try {
            withContext(WfloContext(this, null)) { block() }
        } catch (e: Throwable) {
            // The block's error matters more than a failed status write.
            withContext(NonCancellable) { runCatching { end(e) } }
            throw e
        }
        end(null)
        return result
    }

    // -- steps ---------------------------------------------------------------------------------

    /** The step [label] of the running execution (created on first use, with its own budget if given). */
    @JvmOverloads
    fun scope(label: String, budgetUsd: Number? = null): Scope {
        checkLabel(label)
        val nanos = budgetUsd?.let { Usd.toNanos(it, "budgetUsd") }
        if (!running) startBlocking()
        val key = "$label\u0000$nanos"
        steps[key]?.let { return it }
        val exec = started()
        val scope = native { live(exec).scope(label, nanos?.toULong()) }
        val step = Scope(this, label, scope)
        val kept = steps.putIfAbsent(key, step)
        if (kept != null) scope.close()
        return kept ?: step
    }

    /**
     * Runs [block] in the step [label]: calls it reserves are recorded under that step (and
     * checked against [budgetUsd], if given); [currentScope] is that step in it and in the
     * coroutines it launches.
     */
    suspend fun <T> step(label: String, budgetUsd: Number? = null, block: suspend Scope.() -> T): T {
        start()
        val s = scope(label, budgetUsd)
        return withContext(WfloContext(this, s)) { s.block() }
    }

    internal fun track(step: Scope) {
        children.add(step)
    }

    private fun freeSteps() {
        steps.values.forEach { it.free() }
        children.forEach { it.free() }
        steps.clear()
        children.clear()
    }

    // -- calls ---------------------------------------------------------------------------------

    /** Reserves on the execution itself (not a step); starts an execution if none is running. */
    override fun reserve(request: CallRequest): Reservation {
        if (!running) startBlocking()
        return reserveOn(cExecution(), null, request)
    }

    /** [reserve] on an IO thread: a shared scope's store or an approval gate never holds the caller's. */
    override suspend fun reserveAsync(request: CallRequest): Reservation {
        if (!running) start()
        return offThread { reserve(request) }
    }

    /**
     * Reserves a provider request on the execution itself (see [BudgetScope.reserveRequest]);
     * starts an execution if none is running.
     */
    override fun reserveRequest(format: String, request: String, options: RequestOptions): RequestReserved {
        if (!running) startBlocking()
        return reserveRequestOn(cExecution(), null, format, request, options)
    }

    internal fun cExecution(): CHandle {
        live(Unit)
        return cExec ?: throw ClosedException("the workflow has not started: call execute() or start() first")
    }

    override fun recordCall(model: String, usage: Usage): Settled {
        if (!running) startBlocking()
        return Settled.of(native { live(started()).recordCall(model, usage.toNative()) })
    }

    /** Records a call made without a reservation from its response body or usage JSON. */
    @JvmOverloads
    fun recordCall(model: String, response: String, format: String = "auto"): Settled {
        if (!running) startBlocking()
        return Settled.of(native { live(started()).recordCallJson(model, format, response) })
    }

    // -- approval gates ------------------------------------------------------------------------

    /**
     * Stops at approval gate [gate] until a person decides (see [requestApproval] for the
     * arguments): returns the approved [Approval], or throws [ApprovalDeniedException] when it
     * is denied (with who denied it and their note) or nobody decided within [timeout] and
     * [onTimeout] is [OnTimeout.DENY] (`timedOut` true). Asked again for the same gate — a
     * restarted workflow — it finds the same approval, decided or not. The wait polls the
     * store off this coroutine's thread; starts an execution if none is running.
     */
    suspend fun requireApproval(
        gate: String,
        why: String = "",
        what: String? = null,
        worstCaseUsd: Number? = null,
        timeout: Duration? = null,
        onTimeout: OnTimeout = OnTimeout.DENY,
        requestedBy: String? = null,
    ): Approval {
        if (!running) start()
        val asked = requestApproval(gate, why, what, worstCaseUsd, timeout, onTimeout, requestedBy)
        return waitForApproval(asked.id)
    }

    /**
     * Records a pending approval for [gate] of the running execution (starting one if none
     * is), or finds the one it already has for that gate, decided or not; does not wait.
     * [why]: why it needs approval; [what]: what happens once approved (null: "run GATE");
     * [worstCaseUsd]: the worst case of the spend behind it, in dollars (a BigDecimal or a
     * whole number exactly, through the engine's money parsing); [timeout]: how long a
     * decision may take from the first ask (null: the engine's one hour); [onTimeout]: what no
     * decision in time means; [requestedBy]: who asks (null: this process, `host:pid`).
     */
    fun requestApproval(
        gate: String,
        why: String = "",
        what: String? = null,
        worstCaseUsd: Number? = null,
        timeout: Duration? = null,
        onTimeout: OnTimeout = OnTimeout.DENY,
        requestedBy: String? = null,
    ): Approval {
        val request = approvalRequestJson(gate, why, what, worstCaseUsd, timeout, onTimeout, requestedBy)
        if (!running) startBlocking()
        return Approval.parse(native { live(started()).requestApproval(request) })
    }

    /**
     * Waits for approval [id] of this execution, at most [wait] (null: until the approval's
     * own timeout), polling the store off this coroutine's thread. Returns the approved
     * [Approval], or the still-pending one when [wait] ran out first (ask again later); throws
     * [ApprovalDeniedException] when it was denied or timed out under [OnTimeout.DENY].
     */
    suspend fun waitForApproval(id: String, wait: Duration? = null): Approval {
        val ms = wait?.let { millis(it, "wait").toULong() }
        val exec = live(started())
        return Approval.parse(native { exec.waitForApproval(id, ms) })
    }

    /** [waitForApproval] blocking the caller's thread (for code outside coroutines). */
    fun waitForApprovalBlocking(id: String, wait: Duration? = null): Approval {
        val ms = wait?.let { millis(it, "wait").toULong() }
        return Approval.parse(native { live(started()).waitForApprovalBlocking(id, ms) })
    }

    // -- checkpoints ---------------------------------------------------------------------------

    /**
     * Saves [state] (maps, lists, strings, numbers, booleans, null, or a JsonElement) as
     * checkpoint [name]; committed to the store when this returns.
     */
    suspend fun checkpoint(name: String, state: Any?): CheckpointInfo {
        if (name.isBlank()) throw invalid("checkpoint name must be a non-empty string")
        val text = JsonText.encode(state, "checkpoint state")
        if (execution == null) start()
        val info = native { live(started()).checkpointAsync(name, text) }
        return CheckpointInfo.of(JsonText.parse(info).jsonObject)
    }

    /**
     * Saves [data] — bytes in your own format (MessagePack, protobuf, a pickled graph…), named by
     * [contentType] such as "application/msgpack" — as checkpoint [name]; they are stored as they
     * are and come back byte for byte from [rollbackToCheckpointAny]. Committed to the store when
     * this returns. A content type is 1 to 255 printable ASCII characters without spaces, else
     * [InvalidArgumentException] (an empty one too); null is none given: the engine names the
     * bytes "application/octet-stream".
     */
    suspend fun checkpointBinary(name: String, contentType: String?, data: ByteArray): CheckpointInfo {
        if (name.isBlank()) throw invalid("checkpoint name must be a non-empty string")
        if (execution == null) start()
        val info = native { live(started()).checkpointBinaryAsync(name, contentType, data) }
        return CheckpointInfo.of(JsonText.parse(info).jsonObject)
    }

    /**
     * [checkpointBinary] without a content type: [data] is saved as bytes of no named format
     * ("application/octet-stream", the engine's name for them).
     */
    suspend fun checkpointBinary(name: String, data: ByteArray): CheckpointInfo = checkpointBinary(name, null, data)

    /**
     * The state saved in the latest live checkpoint [name]. Later checkpoints become history
     * (kept, no longer live); money spent since stays spent. A binary state
     * ([checkpointBinary]) is refused with [InvalidArgumentException] naming its content type,
     * before anything changes: [rollbackToCheckpointAny] returns states of either kind.
     */
    suspend fun rollbackToCheckpoint(name: String): JsonElement =
        JsonText.parse(native { live(started()).rollbackToCheckpointAsync(name) })

    /** [rollbackToCheckpoint] for a state of either kind: JSON, or bytes with their content type. */
    suspend fun rollbackToCheckpointAny(name: String): CheckpointState =
        CheckpointState.of(native { live(started()).rollbackToCheckpointAnyAsync(name) })

    /**
     * The latest live checkpoint's state (where a resumed workflow continues), or null. A binary
     * state is refused with [InvalidArgumentException]: [latestCheckpointAny] reads either kind.
     */
    fun latestCheckpoint(): JsonElement? = native { live(started()).latestCheckpoint() }?.let(JsonText::parse)

    /** [latestCheckpoint] for a state of either kind, or null when there is no live checkpoint. */
    fun latestCheckpointAny(): CheckpointState? = native { live(started()).latestCheckpointAny() }?.let(CheckpointState::of)

    /**
     * The state of this execution's checkpoint [id] ([CheckpointInfo.id]; superseded ones
     * included), of either kind; [NotFoundException] when the execution has no such checkpoint.
     */
    fun checkpointStateAny(id: Long): CheckpointState =
        CheckpointState.of(native { live(started()).checkpointStateAny(unsigned(id, "checkpoint id")) })

    /** The execution's checkpoints, superseded ones included. */
    fun checkpoints(): List<CheckpointInfo> = CheckpointInfo.ofArray(native { live(started()).checkpointsJson() })

    /**
     * The checkpoints saved after sequence [afterSequence] (0: all; [CheckpointInfo.sequence]),
     * in order, superseded ones included, and the execution's number of rollbacks so far. A
     * reader keeping its own index of the checkpoints reads only what is new, and reads them
     * all again when [CheckpointsSince.rollbacks] grew (a rollback changes which earlier
     * checkpoints are live). The count is read first: a rollback made in between shows on the
     * next call, never missed. A negative [afterSequence] is refused with
     * [InvalidArgumentException].
     */
    fun checkpointsSince(afterSequence: Long): CheckpointsSince {
        val since = native { live(started()).checkpointsSince(unsigned(afterSequence, "afterSequence")) }
        return CheckpointsSince(CheckpointInfo.ofArray(since.checkpointsJson), since.rollbacks.toLong())
    }

    /**
     * [checkpointsSince] and [checkpointStateAny] in one call, crossing into the engine once: what
     * a reader keeping its own index (a LangGraph saver) needs for one load. [NotFoundException]
     * when the execution has no checkpoint [checkpointId]; a negative [afterSequence] or
     * [checkpointId] is refused with [InvalidArgumentException].
     */
    fun checkpointsSinceWithState(afterSequence: Long, checkpointId: Long): CheckpointsSinceWithState {
        val read = native {
            live(started()).checkpointsSinceWithState(
                unsigned(afterSequence, "afterSequence"),
                unsigned(checkpointId, "checkpoint id"),
            )
        }
        return CheckpointsSinceWithState(
            CheckpointInfo.ofArray(read.checkpointsJson),
            read.rollbacks.toLong(),
            CheckpointState.of(read.state),
        )
    }

    /** The execution's call records (settled, refused, aborted, estimated), as the engine reports them. */
    fun calls(): JsonArray = JsonText.parse(native { live(started()).callsJson() }).jsonArray

    // -- the bill ------------------------------------------------------------------------------

    /** Where the money went: total, budget, remaining, reserved, calls, by model, by step. */
    fun breakdown(): Breakdown = Breakdown.of(JsonText.parse(native { live(started()).breakdownJson() }).jsonObject)

    // -- closing -------------------------------------------------------------------------------

    /** Frees the native handles. The execution is not ended (see [execute], [finish]). */
    override fun close() {
        val (exec, c) = synchronized(lock) {
            if (closed) return
            closed = true
            running = false
            (execution to cExec).also {
                execution = null
                cExec = null
            }
        }
        freeSteps()
        alertListeners.forEach { runCatching { it.second.close() } }
        alertListeners.clear()
        exec?.close()
        c?.close()
    }

    private fun started(): NativeExecution =
        execution ?: if (closed) throw ClosedException("the workflow is closed")
        else throw ClosedException("the workflow has not started: call execute() or start() first")

    /** The running execution's native object (for [LangGraphCheckpointer]). */
    internal fun nativeExecution(): NativeExecution = live(started())

    /** [obj] if this workflow is still open (a closed one's handles are gone). */
    internal fun <T> live(obj: T): T {
        if (closed) throw ClosedException("the workflow is closed")
        return obj
    }

    override fun toString() = "WfloWorkflow(name=$name, budgetUsd=$budgetUsd, executionId=$executionId)"
}
