package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.int
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.longOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.fail
import java.io.File
import java.math.BigDecimal
import java.util.HexFormat
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/**
 * The parity suite from Kotlin: every scenario of tests/vectors/scenarios.json replayed
 * through this binding's public API, exactly as tests/vectors/README-scenarios.md says. With
 * WFLO_PARITY_DIR set the ledger is written to $WFLO_PARITY_DIR/kotlin.json, which
 * tests/parity/compare.py checks byte for byte against Rust's.
 */
class ParityTest {
    private companion object {
        /** The metrics lines every face must agree on (the duration histogram's timings differ run to run). */
        val METRIC_PREFIXES = listOf(
            "wflo_cost_usd_total{", "wflo_calls_total{", "wflo_refusals_total{", "wflo_alerts_total{",
            "wflo_budget_remaining_usd{",
        )
    }

    private val dir = File(System.getProperty("wflo.vectors.dir") ?: "../../tests/vectors")

    private val callFields = listOf(
        "seq", "step", "provider", "requested_model", "model", "usage", "cost_nanos", "reserved_nanos",
        "overrun_nanos", "estimated", "usage_missing", "stream", "status", "error",
    )

    private fun JsonObject.str(key: String): String? = (get(key) as? JsonPrimitive)?.takeIf { it.isString }?.content

    /** A scenario's dollar amount through this face's own parsing (null: no limit). */
    private fun budget(o: JsonObject, key: String = "budget_usd"): BigDecimal? = o.str(key)?.let(::BigDecimal)

    /** The request options a scenario gives, as this face's [RequestOptions]. */
    private fun options(o: JsonObject?): RequestOptions {
        if (o == null) return RequestOptions()
        val known = setOf("base_url", "provider", "model", "stream", "clamp_max_tokens", "agent", "upfront")
        assertTrue(known.containsAll(o.keys), "options this replay does not know: ${o.keys - known}")
        return RequestOptions(
            baseUrl = o.str("base_url"),
            provider = o.str("provider"),
            model = o.str("model"),
            stream = (o["stream"] as? JsonPrimitive)?.booleanOrNull,
            clampMaxTokens = (o["clamp_max_tokens"] as? JsonPrimitive)?.booleanOrNull ?: false,
            agent = o.str("agent"),
            upfront = (o["upfront"] as? JsonPrimitive)?.booleanOrNull ?: false,
        )
    }

    /** A scenario's breaker settings as this face's [BreakerConfig] (null: none given). */
    private fun breakerConfig(o: JsonObject?): BreakerConfig? {
        if (o == null) return null
        val known = setOf("failure_threshold", "recovery_timeout_ms", "success_threshold", "failure_rate", "window", "min_calls", "shared")
        assertTrue(known.containsAll(o.keys), "breaker settings this replay does not know: ${o.keys - known}")
        return BreakerConfig(
            failureThreshold = o.int("failure_threshold"),
            recoveryTimeout = o.long("recovery_timeout_ms")?.milliseconds,
            successThreshold = o.int("success_threshold"),
            failureRate = (o["failure_rate"] as? JsonPrimitive)?.doubleOrNull,
            window = o.int("window"),
            minCalls = o.int("min_calls"),
            shared = (o["shared"] as? JsonPrimitive)?.booleanOrNull ?: false,
        )
    }

    /** A scenario's resource settings as this face's [LockConfig] (null: none given). */
    private fun lockConfig(o: JsonObject?): LockConfig? {
        if (o == null) return null
        val known = setOf("max_concurrent", "timeout_ms", "contention_threshold_ms", "lease_ms")
        assertTrue(known.containsAll(o.keys), "resource settings this replay does not know: ${o.keys - known}")
        return LockConfig(
            maxConcurrent = o.int("max_concurrent"),
            timeout = o.long("timeout_ms")?.milliseconds,
            contentionThreshold = o.long("contention_threshold_ms")?.milliseconds,
            lease = o.long("lease_ms")?.milliseconds,
        )
    }

