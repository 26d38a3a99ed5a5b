package dev.wflo

import dev.wflo.ffi.NativeEngine
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicBoolean

/**
 * The engine: prices, token counts, budgets and a store. Thread-safe; one per process is the
 * usual shape ([Engine.default]), tests and services open their own with [Engine.open].
 * Closing writes what is buffered and closes the store; closing twice is fine.
 */
class Engine private constructor(
    /** The generated object, for what this layer does not wrap. */
    val native: NativeEngine,
) : AutoCloseable {
    private val closed = AtomicBoolean(false)

    /** The same engine through the C ABI, for the hot path (see [CAbi]). */
    internal val c = CHandle(this, native.cHandle().toLong(), CAbi::wflo_engine_free, "the engine")

    companion object {
        init {
            // WFLO_LOG: the engine's events on the `wflo` logger (silent when unset).
            WfloLog.routeFromEnv()
        }

        /**
         * Opens the store [url] names: a SQLite path, "sqlite://…", ":memory:", "memory://",
         * "postgres://…". null: WFLO_DATABASE_URL, DATABASE_URL, else the default SQLite file.
         */
        @JvmStatic
        @JvmOverloads
        fun open(url: String? = null): Engine = Engine(native { NativeEngine.open(url) })

        @Volatile
        private var defaultEngine: Engine? = null

        /** The process-wide engine, opened from the environment on first use. */
        @JvmStatic
        fun default(): Engine =
            defaultEngine ?: synchronized(this) { defaultEngine ?: open().also { defaultEngine = it } }

        /** Replaces the process-wide engine (null: open it again from the environment on next use). */
        @JvmStatic
        fun setDefault(engine: Engine?) {
            synchronized(this) { defaultEngine = engine }
        }
    }

    internal fun live(): NativeEngine {
        if (closed.get()) throw ClosedException("the engine is closed")
        return native
    }

    // -- prices and tokens ---------------------------------------------------------------------

    /** Registers or overrides prices: {"models": [{"name", "input", "output", …}]} in pico-USD per token. */
    fun setPrices(json: String) = native { live().setPrices(json) }

    /**
     * Loads a price file over the table: wflo's schema ({"models": [...]}, pico-USD per token)
     * or LiteLLM's model_prices_and_context_window.json as published. The whole file is checked
     * first: a bad entry throws [InvalidArgumentException] naming the line and the reason, and
     * nothing is applied. (Every engine also loads the file WFLO_PRICES names when it opens.)
     */
    fun loadPrices(path: String): PriceChanges =
        PriceChanges.of(JsonText.parse(native { live().loadPrices(path) }).jsonObject)

    /** [loadPrices] for a [Path]. */
    fun loadPrices(path: Path): PriceChanges = loadPrices(path.toString())

    /** Where this engine's prices come from: the built-in table and the files loaded over it. */
    fun priceTable(): PriceTable = PriceTable.of(JsonText.parse(native { live().priceTableJson() }).jsonObject)

    /** How [model] resolves and every price it has. */
    fun price(model: String): Price = Price.of(JsonText.parse(native { live().priceJson(model) }).jsonObject)

    /** The cost of [usage] on [model] in nano-USD, rounded up once. */
    fun cost(model: String, usage: Usage): Long {
        live()
        val m = model.toByteArray()
        return c.use { e ->
            val s = Scratch.get(m.size)
            val at = s.put(m)
            s.putUsage(usage)
            CAbi.check(CAbi.wflo_cost(e, at, m.size.toLong(), s.base + Scratch.USAGE, s.base + Scratch.OUT))
            s.buf.getLong(Scratch.OUT)
        }
    }

    fun costUsd(model: String, usage: Usage): Double = cost(model, usage) / 1e9

    /** Counts [text] as [model] is billed for it (exact for OpenAI models, as tiktoken). */
    fun countTokens(model: String, text: String): TokenCount = TokenCount.of(native { live().countTokens(model, text) })

    /** Counts a chat request's messages (a JSON array) with the per-message overhead. */
    fun countChatTokens(model: String, messagesJson: String): TokenCount =
        TokenCount.of(native { live().countChatTokens(model, messagesJson) })

    /** Counts chat messages given as maps ({"role": …, "content": …, "name"?: …}). */
    fun countChatTokens(model: String, messages: List<Map<String, Any?>>): TokenCount =
        countChatTokens(model, JsonText.encode(messages, "messages"))

    // -- shared budgets and stored executions --------------------------------------------------

    /**
     * A budget every process using this store draws from; [period] "none", "day" or "month".
     * [allowances] false books every call in the store (strict fairness between processes)
     * instead of serving calls from local allowances; null keeps the scope's setting.
     */
    @JvmOverloads
    fun defineSharedScope(name: String, limitUsd: Number?, period: String = "none", allowances: Boolean? = null) = native {
        live().defineSharedScope(name, limitUsd?.let { Usd.toNanos(it, "limitUsd").toULong() }, period, allowances)
    }

    /** A shared scope's figures for its current period. */
    fun sharedScope(name: String): JsonObject = JsonText.parse(native { live().sharedScopeJson(name) }).jsonObject

    /** A stored execution: its record, breakdown, calls, checkpoints and rollbacks. */
    fun execution(executionId: String): JsonObject =
        JsonText.parse(native { live().executionJson(executionId) }).jsonObject

    @JvmOverloads
    fun listExecutions(limit: Int = 20): JsonArray {
        if (limit < 0) throw invalid("limit must not be negative")
        return JsonText.parse(native { live().listExecutionsJson(limit.toUInt()) }).jsonArray
    }

    // -- telemetry -----------------------------------------------------------------------------

    /**
     * This engine's metrics in the Prometheus text exposition format: cost, calls, refusals,
     * token and duration histograms, budgets remaining, alerts. Labels are bounded (model,
     * provider, scope, status), never an execution id. Serve it on your own `/metrics`.
     */
    fun metricsText(): String = live().metricsText()

    /**
     * Calls [listener] with each budget alert of this engine's executions, in the order they
     * fire: a threshold of a limit reached (by default 50, 80 and 95%), a soft budget reached
     * (see [WfloWorkflow]'s `alertThresholds` and `softBudgetUsd`). It runs on the thread that
     * settled the call; what it throws is logged on the `wflo` logger and affects nothing else.
     * Close the returned handle to stop it. (A workflow's own alerts: [WfloWorkflow.onThreshold].)
     */
    fun onThreshold(listener: AlertCallback): AutoCloseable = addListener(AlertAdapter(listener))

    internal fun addListener(adapter: AlertAdapter): AutoCloseable {
        val id = live().addAlertListener(adapter)
        val removed = AtomicBoolean(false)
        return AutoCloseable { if (removed.compareAndSet(false, true) && !closed.get()) native.removeAlertListener(id) }
    }

    // -- resilience ----------------------------------------------------------------------------

    /**
     * A retrier for one logical call whose first attempt begins now (see [withRetry], which
     * runs the loop). A meaningless [policy] throws [InvalidArgumentException].
     */
    @JvmOverloads
    fun retrier(policy: RetryPolicy = RetryPolicy()): Retrier = Retrier(native { live().retrier(policy.toJson()) })

    /**
     * The circuit breaker called [name]: made with [config] (null: the defaults) the first time
     * it is asked for; later calls get the same breaker whatever they pass, so every caller
     * in the process sees one state.
     */
    @JvmOverloads
    fun breaker(name: String, config: BreakerConfig? = null): CircuitBreaker =
        CircuitBreaker(native { live().breaker(name, config?.toJson()) })

    /** Every breaker of this engine with its figures, by name. */
    fun breakers(): List<BreakerStatus> =
        JsonText.parse(native { live().breakersJson() }).jsonArray.map { BreakerStatus.of(it.jsonObject) }

    /**
     * Circuit breakers as this engine's store knows them: every shared breaker
     * ([BreakerConfig.shared]) with its figures, whichever process on the store made it, and
     * the latest [limit] changes of state of every breaker on the store (shared or one
     * process's), oldest first. [name]: only that breaker's (null: all).
     */
    @JvmOverloads
    fun breakersOnStore(name: String? = null, limit: Int = 50): BreakersOnStore {
        if (limit < 0) throw invalid("limit must not be negative, got $limit")
        return BreakersOnStore.of(JsonText.parse(native { live().breakersOnStoreJson(name, limit.toUInt()) }).jsonObject)
    }

    /**
     * The resource [name] (1 to 200 bytes): a lock or semaphore kept in this engine's store, so
     * every process on the store shares its slots. Made with [config] (null: the engine's
     * defaults) the first time it is asked for in this process; later calls get the same one.
     */
    @JvmOverloads
    fun resource(name: String, config: LockConfig? = null): ResourceLock =
        ResourceLock(native { live().resource(name, config?.toJson()) })

    // -- approval gates ------------------------------------------------------------------------

    /** The approvals in the store (every process's), newest first; only the undecided with [pendingOnly]. */
    @JvmOverloads
    fun approvals(pendingOnly: Boolean = false): List<Approval> =
        JsonText.parse(native { live().approvalsJson(pendingOnly) }).jsonArray.map { Approval.of(it.jsonObject) }

    /** The approval [id] as the store holds it now; [NotFoundException] when there is none. */
    fun approval(id: String): Approval = Approval.parse(native { live().approvalJson(id) })

    /**
     * Approves the pending approval [id] (the workflow waiting at its gate goes on), as [by]
     * (null: `USER@host`) with an optional [note]. Throws [ConflictException] when it was
     * already decided, [NotFoundException] when there is no such approval.
     */
    @JvmOverloads
    fun approve(id: String, note: String? = null, by: String? = null): Approval =
        Approval.parse(native { live().decideApproval(id, true, by, note) })

    /**
     * Denies the pending approval [id]: the workflow waiting at its gate gets an
     * [ApprovalDeniedException] carrying [by] and [note]. Throws as [approve] does.
     */
    @JvmOverloads
    fun deny(id: String, note: String? = null, by: String? = null): Approval =
        Approval.parse(native { live().decideApproval(id, false, by, note) })

    /** Writes buffered records to the store. */
    fun flush() = native { live().flush() }

    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        try {
            native { native.closeStore() }
        } finally {
            // Frees this object's handles; executions keep the engine alive on the Rust side.
            native.close()
            c.close()
        }
    }
}

/** wflo usage from a provider's response body or usage JSON. [format]: "auto", "openai_chat",
 *  "openai_responses", "anthropic", "gemini", "langchain", "ai_sdk" or "wflo". */
@JvmOverloads
fun parseUsage(json: String, format: String = "auto"): Usage = Usage.of(native { dev.wflo.ffi.parseUsage(format, json) })

/** The libwflo version this binding runs on. */
fun wfloVersion(): String = dev.wflo.ffi.wfloVersion()
