package dev.wflo

import dev.wflo.ffi.Alert as NativeAlert
import dev.wflo.ffi.AlertListener
import dev.wflo.ffi.CheckpointState
import dev.wflo.ffi.LangGraphAnswer
import dev.wflo.ffi.NativeEngine
import dev.wflo.ffi.NativeLangGraphCheckpointer
import dev.wflo.ffi.NativeScope
import dev.wflo.ffi.NativeStream
import dev.wflo.ffi.RequestReserved
import dev.wflo.ffi.StartOptions
import dev.wflo.ffi.isRefusal
import dev.wflo.ffi.parseUsd
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.put
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.fail
import java.io.File
import java.util.HexFormat

/**
 * The parity suite through the generated UniFFI objects alone (NativeEngine, NativeExecution,
 * NativeScope, NativeReservation, NativeStream) — the path the Swift layer takes, which has no
 * toolchain here: Kotlin's own layer reserves through the C ABI instead. With WFLO_PARITY_DIR
 * set the ledger is written as `uniffi.json` and must equal Rust's byte for byte.
 */
class UniffiParityTest {
    private companion object {
        /** The metrics lines every face must agree on (the duration histogram's timings differ run to run). */
        val METRIC_PREFIXES = listOf(
            "wflo_cost_usd_total{", "wflo_calls_total{", "wflo_refusals_total{", "wflo_alerts_total{",
            "wflo_budget_remaining_usd{",
        )
    }

    private val dir = File(System.getProperty("wflo.vectors.dir") ?: "../../tests/vectors")

    private fun JsonObject.str(key: String): String? = (get(key) as? JsonPrimitive)?.takeIf { it.isString }?.content

    /** The stable code of a generated exception: its class name in upper snake case. */
    private fun code(e: dev.wflo.ffi.WfloException): String =
        e::class.simpleName!!.replace(Regex("([a-z])([A-Z])"), "$1_$2").uppercase()

    /**
     * The scenario's price file (relative to tests/vectors) loaded through the generated
     * `loadPrices`, as the ledger records it: the names it added, changed and skipped (JsonNull:
     * no file). The generated layer hands back the engine's JSON, read here as the Swift layer does.
     */
    private fun loadPrices(engine: NativeEngine, scenario: JsonObject): JsonElement {
        val file = scenario.str("prices_file") ?: return JsonNull
        val changes = try {
            JsonText.parse(engine.loadPrices(File(dir, file).path)).jsonObject
        } catch (e: dev.wflo.ffi.WfloException) {
            return buildJsonObject { put("error", code(e)) }
        }
        fun names(key: String) = JsonArray(changes.getValue(key).jsonArray.map {
            if (it is JsonObject) it.getValue("name") else it
        })
        return buildJsonObject {
            put("added", names("added"))
            put("changed", names("changed"))
            put("skipped", names("skipped"))
        }
    }

    /** The scenario's shared scopes defined in order; the names the execution starts with (each once). */
    private fun defineSharedScopes(engine: NativeEngine, scenario: JsonObject): List<String> {
        val names = mutableListOf<String>()
        for (d in (scenario["shared_scopes"] as? JsonArray).orEmpty().map { it.jsonObject }) {
            val name = d.str("name")!!
            engine.defineSharedScope(
                name, d.str("limit_usd")?.let(::parseUsd), d.str("period") ?: "none",
                (d["allowances"] as? JsonPrimitive)?.booleanOrNull,
            )
            if (name !in names) names += name
        }
        return names
    }

    /** A `checkpoint_binary` step's bytes: its lowercase `hex`, repeated `repeat` times (absent: once). */
    private fun scenarioBytes(step: JsonObject): ByteArray {
        val once = HexFormat.of().parseHex(step.str("hex")!!)
        val repeat = (step["repeat"] as? JsonPrimitive)?.intOrNull ?: 1
        return ByteArray(once.size * repeat) { once[it % once.size] }
    }

    /** The generated state as the ledger keeps it: JSON under "state" (null: none), bytes as hex under "binary". */
    private fun stateEvent(op: String, state: CheckpointState?): JsonObject = buildJsonObject {
        put("op", op)
        when (state) {
            null -> put("state", JsonNull)
            is CheckpointState.Json -> put("state", JsonText.parse(state.text))
            is CheckpointState.Binary -> put("binary", buildJsonObject {
                put("content_type", state.contentType); put("hex", HexFormat.of().formatHex(state.bytes))
            })
        }
    }

