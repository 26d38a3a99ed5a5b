package dev.wflo

import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * Price files from Kotlin: [Engine.loadPrices] (LiteLLM's JSON as published, wflo's own
 * schema), what a load reports, a bad file refused whole with its line, WFLO_PRICES read by
 * every new engine, and the table a breakdown names. The rules are core's; this checks the
 * face carries them.
 */
class PricesTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    private fun write(dir: Path, name: String, text: String): Path = dir.resolve(name).also { it.toFile().writeText(text) }

    @Test
    fun `a LiteLLM file adds a model that is then priced`(@TempDir dir: Path) {
        val file = write(dir, "next.json", NEXT_RELEASE)
        assertThrows<UnknownModelException> { engine.cost("acme-frontier-9", Usage(input = 1)) }
        val gpt4o = engine.cost("gpt-4o", Usage(input = 1_000_000))

        val changes = engine.loadPrices(file)
        assertEquals(file.toString(), changes.origin)
        assertEquals("litellm", changes.format)
        assertEquals(2L, changes.models)
        assertEquals(listOf("acme-frontier-9"), changes.added)
        assertEquals(
            listOf(PriceChange("gpt-4o", listOf(PriceFieldChange("input", JsonPrimitive(2_500_000), JsonPrimitive(5_000_000))))),
            changes.changed,
        )
        assertEquals(0L, changes.unchanged)
        val skipped = changes.skipped.single()
        assertEquals("acme-image-3" to 19L, skipped.name to skipped.line)
        assertTrue(skipped.reason.isNotEmpty())

        // $3 + $15 per million, and gpt-4o's input at the file's $5/M (twice the table's).
        assertEquals(18_000_000_000L, engine.cost("acme-frontier-9", Usage(input = 1_000_000, output = 1_000_000)))
        assertEquals(2 * gpt4o, engine.cost("gpt-4o", Usage(input = 1_000_000)))
        assertEquals("acme-frontier-9", engine.price("acme-frontier-9").resolved)

        val table = engine.priceTable()
        val loaded = table.files.single()
        assertEquals(PriceFile(file.toString(), "litellm", null, loaded.retrieved, 2L), loaded)
        assertTrue(!loaded.retrieved.isNullOrEmpty(), "LiteLLM's file states no date: the day it was written")
        assertTrue(table.overrides >= 2, "${table.overrides}")

        // The same file again (by its path as a String) changes nothing.
        val again = engine.loadPrices(file.toString())
        assertTrue(again.added.isEmpty() && again.changed.isEmpty(), "$again")
        assertEquals(2L, again.unchanged)
    }

    @Test
    fun `a call is reserved and settled at the file's prices, and the breakdown names the file`(@TempDir dir: Path) {
        engine.loadPrices(write(dir, "next.json", NEXT_RELEASE))
        WfloWorkflow("priced", "0.05".toBigDecimal(), engine).use { wf ->
            val made = wf.reserveRequest(
                "openai_chat",
                """{"model":"acme-frontier-9","max_tokens":400,"messages":[{"role":"user","content":"Plan the migration."}]}""",
            )
            made.reservation.use {
                it.settleResult(
                    "openai_chat",
                    """{"model":"acme-frontier-9","choices":[{"index":0,"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":300,"total_tokens":314}}""",
                )
            }
            wf.endBlocking()
            val b = wf.breakdown()
            assertEquals(14L * 3_000 + 300L * 15_000, b.totalNanos)
            assertTrue(b.priceTable.startsWith(engine.priceTable().source), b.priceTable)
            assertTrue(b.priceTable.contains(" + next.json (LiteLLM, "), b.priceTable)
            assertEquals(JsonPrimitive(b.priceTable), b.json["price_table"])
        }
    }

    @Test
    fun `a bad file throws the typed exception naming the line, and nothing is applied`(@TempDir dir: Path) {
        val bad = write(dir, "bad.json", BAD)
        val gpt4o = engine.cost("gpt-4o", Usage(input = 1000))

        val e = assertThrows<InvalidArgumentException> { engine.loadPrices(bad) }
        assertEquals("INVALID_ARGUMENT", e.code)
        val message = e.message!!
        assertTrue(message.contains("bad.json, line 4") && message.contains("acme-b") && message.contains("must be a number"), message)

        assertThrows<UnknownModelException> { engine.cost("acme-a", Usage(input = 1)) }
        assertEquals(gpt4o, engine.cost("gpt-4o", Usage(input = 1000)))
        assertTrue(engine.priceTable().files.isEmpty())

        val missing = assertThrows<InvalidArgumentException> { engine.loadPrices(dir.resolve("missing.json")) }
        assertTrue(missing.message!!.contains("cannot read the price file"), missing.message)
    }

    @Test
    fun `the breakdown names the built-in table, then the file loaded over it`(@TempDir dir: Path) {
        WfloWorkflow("named", engine = engine).use { wf ->
            wf.startBlocking()
            val table = engine.priceTable()
            assertTrue(table.files.isEmpty() && table.models > 1000, "$table")
            assertEquals("${table.source} ${table.version} (${table.retrieved})", wf.breakdown().priceTable)

            val ours = write(
                dir, "ours.json",
                """{"schema_version": 1, "source": {"version": "2026-12-01", "retrieved": "2026-12-01"},
                   "models": [{"name": "in-house-llm", "provider": "vllm", "input": 100000, "output": 200000}]}""",
            )
            val changes = engine.loadPrices(ours)
            assertEquals("wflo", changes.format)
            assertEquals(listOf("in-house-llm"), changes.added)
            val loaded = engine.priceTable().files.single()
            assertEquals("2026-12-01" to "2026-12-01", loaded.version to loaded.retrieved)
            assertTrue(wf.breakdown().priceTable.endsWith(" + ours.json (wflo 2026-12-01, 2026-12-01)"), wf.breakdown().priceTable)
            wf.endBlocking()
        }
    }

    /** [PricesEnvChild] in a JVM of its own, with WFLO_PRICES set (a JVM cannot set its own environment). */
    private fun runChild(prices: Path): kotlinx.serialization.json.JsonObject {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val classPath = System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path")
        val process = ProcessBuilder(java, "-cp", classPath, PricesEnvChild::class.java.name)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .apply { environment()["WFLO_PRICES"] = prices.toString() }
            .start()
        val out = process.inputStream.bufferedReader().readText()
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish")
        assertEquals(0, process.exitValue(), out)
        return JsonText.parse(out.trim().lines().last()).jsonObject
    }

    @Test
    fun `WFLO_PRICES is loaded by every new engine, and a bad file refuses to open it`(@TempDir dir: Path) {
        val file = write(dir, "next.json", NEXT_RELEASE)
        val got = runChild(file)
        assertEquals(3_000_000_000L, got.getValue("cost").jsonPrimitive.long)
        assertEquals(file.toString(), got.getValue("file").jsonPrimitive.content)
        assertTrue(got.getValue("price_table").jsonPrimitive.content.contains(" + next.json (LiteLLM, "), "$got")

        val failed = runChild(write(dir, "bad.json", BAD))
        assertEquals("INVALID_ARGUMENT", failed.getValue("error").jsonPrimitive.content)
        val message = failed.getValue("message").jsonPrimitive.content
        assertTrue(message.contains("WFLO_PRICES: price file") && message.contains("line 4"), message)
        assertNull(failed["cost"])
    }

    companion object {
        /**
         * What next week's LiteLLM file looks like: a model the built-in table lacks, a new price
         * for one it has, and an image-priced entry (not a per-token price: skipped, on line 19).
         */
        val NEXT_RELEASE = """
            {
                "sample_spec": {
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "litellm_provider": "one of https://docs.litellm.ai/docs/providers"
                },
                "acme-frontier-9": {
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "max_output_tokens": 32000,
                    "input_cost_per_token": 3e-06,
                    "output_cost_per_token": 1.5e-05
                },
                "gpt-4o": {
                    "litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000, "max_output_tokens": 16384,
                    "input_cost_per_token": 5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
                    "deprecation_date": "2027-01-14"
                },
                "acme-image-3": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04}
            }
        """.trimIndent() + "\n"

        /** The third entry's price is a string: refused at line 4, and lines 2 and 3 are not applied either. */
        val BAD = "{\n" +
            "  \"acme-a\": {\"litellm_provider\": \"openai\", \"input_cost_per_token\": 1e-6, \"output_cost_per_token\": 2e-6},\n" +
            "  \"gpt-4o\": {\"input_cost_per_token\": 9e-6, \"output_cost_per_token\": 9e-6},\n" +
            "  \"acme-b\": {\"input_cost_per_token\": \"0.000001\", \"output_cost_per_token\": 2e-6}\n" +
            "}\n"
    }
}

/** Run by [PricesTest] in a JVM of its own with WFLO_PRICES set: prints what the new engine prices with, as JSON. */
object PricesEnvChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val out = try {
            Engine.open("memory://").use { engine ->
                WfloWorkflow("env", engine = engine).use { wf ->
                    wf.startBlocking()
                    buildJsonObject {
                        put("cost", engine.cost("acme-frontier-9", Usage(input = 1_000_000)))
                        put("file", engine.priceTable().files.single().origin)
                        put("price_table", wf.breakdown().priceTable)
                    }.also { wf.endBlocking() }
                }
            }
        } catch (e: InvalidArgumentException) {
            buildJsonObject {
                put("error", e.code)
                put("message", e.message)
            }
        }
        println(out)
    }
}