    /**
     * A scenario's approval request through [WfloWorkflow.requestApproval]: its fields as this
     * face's arguments, the worst case in dollars (exact, as a BigDecimal).
     */
    private fun requestApproval(wf: WfloWorkflow, o: JsonObject): Approval {
        val known = setOf("gate", "what", "why", "worst_case_nanos", "requested_by", "timeout_ms", "on_timeout")
        assertTrue(known.containsAll(o.keys), "approval fields this replay does not know: ${o.keys - known}")
        return wf.requestApproval(
            gate = o.str("gate")!!,
            why = o.str("why") ?: "",
            what = o.str("what"),
            worstCaseUsd = o.long("worst_case_nanos")?.let { BigDecimal.valueOf(it, 9) },
            timeout = o.long("timeout_ms")?.milliseconds,
            onTimeout = o.str("on_timeout")?.let { t -> OnTimeout.entries.single { it.code == t } } ?: OnTimeout.DENY,
            requestedBy = o.str("requested_by"),
        )
    }

    /** A scenario's retry policy as this face's [RetryPolicy]. */
    private fun retryPolicy(o: JsonObject): RetryPolicy {
        val known = setOf(
            "backoff", "max_retries", "base_delay_ms", "max_delay_ms", "multiplier", "jitter", "deadline_ms",
            "retry_statuses", "retry_timeouts", "retry_connection_errors", "seed",
        )
        assertTrue(known.containsAll(o.keys), "policy fields this replay does not know: ${o.keys - known}")
        return RetryPolicy(
            backoff = o.str("backoff")?.let { b -> Backoff.entries.single { it.code == b } },
            maxRetries = o.int("max_retries"),
            baseDelay = o.long("base_delay_ms")?.milliseconds,
            maxDelay = o.long("max_delay_ms")?.milliseconds,
            multiplier = (o["multiplier"] as? JsonPrimitive)?.doubleOrNull,
            jitter = (o["jitter"] as? JsonPrimitive)?.doubleOrNull,
            deadline = o.long("deadline_ms")?.milliseconds,
            retryStatuses = (o["retry_statuses"] as? JsonArray)?.map { it.jsonPrimitive.int },
            retryTimeouts = (o["retry_timeouts"] as? JsonPrimitive)?.booleanOrNull,
            retryConnectionErrors = (o["retry_connection_errors"] as? JsonPrimitive)?.booleanOrNull,
            seed = o.long("seed"),
        )
    }

    /** A scenario's failed attempt as this face's [Failure]. */
    private fun failure(o: JsonObject) = Failure(
        kind = Failure.Kind.entries.single { it.code == o.str("kind") },
        status = (o["status"] as? JsonPrimitive)?.intOrNull,
        headers = (o["headers"] as? JsonArray)?.map { h -> h.jsonArray.let { it[0].jsonPrimitive.content to it[1].jsonPrimitive.content } }
            ?: emptyList(),
        message = o.str("message") ?: "",
    )

    private fun JsonObject.int(key: String): Int? = (get(key) as? JsonPrimitive)?.intOrNull

    private fun JsonObject.long(key: String): Long? = (get(key) as? JsonPrimitive)?.longOrNull

    /**
     * An error as the scenario's `end` describes it: a foreign error whose chain of causes
     * carries wflo exceptions with these codes, outermost first (none: a foreign error alone).
     */
    private fun raised(codes: List<String>): Throwable {
        val top = RuntimeException("the scenario's body failed")
        var last: Throwable = top
        for (code in codes) {
            val e = wfloError(code)
            last.initCause(e)
            last = e
        }
        return top
    }

    /** A `checkpoint_binary` step's bytes: its lowercase `hex`, repeated `repeat` times (absent: once). */
    private fun scenarioBytes(step: JsonObject): ByteArray {
        val once = HexFormat.of().parseHex(step.str("hex")!!)
        val repeat = step.int("repeat") ?: 1
        return ByteArray(once.size * repeat) { once[it % once.size] }
    }

