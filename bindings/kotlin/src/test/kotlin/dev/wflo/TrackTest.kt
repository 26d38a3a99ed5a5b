package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.math.BigDecimal
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/**
 * The trackers against `wflo mock-llm` (WFLO_BIN) with the JDK's HTTP client: shown the
 * request ([trackLlmRequest]), a $0.01 budget of 50-token gpt-4o calls is spent nearly whole
 * and never over; told only the model ([trackLlmCall]), the call is reserved up front and its
 * refusal says how to make it precise. The mock's request counter says what went out.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TrackTest {
    private val engine = Engine.open("memory://")
    private val http = HttpClient.newHttpClient()
    private lateinit var mock: Process
    private lateinit var base: String

    @BeforeAll
    fun startMock() {
        val bin = System.getenv("WFLO_BIN") ?: error("set WFLO_BIN to the wflo binary")
        mock = ProcessBuilder(bin, "mock-llm", "--port", "0").redirectErrorStream(true).start()
        base = mock.inputStream.bufferedReader().readLine().substringAfterLast(' ').trim()
    }

    @AfterAll
    fun stop() {
        mock.destroy()
        engine.close()
    }

    private fun post(directives: String, body: String): String = http.send(
        HttpRequest.newBuilder(URI.create("$base/mock/$directives/v1/chat/completions"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString(),
    ).body()

    private fun sent(): Int {
        val stats = http.send(HttpRequest.newBuilder(URI.create("$base/__mock/stats")).build(), HttpResponse.BodyHandlers.ofString()).body()
        return JsonText.parse(stats).jsonObject["chat.completions"]?.jsonPrimitive?.int ?: 0
    }

    private val fact = mapOf(
        "model" to "gpt-4o",
        "max_tokens" to 50,
        "messages" to listOf(mapOf("role" to "user", "content" to "One short fact about otters.")),
    )

    private fun WfloWorkflow.ok() = calls().map { it.jsonObject }.filter { it.getValue("status").jsonPrimitive.content == "ok" }

    @Test
    fun `shown the request, a small budget is spent nearly whole and never over`() = runBlocking {
        WfloWorkflow("small", BigDecimal("0.01"), engine).use { wf ->
            val before = sent()
            var answered = 0
            val refused = wf.execute {
                var refusal: BudgetExceededException? = null
                while (refusal == null) {
                    try {
                        trackLlmRequest("openai_chat", fact) { body -> post("reply=40", body).toByteArray() }
                        answered++
                    } catch (e: BudgetExceededException) {
                        refusal = e
                    }
                }
                refusal
            }
            val spent = wf.breakdown().totalNanos
            assertTrue(answered >= 10, "answered $answered")
            assertTrue(spent >= 9_000_000 && spent <= 10_000_000, "spent $spent of 10,000,000")
            assertEquals(answered, sent() - before, "the refused call was sent")
            assertTrue(wf.ok().all { it.getValue("reserved_nanos").jsonPrimitive.long < 1_000_000 })
            assertFalse(refused.message!!.contains("reserved up front"))
        }
    }

    @Test
    fun `told only the model, the call is reserved up front and the refusal says how to be precise`() = runBlocking {
        val body = JsonText.encode(fact, "request")
        WfloWorkflow("blind-small", BigDecimal("0.01"), engine).use { wf ->
            val before = sent()
            val e = assertThrows<BudgetExceededException> {
                runBlocking { wf.execute { trackLlmCall("gpt-4o", input = "hello") { post("reply=5", body) } } }
            }
            assertTrue(e.message!!.contains("the model's maximum output (16384 tokens), as no max_tokens was given"), e.message)
            assertTrue(e.message!!.contains("make the call through a client wflo meters"), e.message)
            assertEquals(before, sent(), "nothing sent")
        }
        WfloWorkflow("blind-roomy", 1, engine).use { wf ->
            val reply = wf.execute { trackLlmCall("gpt-4o", input = "hello") { post("reply=5", body).toByteArray() } }
            val call = wf.ok().single()
            assertTrue(call.getValue("reserved_nanos").jsonPrimitive.long > 100_000_000, "gpt-4o's maximum, reserved before sending")
            val usage = JsonText.parse(reply.decodeToString()).jsonObject.getValue("usage").jsonObject
            assertEquals(usage.getValue("completion_tokens").jsonPrimitive.long, call.getValue("usage").jsonObject.getValue("output").jsonPrimitive.long)
        }
        WfloWorkflow("fails", 1, engine).use { wf ->
            wf.start()
            assertThrows<IllegalStateException> {
                runBlocking { wf.execute { trackLlmCall("gpt-4o", maxTokens = 50) { error("the provider is down") } } }
            }
            assertEquals(0L, wf.breakdown().totalNanos)
            assertEquals(0L, wf.breakdown().reservedNanos)
        }
    }
}
