package dev.wflo

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.DynamicTest.dynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.fail
import java.io.File
import java.math.BigDecimal

/**
 * The shared vectors (tests/vectors, every file) from Kotlin, exactly as the Rust, Go, Python and
 * Node tests run them: the same engine must give the same answers through every door. One
 * JUnit test per case.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VectorsTest {
    private val dir = File(System.getProperty("wflo.vectors.dir") ?: "../../tests/vectors")
    private val memory = Engine.open("memory://")

    private fun load(name: String): JsonObject = Json.parseToJsonElement(File(dir, name).readText()).jsonObject

    private fun cases(file: JsonObject, key: String = "cases"): List<JsonObject> =
        file.getValue(key).jsonArray.map { it.jsonObject }

    private fun JsonObject.str(key: String): String? = (get(key) as? JsonPrimitive)?.takeIf { it.isString }?.content

    private fun JsonObject.num(key: String): Long? = (get(key) as? JsonPrimitive)?.takeIf { !it.isString && it !is JsonNull }?.long

    private fun usage(o: JsonElement?): Usage = if (o is JsonObject) Usage.of(o) else Usage()

    /** The stable code of what [block] threw, or null when it returned. */
    private inline fun codeOf(block: () -> Unit): String? =
        try {
            block()
            null
        } catch (e: WfloException) {
            e.code
        }

    @AfterAll
    fun close() = memory.close()

    @Test
    fun `the vectors are there`() {
        assertTrue(cases(load("usage.json")).size >= 45)
        assertTrue(cases(load("pricing.json")).size >= 50)
        assertTrue(cases(load("budget.json")).size >= 10)
    }

    @TestFactory
    fun pricing(): List<DynamicTest> = cases(load("pricing.json")).map { c ->
        dynamicTest(c.str("name")) {
            val model = c.str("model")!!
            val u = usage(c["usage"])
            val error = c.str("error")
            if (error != null) {
                assertEquals(error, codeOf { memory.cost(model, u) })
            } else {
                assertEquals(c.num("expected_nanos"), memory.cost(model, u))
                assertEquals(c.str("resolved"), memory.price(model).resolved)
            }
        }
    }

    @TestFactory
    fun usage(): List<DynamicTest> = cases(load("usage.json")).map { c ->
        dynamicTest(c.str("name")) {
            val format = c.str("format")!!
            var state: StreamState? = null
            var got: Usage? = null
            val code = codeOf {
                if (format.endsWith("_stream")) {
                    Stream(format.removeSuffix("_stream")).use { s ->
                        c.getValue("events").jsonArray.forEach { s.push(it.toString()) }
                        state = s.state()
                    }
                    got = state!!.usage
                } else {
                    got = parseUsage(c.str("payload_text") ?: c.getValue("payload").toString(), format)
                }
            }
            val error = c.str("error")
            when {
                error != null -> assertEquals(error, code)
                code != null -> fail("unexpected $code")
                (c["usage_missing"] as? JsonPrimitive)?.booleanOrNull == true -> {
                    val s = state ?: fail("no stream state")
                    assertFalse(s.usage != null && s.complete, "usage should be missing: $s")
                    assertEquals(c.str("text"), s.text)
                }
                c["expected"] is JsonObject -> assertEquals(usage(c["expected"]), got)
                else -> fail("a case with no outcome")
            }
        }
    }

    @TestFactory
    fun tokens(): List<DynamicTest> {
        val file = load("tokens.json")
        val texts = cases(file, "texts").map { c ->
            dynamicTest("text ${c.str("name")}") {
                for ((model, key) in listOf("gpt-4o" to "o200k_base", "gpt-4" to "cl100k_base")) {
                    val count = memory.countTokens(model, c.str("text")!!)
                    assertEquals(c.num(key), count.tokens, model)
                    assertFalse(count.estimated, model)
                }
            }
        }
        val chats = cases(file, "chat").map { c ->
            dynamicTest("chat ${c.str("name")}") {
                val model = if (c.str("encoding") == "o200k_base") "gpt-4o" else "gpt-4"
                assertEquals(c.num("expected"), memory.countChatTokens(model, c.getValue("messages").toString()).tokens)
            }
        }
        return texts + chats
    }

    @TestFactory
    fun budget(): List<DynamicTest> {
        val file = load("budget.json")
        val prices = file.getValue("prices").toString()
        return cases(file).map { c -> dynamicTest(c.str("name")) { runBudgetCase(prices, c) } }
    }

    private val cacheWrite = mapOf(
        null to CacheWrite.NONE, "none" to CacheWrite.NONE,
        "five_minutes" to CacheWrite.FIVE_MINUTES, "one_hour" to CacheWrite.ONE_HOUR,
    )

    private fun runBudgetCase(prices: String, c: JsonObject) = Engine.open("memory://").use { engine ->
        engine.setPrices(prices)
        WfloWorkflow(c.str("name")!!, c.str("budget_usd")?.let(::BigDecimal), engine).use { wf ->
            wf.startBlocking()
            val held = mutableMapOf<String, Reservation>()
            for ((i, step) in c.getValue("steps").jsonArray.map { it.jsonObject }.withIndex()) {
                val op = step.str("op")
                val actual = mutableMapOf<String, Any?>()
                fun fromError(e: WfloException) {
                    actual["error"] = e.code
                    if (e is BudgetExceededException) {
                        actual += mapOf(
                            "scope" to e.scope, "limit_nanos" to e.limitNanos, "spent_nanos" to e.spentNanos,
                            "reserved_nanos" to e.reservedNanos, "requested_nanos" to e.requestedNanos,
                        )
                    }
                }
                fun settled(block: () -> Settled) = try {
                    val s = block()
                    actual["cost_nanos"] = s.costNanos
                    actual["overrun_nanos"] = s.overrunNanos
                } catch (e: WfloException) {
                    fromError(e)
                }
                when (op) {
                    "scope" -> wf.scope(step.str("label")!!, step.str("budget_usd")?.let(::BigDecimal))
                    "reserve" -> {
                        val asked = step.num("max_output_tokens") ?: 0
                        val request = CallRequest(
                            model = step.str("model")!!,
                            inputTokens = step.num("input_tokens") ?: 0,
                            maxOutputTokens = asked.takeIf { it > 0 },
                            inputEstimated = (step["estimated"] as? JsonPrimitive)?.booleanOrNull ?: false,
                            cacheWrite = cacheWrite.getValue(step.str("cache_write")),
                            clampMaxTokens = (step["clamp"] as? JsonPrimitive)?.booleanOrNull ?: false,
                        )
                        try {
                            val scope: BudgetScope = step.str("scope")?.let { wf.scope(it) } ?: wf
                            val r = scope.reserve(request)
                            held[step.str("id")!!] = r
                            actual["amount_nanos"] = r.amountNanos
                            actual["max_output_tokens"] = r.maxOutputTokens
                            actual["clamped"] = asked > 0 && r.maxOutputTokens < asked
                        } catch (e: WfloException) {
                            fromError(e)
                        }
                    }
                    "settle" -> settled { held.getValue(step.str("id")!!).settle(usage(step["usage"])) }
                    "settle_raw" -> settled {
                        held.getValue(step.str("id")!!).settleJson(step.str("format")!!, step.getValue("payload").toString())
                    }
                    "release" -> try {
                        held.getValue(step.str("id")!!).release("error", "vector")
                    } catch (e: WfloException) {
                        fromError(e)
                    }
                    "record" -> settled { wf.recordCall(step.str("model")!!, (step["usage"] ?: JsonObject(emptyMap())).toString(), "wflo") }
                    "breakdown" -> actual += wf.breakdown().json
                    else -> fail("unknown op $op")
                }
                for ((key, want) in (step["expect"] as? JsonObject ?: JsonObject(emptyMap()))) {
                    assertTrue(same(want, actual[key]), "step $i ($op): $key = ${actual[key]}, want $want")
                }
            }
            held.values.forEach { it.close() }
        }
    }

    /** A vector's expected JSON value against what the binding returned. */
    private fun same(want: JsonElement, got: Any?): Boolean {
        val g = if (got is JsonElement) got else JsonText.toElement(got, "actual")
        if (want is JsonPrimitive && g is JsonPrimitive && !want.isString && !g.isString && want !is JsonNull && g !is JsonNull) {
            val (a, b) = want.content.toBigDecimalOrNull() to g.content.toBigDecimalOrNull()
            if (a != null && b != null) return a.compareTo(b) == 0
        }
        return want == g
    }
}