    /**
     * A `langgraph` step as the wire takes it: the request with its values listed as
     * `[type, byte length]`, and their bytes one after another.
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

    /** A generated `langgraph` answer as the ledger keeps it: its JSON, its values as `[type, hex]`. */
    private fun langgraphEvent(answer: LangGraphAnswer): JsonObject {
        var parsed = JsonText.parse(answer.json)
        if (parsed is JsonObject && "values" in parsed) {
            val values = answer.values.map {
                JsonArray(listOf(JsonPrimitive(it.kind), JsonPrimitive(HexFormat.of().formatHex(it.data))))
            }
            parsed = JsonObject(parsed + ("values" to JsonArray(values)))
        }
        return buildJsonObject { put("op", "langgraph"); put("answer", parsed) }
    }

    private fun replay(engine: NativeEngine, index: Int, scenario: JsonObject): JsonObject {
        val name = scenario.str("name")!!
        val prices = loadPrices(engine, scenario)
        val sharedScopes = defineSharedScopes(engine, scenario)
        // The generated callback interface, registered before the execution starts.
        val alerts = java.util.Collections.synchronizedList(mutableListOf<JsonElement>())
        engine.addAlertListener(object : AlertListener {
            override fun onAlert(alert: NativeAlert) {
                alerts += buildJsonObject {
                    put("scope", alert.scope)
                    put("kind", alert.kind)
                    put("percent", alert.percent.toLong())
                    put("limit_nanos", alert.limitNanos.toLong())
                    put("spent_nanos", alert.spentNanos.toLong())
                }
            }
        })
        val traceparent = scenario.str("traceparent")
        val exec = engine.startExecution(
            name, scenario.str("budget_usd")?.let(::parseUsd),
            StartOptions(
                id = "exec-%012x".format(index + 1),
                traceparent = traceparent,
                alertThresholds = (scenario["alert_thresholds"] as? JsonArray)?.map { it.jsonPrimitive.long.toUInt() },
                softBudgetNanos = scenario.str("soft_budget_usd")?.let(::parseUsd),
                approvalAboveNanos = scenario.str("approval_above_usd")?.let(::parseUsd),
                maxCalls = (scenario["max_calls"] as? JsonPrimitive)?.long?.toULong(),
                agentBudgets = (scenario["agent_budgets_usd"] as? JsonObject)?.mapValues { parseUsd(it.value.jsonPrimitive.content) },
                sharedScopes = sharedScopes,
            ),
        )
        val scopes = mutableMapOf<String, NativeScope>()
        var saver: NativeLangGraphCheckpointer? = null // made at the first langgraph step
        val events = mutableListOf<JsonElement>()
        for (step in scenario.getValue("steps").jsonArray.map { it.jsonObject }) {
            when (val op = step.str("op")) {
                "scope" -> {
                    val label = step.str("label")!!
                    val budget = step.str("budget_usd")?.let(::parseUsd)
                    scopes[label] = when (val parent = step.str("parent")) {
                        null -> exec.scope(label, budget)
                        else -> scopes.getValue(parent).child(label, budget)
                    }
                    events += buildJsonObject { put("op", "scope"); put("label", label) }
                }
                "breaker" -> {
                    val breaker = engine.breaker(step.str("name")!!, step["config"]?.toString())
                    for (action in step.getValue("actions").jsonArray.map { it.jsonPrimitive.content }) {
                        var error: String? = null
                        when (action) {
                            "check" -> try {
                                breaker.check()
                            } catch (e: dev.wflo.ffi.WfloException) {
                                error = code(e)
                            }
                            "failure" -> breaker.recordFailure()
                            "success" -> breaker.recordSuccess()
                            "reset" -> breaker.reset()
                            else -> fail("$name: unknown breaker action $action")
                        }
                        events += buildJsonObject {
                            put("op", "breaker"); put("action", action); put("state", breaker.state()); put("error", error)
                        }
                    }
                    breaker.close()
                }
                "breaker_call" -> {
                    // The generated layer has no wrapper: check, then record what the call did,
                    // leaving the engine's refusals (isRefusal) neither a failure nor a success.
                    val breaker = engine.breaker(step.str("name")!!, step["config"]?.toString())
                    val raise = step.str("raise")
                    val refused = try {
                        breaker.check()
                        null
                    } catch (e: dev.wflo.ffi.WfloException) {
                        code(e)
                    }
                    if (refused == null) {
                        when {
                            raise == null -> breaker.recordSuccess()
                            !isRefusal(raise) -> breaker.recordFailure()
                        }
                    }
                    events += buildJsonObject {
                        put("op", "breaker_call"); put("raise", raise); put("error", refused ?: raise); put("called", refused == null)
                        put("state", breaker.state())
                    }
                    breaker.close()
                }
                "breakers" -> {
                    val onStore = JsonText.parse(engine.breakersOnStoreJson(null, 100u)).jsonObject
                    fun pick(key: String, fields: List<String>) = JsonArray(
                        onStore.getValue(key).jsonArray.map { o -> JsonObject(fields.associateWith { o.jsonObject.getValue(it) }) },
                    )
                    events += buildJsonObject {
                        put("op", "breakers")
                        put("shared", pick("shared", listOf("name", "state", "failure_count")))
                        put("transitions", pick("transitions", listOf("breaker", "shared", "from", "to", "reason")))
                    }
                }
                "resource" -> {
                    // The generated resource takes the scenario's settings as the engine's JSON.
                    val lock = engine.resource(step.str("name")!!, step["config"]?.toString())
                    val permits = mutableMapOf<String, dev.wflo.ffi.NativePermit>()
                    for (action in step.getValue("actions").jsonArray.map { it.jsonObject }) {
                        val acquire = action.str("acquire")
                        val release = action.str("release")
                        events += when {
                            acquire != null -> {
                                val timeout = (action["timeout_ms"] as? JsonPrimitive)?.long?.toULong()
                                val error = try {
                                    permits[acquire] = lock.acquire(acquire, timeout)
                                    null
                                } catch (e: dev.wflo.ffi.WfloException) {
                                    code(e)
                                }
                                buildJsonObject {
                                    put("op", "resource"); put("action", "acquire"); put("workflow", acquire); put("error", error)
                                }
                            }
                            release != null -> {
                                permits.remove(release)!!.let { it.release(); it.close() }
                                buildJsonObject { put("op", "resource"); put("action", "release"); put("workflow", release) }
                            }
                            else -> {
                                val st = JsonText.parse(lock.statsJson()).jsonObject
                                buildJsonObject {
                                    put("op", "resource"); put("action", "stats")
                                    for (k in listOf("acquisitions", "contentions", "timeouts")) put(k, st.getValue(k))
                                    put("holders", JsonArray(st.getValue("holders").jsonArray.map { it.jsonObject.getValue("workflow_id") }))
                                }
                            }
                        }
                    }
                    permits.values.forEach { it.close() }
                    lock.close()
                }
                "shared" -> {
                    val figures = JsonText.parse(engine.sharedScopeJson(step.str("name")!!)).jsonObject
                    val kept = listOf(
                        "name", "limit_nanos", "spent_nanos", "reserved_nanos", "overrun_nanos", "refusing", "allowances",
                        "allowance_nanos", "allowance_holders",
                    )
                    events += buildJsonObject {
                        put("op", "shared")
                        for (k in kept) put(k, figures.getValue(k))
                    }
                }
                "approval" -> {
                    val request = step.getValue("request").jsonObject
                    val asked = JsonText.parse(exec.requestApproval(request.toString())).jsonObject
                    val id = asked.str("id")!!
                    (step["decide"] as? JsonObject)?.let { d ->
                        engine.decideApproval(id, d.getValue("approve").jsonPrimitive.content == "true", d.str("by"), d.str("note"))
                    }
                    val event = try {
                        val got = JsonText.parse(exec.waitForApprovalBlocking(id, 0uL)).jsonObject
                        buildJsonObject {
                            put("status", got.getValue("status")); put("decided_by", got.getValue("decided_by")); put("note", got.getValue("note"))
                            put("error", JsonNull); put("timed_out", JsonNull)
                        }
                    } catch (e: dev.wflo.ffi.WfloException.ApprovalDenied) {
                        buildJsonObject {
                            put("status", JsonNull); put("decided_by", e.by); put("note", e.note)
                            put("error", code(e)); put("timed_out", e.timedOut)
                        }
                    }
                    events += JsonObject(
                        event + mapOf(
                            "op" to JsonPrimitive("approval"), "gate" to request.getValue("gate"), "asked" to asked.getValue("status"),
                        ),
                    )
                }
                "retry_call" -> {
                    val format = step.str("format")!!
                    val body = step.getValue("request").toString()
                    // The generated retrier speaks the engine's JSON: the policy and each failure as given.
                    val retrier = engine.retrier(step.getValue("policy").toString())
                    for (outcome in step.getValue("attempts").jsonArray.map { it.jsonObject }) {
                        val attempt = retrier.attempt().toLong()
                        val made = try {
                            exec.reserveRequest(format, body, null)
                        } catch (e: dev.wflo.ffi.WfloException) {
                            // The generated error's detail is the engine's message; the retrier re-words it.
                            val message = when (e) {
                                is dev.wflo.ffi.WfloException.BudgetExceeded -> retrier.refusedMessage(e.detail)
                                else -> fail("$name: a retry refused with ${code(e)}")
                            }
                            events += buildJsonObject {
                                put("op", "attempt"); put("attempt", attempt); put("error", code(e)); put("message", message)
                            }
                            break
                        }
                        events += buildJsonObject { put("op", "attempt"); put("attempt", attempt); put("error", JsonNull) }
                        val call = made.reservation
                        if ("result" in outcome) {
                            call.settleResult(format, outcome.getValue("result").toString(), "ok")
                            call.close()
                            break
                        }
                        val failure = outcome.getValue("failure").jsonObject
                        when (val text = outcome.str("text")) {
                            null -> call.release("error", failure.str("message"))
                            else -> call.settleText(text, "error")
                        }
                        call.close()
                        val decision = JsonText.parse(retrier.next(failure.toString())).jsonObject
                        events += JsonObject(decision + ("op" to JsonPrimitive("retry")))
                        if (decision.str("decision") == "give_up") break
                    }
                    retrier.close()
                }
                "call" -> {
                    val breaker = step.str("breaker")?.let { engine.breaker(it, null) }
                    try {
                        breaker?.check()
                    } catch (e: dev.wflo.ffi.WfloException) {
                        events += buildJsonObject { put("op", "call"); put("body", JsonNull); put("error", code(e)) }
                        breaker?.close()
                        continue
                    }
                    val format = step.str("format")!!
                    val body = step.getValue("request").toString()
                    val options = step["options"]?.toString()
                    val made: RequestReserved = try {
                        when (val label = step.str("scope")) {
                            null -> exec.reserveRequest(format, body, options)
                            else -> scopes.getValue(label).reserveRequest(format, body, options)
                        }
                    } catch (e: dev.wflo.ffi.WfloException) {
                        events += buildJsonObject { put("op", "call"); put("body", JsonNull); put("error", code(e)) }
                        continue
                    }
                    events += buildJsonObject { put("op", "call"); put("body", JsonText.parse(made.body)); put("error", JsonNull) }
                    val outcome = step.getValue("outcome").jsonObject
                    val call = made.reservation
                    when {
                        "result" in outcome -> call.settleResult(format, outcome.getValue("result").toString(), outcome.str("status"))
                        "stream" in outcome -> NativeStream(format).use { stream ->
                            outcome.getValue("stream").jsonArray.forEach { stream.push(it.toString()) }
                            call.settleStream(stream, outcome.str("status")!!)
                        }
                        "error" in outcome -> call.release("error", outcome.str("error"))
                        "text" in outcome -> call.settleText(outcome.str("text")!!, outcome.str("status")!!)
                        else -> fail("$name: unknown outcome $outcome")
                    }
                    call.close()
                    if (breaker != null) {
                        if ("error" in outcome) breaker.recordFailure() else breaker.recordSuccess()
                        breaker.close()
                    }
                }
                "checkpoint" -> {
                    val cp = step.str("name")!!
                    exec.checkpoint(cp, step.getValue("state").toString())
                    events += buildJsonObject { put("op", "checkpoint"); put("name", cp) }
                }
                "checkpoint_binary" -> {
                    val cp = step.str("name")!!
                    // No content type: null, the generated layer's none.
                    events += try {
                        val info = JsonText.parse(exec.checkpointBinary(cp, step.str("content_type"), scenarioBytes(step))).jsonObject
                        buildJsonObject {
                            put("op", "checkpoint_binary"); put("name", cp)
                            put("content_type", info.getValue("content_type")); put("state_bytes", info.getValue("state_bytes"))
                        }
                    } catch (e: dev.wflo.ffi.WfloException) {
                        buildJsonObject { put("op", "checkpoint_binary"); put("name", cp); put("error", code(e)) }
                    }
                }
                "checkpoints_since" -> {
                    val since = exec.checkpointsSince(step.getValue("after").jsonPrimitive.long.toULong())
                    val list = JsonText.parse(since.checkpointsJson).jsonArray.map { it.jsonObject }
                    events += buildJsonObject {
                        put("op", "checkpoints_since")
                        put("names", JsonArray(list.map { it.getValue("name") }))
                        put("sequences", JsonArray(list.map { it.getValue("sequence") }))
                        put("superseded", JsonArray(list.map { it.getValue("superseded") }))
                        put("rollbacks", since.rollbacks.toLong())
                    }
                }
                "checkpoints_since_with_state" -> events += try {
                    val read = exec.checkpointsSinceWithState(
                        step.getValue("after").jsonPrimitive.long.toULong(), step.getValue("id").jsonPrimitive.long.toULong(),
                    )
                    val list = JsonText.parse(read.checkpointsJson).jsonArray.map { it.jsonObject }
                    JsonObject(stateEvent("checkpoints_since_with_state", read.state) + buildJsonObject {
                        put("names", JsonArray(list.map { it.getValue("name") }))
                        put("sequences", JsonArray(list.map { it.getValue("sequence") }))
                        put("superseded", JsonArray(list.map { it.getValue("superseded") }))
                        put("rollbacks", read.rollbacks.toLong())
                    })
                } catch (e: dev.wflo.ffi.WfloException) {
                    buildJsonObject { put("op", "checkpoints_since_with_state"); put("error", code(e)) }
                }
                "langgraph" -> {
                    val checkpointer = saver ?: NativeLangGraphCheckpointer().also { saver = it }
                    val (request, bytes) = langgraphRequest(step)
                    events += try {
                        langgraphEvent(checkpointer.call(exec, request, bytes))
                    } catch (e: dev.wflo.ffi.WfloException) {
                        buildJsonObject { put("op", "langgraph"); put("error", code(e)) }
                    }
                }
                "rollback" -> events += stateEvent("rollback", exec.rollbackToCheckpointAny(step.str("name")!!))
                "latest" -> events += stateEvent("latest", exec.latestCheckpointAny())
                else -> fail("$name: unknown op $op")
            }
        }
        saver?.close()
        val end = scenario["end"]
        val status = exec.end(if (end is JsonArray) end.map { it.jsonPrimitive.content } else null)
        val calls = JsonText.parse(exec.callsJson())
        val breakdown = JsonText.parse(exec.breakdownJson()).jsonObject
        val traceId = traceparent?.let { exec.traceId() }
        scopes.values.forEach { it.close() }
        exec.close()
        val metrics = engine.metricsText().lines().filter { line -> METRIC_PREFIXES.any(line::startsWith) }
        return buildJsonObject {
            put("name", name)
            put("events", JsonArray(events))
            put("status", status)
            put("calls", calls)
            put("spent_nanos", breakdown.getValue("total_nanos").jsonPrimitive.long)
            put("reserved_nanos", breakdown.getValue("reserved_nanos").jsonPrimitive.long)
            put("prices", prices)
            put("price_table", breakdown.getValue("price_table"))
            put("alerts", JsonArray(alerts.toList()))
            put("trace_id", traceId?.let(::JsonPrimitive) ?: JsonNull)
            put("metrics", JsonArray(metrics.map(::JsonPrimitive)))
        }
    }

    @Test
    fun `every scenario replays through the generated UniFFI objects (the Swift path)`() {
        val file = JsonText.parse(File(dir, "scenarios.json").readText()).jsonObject
        val scenarios = file.getValue("scenarios").jsonArray.map { it.jsonObject }
        // An engine of its own for each scenario: a price file one loads must not reach the next.
        val ledgers = scenarios.mapIndexed { i, s -> NativeEngine.open("memory://").use { engine -> replay(engine, i, s) } }
        assertTrue(ledgers.size >= 36)
        // Nothing is left held once a scenario has ended.
        for (l in ledgers) assertTrue(l.getValue("reserved_nanos").jsonPrimitive.long == 0L, l["name"].toString())
        val out = System.getenv("WFLO_PARITY_DIR") ?: return
        File(out).mkdirs()
        File(out, "uniffi.json").writeText(buildJsonObject {
            put("face", "uniffi")
            put("scenarios", JsonArray(ledgers))
        }.toString())
    }
}