    /** A state as the ledger keeps it: JSON under "state" (null: none), bytes as hex under "binary". */
    private fun stateEvent(op: String, state: CheckpointState?): JsonObject = buildJsonObject {
        put("op", op)
        when (state) {
            null -> put("state", JsonNull)
            is CheckpointState.Json -> put("state", state.state)
            is CheckpointState.Binary -> put("binary", buildJsonObject {
                put("content_type", state.contentType); put("hex", HexFormat.of().formatHex(state.data))
            })
        }
    }

    /**
     * A `langgraph` step as [LangGraphCheckpointer.call] takes it: the request with its values
     * listed as `[type, byte length]`, and their bytes one after another.
     */
    private fun langgraphRequest(step: JsonObject): Pair<String, ByteArray> {
        val request = step.getValue("request").jsonObject
        val values = step["values"] as? JsonArray ?: return request.toString() to ByteArray(0)
        val bytes = java.io.ByteArrayOutputStream()
        val listed = values.map { v ->
            val data = HexFormat.of().parseHex(v.jsonArray[1].jsonPrimitive.content)
            bytes.write(data)
            JsonArray(listOf(v.jsonArray[0], JsonPrimitive(data.size)))
        }
        return JsonObject(request + ("values" to JsonArray(listed))).toString() to bytes.toByteArray()
    }

    /** A [LangGraphAnswer] as the ledger keeps it: its JSON, its values as `[type, hex]`. */
    private fun langgraphEvent(answer: LangGraphAnswer): JsonObject {
        var parsed = answer.parsed()
        if (parsed is JsonObject && "values" in parsed) {
            val values = answer.values.map {
                JsonArray(listOf(JsonPrimitive(it.type), JsonPrimitive(HexFormat.of().formatHex(it.data))))
            }
            parsed = JsonObject(parsed + ("values" to JsonArray(values)))
        }
        return buildJsonObject { put("op", "langgraph"); put("answer", parsed) }
    }

    /** A scenario's foreign (not wflo's) error. */
    private class ForeignError : RuntimeException("a foreign error raised by the scenario")

    /** This face's exception of the wflo error [code], as the engine's error details build it. */
    private fun wfloError(code: String): WfloException =
        fromDetails(1, """{"code":${JsonPrimitive(code)},"message":"raised by the scenario"}""")

    /**
     * The scenario's price file (relative to tests/vectors) loaded through [Engine.loadPrices],
     * as the ledger records it: the names it added, changed and skipped (JsonNull: no file).
     */
    private fun loadPrices(engine: Engine, scenario: JsonObject): JsonElement {
        val file = scenario.str("prices_file") ?: return JsonNull
        val changes = try {
            engine.loadPrices(File(dir, file).toPath())
        } catch (e: WfloException) {
            return buildJsonObject { put("error", e.code) }
        }
        return buildJsonObject {
            put("added", JsonArray(changes.added.map(::JsonPrimitive)))
            put("changed", JsonArray(changes.changed.map { JsonPrimitive(it.name) }))
            put("skipped", JsonArray(changes.skipped.map { JsonPrimitive(it.name) }))
        }
    }

    /** The scenario's shared scopes defined in order; the names the execution starts with (each once). */
    private fun defineSharedScopes(engine: Engine, scenario: JsonObject): List<String> {
        val names = mutableListOf<String>()
        for (d in (scenario["shared_scopes"] as? JsonArray).orEmpty().map { it.jsonObject }) {
            val name = d.str("name")!!
            engine.defineSharedScope(
                name, budget(d, "limit_usd"), d.str("period") ?: "none",
                allowances = (d["allowances"] as? JsonPrimitive)?.booleanOrNull,
            )
            if (name !in names) names += name
        }
        return names
    }

    /** A shared scope's figures through [Engine.sharedScope], the fields the ledger keeps. */
    private fun shared(engine: Engine, step: JsonObject): JsonObject {
        val figures = engine.sharedScope(step.str("name")!!)
        val kept = listOf(
            "name", "limit_nanos", "spent_nanos", "reserved_nanos", "overrun_nanos", "refusing", "allowances",
            "allowance_nanos", "allowance_holders",
        )
        return buildJsonObject {
            put("op", "shared")
            for (k in kept) put(k, figures.getValue(k))
        }
    }

    private fun replay(index: Int, scenario: JsonObject): JsonObject = Engine.open("memory://").use { engine ->
        val name = scenario.str("name")!!
        val prices = loadPrices(engine, scenario)
        val sharedScopes = defineSharedScopes(engine, scenario)
        val id = "exec-%012x".format(index + 1)
        val workflow = WfloWorkflow(
            name, budget(scenario), engine, executionId = id,
            alertThresholds = (scenario["alert_thresholds"] as? JsonArray)?.map { it.jsonPrimitive.int },
            softBudgetUsd = budget(scenario, "soft_budget_usd"),
            traceParent = scenario.str("traceparent"),
            approvalAboveUsd = budget(scenario, "approval_above_usd"),
            maxCalls = (scenario["max_calls"] as? JsonPrimitive)?.longOrNull,
            agentBudgetsUsd = (scenario["agent_budgets_usd"] as? JsonObject)?.mapValues { BigDecimal(it.value.jsonPrimitive.content) },
            sharedScopes = sharedScopes,
        )
        val alerts = java.util.Collections.synchronizedList(mutableListOf<JsonElement>())
        workflow.onThreshold { alert ->
            alerts += buildJsonObject {
                put("scope", alert.scope)
                put("kind", alert.kind.code)
                put("percent", alert.percent)
                put("limit_nanos", alert.limitNanos)
                put("spent_nanos", alert.spentNanos)
            }
        }
        workflow.use { wf ->
            wf.startBlocking()
            assertEquals(id, wf.executionId)
            val events = mutableListOf<JsonElement>()
            var saver: LangGraphCheckpointer? = null // made at the first langgraph step
            for (step in scenario.getValue("steps").jsonArray.map { it.jsonObject }) {
                when (val op = step.str("op")) {
                    "scope" -> {
                        val label = step.str("label")!!
                        when (val parent = step.str("parent")) {
                            null -> wf.scope(label, budget(step))
                            else -> wf.scope(parent).child(label, budget(step))
                        }
                        events += buildJsonObject { put("op", "scope"); put("label", label) }
                    }
                    "breaker" -> {
                        val breaker = engine.breaker(step.str("name")!!, breakerConfig(step["config"] as? JsonObject))
                        for (action in step.getValue("actions").jsonArray.map { it.jsonPrimitive.content }) {
                            var error: String? = null
                            when (action) {
                                "check" -> try {
                                    breaker.check()
                                } catch (e: CircuitOpenException) {
                                    error = e.code
                                }
                                "failure" -> breaker.recordFailure()
                                "success" -> breaker.recordSuccess()
                                "reset" -> breaker.reset()
                                else -> fail("$name: unknown breaker action $action")
                            }
                            events += buildJsonObject {
                                put("op", "breaker"); put("action", action); put("state", breaker.state.code); put("error", error)
                            }
                        }
                    }
                    "breaker_call" -> {
                        // Through the face's own wrapper: check, call, record (refusals not counted).
                        val breaker = engine.breaker(step.str("name")!!, breakerConfig(step["config"] as? JsonObject))
                        val raise = step.str("raise")
                        var called = false
                        val error = try {
                            breaker.call {
                                called = true
                                when (raise) {
                                    null -> Unit
                                    "foreign" -> throw ForeignError()
                                    else -> throw wfloError(raise)
                                }
                            }
                            null
                        } catch (e: WfloException) {
                            e.code
                        } catch (e: ForeignError) {
                            "foreign"
                        }
                        events += buildJsonObject {
                            put("op", "breaker_call"); put("raise", raise); put("error", error); put("called", called)
                            put("state", breaker.state.code)
                        }
                    }
                    "breakers" -> {
                        val onStore = engine.breakersOnStore(limit = 100)
                        events += buildJsonObject {
                            put("op", "breakers")
                            put(
                                "shared",
                                JsonArray(
                                    onStore.shared.map {
                                        buildJsonObject {
                                            put("name", it.name); put("state", it.state.code); put("failure_count", it.failureCount)
                                        }
                                    },
                                ),
                            )
                            put(
                                "transitions",
                                JsonArray(
                                    onStore.transitions.map {
                                        buildJsonObject {
                                            put("breaker", it.breaker); put("shared", it.shared); put("from", it.from.code)
                                            put("to", it.to.code); put("reason", it.reason)
                                        }
                                    },
                                ),
                            )
                        }
                    }
                    "resource" -> {
                        val lock = engine.resource(step.str("name")!!, lockConfig(step["config"] as? JsonObject))
                        val permits = mutableMapOf<String, Permit>()
                        for (action in step.getValue("actions").jsonArray.map { it.jsonObject }) {
                            val acquire = action.str("acquire")
                            val release = action.str("release")
                            events += when {
                                acquire != null -> {
                                    val error = try {
                                        // The coroutine form: the engine's off-thread acquisition.
                                        permits[acquire] = runBlocking { lock.acquire(acquire, action.long("timeout_ms")?.milliseconds) }
                                        null
                                    } catch (e: ResourceBusyException) {
                                        e.code
                                    }
                                    buildJsonObject {
                                        put("op", "resource"); put("action", "acquire"); put("workflow", acquire); put("error", error)
                                    }
                                }
                                release != null -> {
                                    permits.remove(release)!!.close()
                                    buildJsonObject { put("op", "resource"); put("action", "release"); put("workflow", release) }
                                }
                                else -> {
                                    val st = lock.stats()
                                    buildJsonObject {
                                        put("op", "resource"); put("action", "stats"); put("acquisitions", st.acquisitions)
                                        put("contentions", st.contentions); put("timeouts", st.timeouts)
                                        put("holders", JsonArray(st.holders.map { JsonPrimitive(it.workflowId) }))
                                    }
                                }
                            }
                        }
                    }
                    "shared" -> events += shared(engine, step)
                    "approval" -> {
                        val asked = requestApproval(wf, step.getValue("request").jsonObject)
                        (step["decide"] as? JsonObject)?.let { d ->
                            val approve = (d["approve"] as JsonPrimitive).booleanOrNull!!
                            if (approve) engine.approve(asked.id, d.str("note"), d.str("by")) else engine.deny(asked.id, d.str("note"), d.str("by"))
                        }
                        events += try {
                            val got = runBlocking { wf.waitForApproval(asked.id, Duration.ZERO) }
                            buildJsonObject {
                                put("status", got.status.code); put("decided_by", got.decidedBy); put("note", got.note)
                                put("error", JsonNull); put("timed_out", JsonNull)
                                put("op", "approval"); put("gate", asked.gate); put("asked", asked.status.code)
                            }
                        } catch (e: ApprovalDeniedException) {
                            buildJsonObject {
                                put("status", JsonNull); put("decided_by", e.by); put("note", e.note)
                                put("error", e.code); put("timed_out", e.timedOut)
                                put("op", "approval"); put("gate", asked.gate); put("asked", asked.status.code)
                            }
                        }
                    }
                    "retry_call" -> {
                        val format = step.str("format")!!
                        val request = step.getValue("request").toString()
                        engine.retrier(retryPolicy(step.getValue("policy").jsonObject)).use { retrier ->
                            for (outcome in step.getValue("attempts").jsonArray.map { it.jsonObject }) {
                                val attempt = retrier.attempt
                                val made = try {
                                    wf.reserveRequest(format, request)
                                } catch (e: WfloException) {
                                    val refused = retrier.refused(e)
                                    events += buildJsonObject {
                                        put("op", "attempt"); put("attempt", attempt); put("error", refused.code); put("message", refused.message)
                                    }
                                    break
                                }
                                events += buildJsonObject { put("op", "attempt"); put("attempt", attempt); put("error", JsonNull) }
                                if ("result" in outcome) {
                                    made.reservation.use { it.settleResult(format, outcome.getValue("result").toString(), "ok") }
                                    break
                                }
                                val failed = failure(outcome.getValue("failure").jsonObject)
                                made.reservation.use { call ->
                                    when (val text = outcome.str("text")) {
                                        null -> call.release("error", failed.message)
                                        else -> call.settleText(text, "error")
                                    }
                                }
                                val decision = retrier.next(failed)
                                events += when (decision) {
                                    is Decision.Retry -> buildJsonObject {
                                        put("op", "retry"); put("decision", "retry"); put("attempt", decision.attempt)
                                        put("delay_ms", decision.delayMs); put("reason", decision.reason)
                                    }
                                    is Decision.GiveUp -> buildJsonObject {
                                        put("op", "retry"); put("decision", "give_up"); put("why", decision.why.code); put("reason", decision.reason)
                                    }
                                }
                                if (decision is Decision.GiveUp) break
                            }
                        }
                    }
                    "call" -> {
                        val breaker = step.str("breaker")?.let { engine.breaker(it) }
                        try {
                            breaker?.check()
                        } catch (e: CircuitOpenException) {
                            events += buildJsonObject { put("op", "call"); put("body", JsonNull); put("error", e.code) }
                            continue
                        }
                        val format = step.str("format")!!
                        val scope: BudgetScope = step.str("scope")?.let { wf.scope(it) } ?: wf
                        val made = try {
                            scope.reserveRequest(format, step.getValue("request").toString(), options(step["options"] as? JsonObject))
                        } catch (e: WfloException) {
                            events += buildJsonObject { put("op", "call"); put("body", JsonNull); put("error", e.code) }
                            continue
                        }
                        events += buildJsonObject { put("op", "call"); put("body", made.bodyJson); put("error", JsonNull) }
                        val outcome = step.getValue("outcome").jsonObject
                        made.reservation.use { call ->
                            when {
                                "result" in outcome -> call.settleResult(format, outcome.getValue("result").toString(), outcome.str("status") ?: "ok")
                                "stream" in outcome -> Stream(format).use { stream ->
                                    outcome.getValue("stream").jsonArray.forEach { stream.push(it.toString()) }
                                    call.settleStream(stream, outcome.str("status")!!)
                                }
                                "error" in outcome -> call.release("error", outcome.str("error"))
                                "text" in outcome -> call.settleText(outcome.str("text")!!, outcome.str("status")!!)
                                else -> fail("$name: unknown outcome $outcome")
                            }
                        }
                        if (breaker != null) {
                            if ("error" in outcome) breaker.recordFailure() else breaker.recordSuccess()
                        }
                    }
                    "checkpoint" -> {
                        val cp = step.str("name")!!
                        runBlocking { wf.checkpoint(cp, step.getValue("state")) }
                        events += buildJsonObject { put("op", "checkpoint"); put("name", cp) }
                    }
                    "checkpoint_binary" -> {
                        val cp = step.str("name")!!
                        val contentType = step.str("content_type")
                        val data = scenarioBytes(step)
                        events += try {
                            // No content type: the overload without one.
                            val info = runBlocking {
                                if (contentType == null) wf.checkpointBinary(cp, data) else wf.checkpointBinary(cp, contentType, data)
                            }
                            buildJsonObject {
                                put("op", "checkpoint_binary"); put("name", cp)
                                put("content_type", info.contentType); put("state_bytes", info.stateBytes)
                            }
                        } catch (e: WfloException) {
                            buildJsonObject { put("op", "checkpoint_binary"); put("name", cp); put("error", e.code) }
                        }
                    }
                    "checkpoints_since" -> {
                        val since = wf.checkpointsSince(step.getValue("after").jsonPrimitive.longOrNull!!)
                        events += buildJsonObject {
                            put("op", "checkpoints_since")
                            put("names", JsonArray(since.checkpoints.map { JsonPrimitive(it.name) }))
                            put("sequences", JsonArray(since.checkpoints.map { JsonPrimitive(it.sequence) }))
                            put("superseded", JsonArray(since.checkpoints.map { JsonPrimitive(it.superseded) }))
                            put("rollbacks", since.rollbacks)
                        }
                    }
                    "checkpoints_since_with_state" -> events += try {
                        val read = wf.checkpointsSinceWithState(
                            step.getValue("after").jsonPrimitive.longOrNull!!, step.getValue("id").jsonPrimitive.longOrNull!!,
                        )
                        JsonObject(stateEvent("checkpoints_since_with_state", read.state) + buildJsonObject {
                            put("names", JsonArray(read.checkpoints.map { JsonPrimitive(it.name) }))
                            put("sequences", JsonArray(read.checkpoints.map { JsonPrimitive(it.sequence) }))
                            put("superseded", JsonArray(read.checkpoints.map { JsonPrimitive(it.superseded) }))
                            put("rollbacks", read.rollbacks)
                        })
                    } catch (e: WfloException) {
                        buildJsonObject { put("op", "checkpoints_since_with_state"); put("error", e.code) }
                    }
                    "langgraph" -> {
                        val checkpointer = saver ?: LangGraphCheckpointer().also { saver = it }
                        val (request, bytes) = langgraphRequest(step)
                        events += try {
                            langgraphEvent(checkpointer.call(wf, request, bytes))
                        } catch (e: WfloException) {
                            buildJsonObject { put("op", "langgraph"); put("error", e.code) }
                        }
                    }
                    "rollback" -> events += stateEvent("rollback", runBlocking { wf.rollbackToCheckpointAny(step.str("name")!!) })
                    "latest" -> events += stateEvent("latest", wf.latestCheckpointAny())
                    else -> fail("$name: unknown op $op")
                }
            }
            saver?.close()
            val end = scenario["end"]
            val error = if (end is JsonArray) raised(end.map { (it as JsonPrimitive).content }) else null
            val status = wf.endBlocking(error) ?: fail("$name: the execution was not running")
            val calls = wf.calls().map { c ->
                val full = c.jsonObject
                JsonObject(callFields.associateWith { full[it] ?: JsonNull })
            }
            val breakdown = wf.breakdown()
            val metrics = engine.metricsText().lines().filter { line -> METRIC_PREFIXES.any(line::startsWith) }
            buildJsonObject {
                put("name", name)
                put("events", JsonArray(events))
                put("status", status.code)
                put("calls", JsonArray(calls))
                put("spent_nanos", breakdown.totalNanos)
                put("reserved_nanos", breakdown.reservedNanos)
                put("prices", prices)
                put("price_table", breakdown.priceTable)
                put("alerts", JsonArray(alerts.toList()))
                put("trace_id", if (scenario.str("traceparent") != null) JsonPrimitive(wf.traceId) else JsonNull)
                put("metrics", JsonArray(metrics.map(::JsonPrimitive)))
            }
        }
    }

    @Test
    fun `every scenario replays, and the ledger is written for the parity check`() {
        val file = JsonText.parse(File(dir, "scenarios.json").readText()).jsonObject
        val scenarios = file.getValue("scenarios").jsonArray.map { it.jsonObject }
        assertTrue(scenarios.size >= 36, "${scenarios.size} scenarios")
        val ledgers = scenarios.mapIndexed(::replay)
        // Nothing is left held once a scenario has ended.
        for (l in ledgers) assertEquals(JsonPrimitive(0), l["reserved_nanos"], l["name"].toString())
        val byName = ledgers.associateBy { (it["name"] as JsonPrimitive).content }
        assertEquals(JsonPrimitive("budget_exceeded"), byName.getValue("refused_before_sending")["status"])
        assertEquals(JsonPrimitive("failed"), byName.getValue("server_error_failed_run")["status"])
        assertEquals(JsonPrimitive("completed"), byName.getValue("chat_settled")["status"])
        val priced = byName.getValue("price_file_new_model")
        assertEquals(
            JsonText.parse("""{"added":["acme-frontier-9"],"changed":["gpt-4o"],"skipped":["acme-image-3"]}"""),
            priced["prices"],
        )
        assertTrue((priced["price_table"] as JsonPrimitive).content.contains(" + next-release.json (LiteLLM, "))
        assertEquals(JsonNull, byName.getValue("chat_settled")["prices"])
        val alerted = byName.getValue("budget_alerts")
        assertEquals(
            listOf("critic/threshold/50", "/threshold/50", "/soft_budget/100", "/threshold/80", "/threshold/95"),
            alerted.getValue("alerts").jsonArray.map {
                val a = it.jsonObject
                "${a.str("scope")}/${a.str("kind")}/${a.getValue("percent").jsonPrimitive.int}"
            },
        )
        assertEquals(JsonPrimitive("4bf92f3577b34da6a3ce929d0e0e4736"), alerted["trace_id"])
        assertEquals(JsonArray(emptyList()), byName.getValue("chat_settled")["alerts"])
        // Resilience: the refused retry's message says which attempt was not sent and why; the
        // open breaker refused the call before anything was reserved.
        val refusedRetry = byName.getValue("retry_refused_by_budget").getValue("events").jsonArray[2].jsonObject
        assertEquals("BUDGET_EXCEEDED", refusedRetry.str("error"))
        assertTrue(refusedRetry.str("message")!!.endsWith("(attempt 2 not sent: attempt 1 failed: connection reset)"), refusedRetry.toString())
        val breaker = byName.getValue("breaker_fails_fast")
        assertEquals(
            JsonText.parse("""{"op":"call","body":null,"error":"CIRCUIT_OPEN"}"""),
            breaker.getValue("events").jsonArray[5],
        )
        assertEquals(1, breaker.getValue("calls").jsonArray.size)
        // The approval threshold: gate 1 approved, the cheap call ungated, gate 2 denied.
        val gated = byName.getValue("approval_threshold_gates_costly_calls")
        assertEquals(
            listOf(null, null, null, "APPROVAL_DENIED", "APPROVAL_DENIED"),
            gated.getValue("events").jsonArray.map { it.jsonObject.str("error") },
        )
        assertEquals(2, gated.getValue("calls").jsonArray.size)
        // The researcher's share refuses its second call while the writer goes on; the cap of 3
        // refuses the fourth call reserved (the refused one did not count).
        val limited = byName.getValue("agent_budgets_and_call_cap")
        assertEquals(
            listOf(null, "BUDGET_EXCEEDED", null, null, "CALL_LIMIT"),
            limited.getValue("events").jsonArray.map { it.jsonObject.str("error") },
        )
        assertEquals(
            listOf("agent:researcher", "agent:researcher", "agent:writer", "", ""),
            limited.getValue("calls").jsonArray.map { it.jsonObject.str("step") },
        )
        // The wrapper counts a foreign error and STORAGE, not the five refusals, then refuses uncalled.
        val wrapped = byName.getValue("breaker_wrapper_counts_failures_not_refusals").getValue("events").jsonArray.map { it.jsonObject }
        assertEquals(List(7) { "closed" } + "open", wrapped.take(8).map { it.str("state") })
        assertEquals(
            JsonText.parse("""{"op":"breaker_call","raise":null,"error":"CIRCUIT_OPEN","called":false,"state":"open"}"""),
            wrapped[8],
        )
        assertEquals(
            JsonText.parse("""[{"name":"provider:openai","state":"open","failure_count":1}]"""),
            wrapped[11]["shared"],
        )

        val out = System.getenv("WFLO_PARITY_DIR") ?: return
        val ledger = buildJsonObject {
            put("face", "kotlin")
            put("scenarios", JsonArray(ledgers))
        }
        File(out).mkdirs()
        File(out, "kotlin.json").writeText(ledger.toString())
    }
}
