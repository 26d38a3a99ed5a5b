package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * LangGraphCheckpointer: a checkpoint put through the engine's wire form comes back from `get`
 * with its values, typed; a malformed request is refused with InvalidArgumentException and
 * stores nothing; a closed checkpointer refuses with ClosedException.
 */
class LangGraphCheckpointerTest {
    private val checkpoint = """{"v":4,"id":"c1"}""".toByteArray()
    private val metadata = """{"step":0}""".toByteArray()
    private val channel = byteArrayOf(0xa3.toByte(), 0x61, 0x61, 0x61)

    private val put = """{"op":"put","thread":"t","ns":"","id":"c1","parent":null,"checkpoint":0,"metadata":1,""" +
        """"channels":[["a","1",2]],"versions":{"a":"1"},""" +
        """"values":[["json",${checkpoint.size}],["json",${metadata.size}],["msgpack",${channel.size}]]}"""

    @Test
    fun `put then get round-trips the values`() = runBlocking<Unit> {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("lg", 1.0, engine).use { wf ->
                wf.start()
                LangGraphCheckpointer().use { saver ->
                    val stored = saver.call(wf, put, checkpoint + metadata + channel)
                    assertEquals(JsonNull, stored.parsed())
                    assertTrue(stored.values.isEmpty())

                    for (got in listOf(
                        saver.call(wf, """{"op":"get","thread":"t","ns":"","id":null}"""),
                        saver.callAsync(wf, """{"op":"get","thread":"t","ns":"","id":"c1"}"""),
                    )) {
                        val answer = got.parsed().jsonObject
                        assertEquals("c1", answer.getValue("id").jsonPrimitive.content)
                        assertEquals(JsonNull, answer["parent"])
                        val v = got.values
                        assertEquals(LangGraphValue("json", checkpoint), v[answer.getValue("checkpoint").jsonPrimitive.int])
                        assertEquals(LangGraphValue("json", metadata), v[answer.getValue("metadata").jsonPrimitive.int])
                        val (name, index) = answer.getValue("channel_values").jsonArray.single().jsonArray
                        assertEquals("a", name.jsonPrimitive.content)
                        assertEquals(LangGraphValue("msgpack", channel), v[index.jsonPrimitive.int])
                        // "values" lists each value's [type, length]; joined() is their bytes in order.
                        val listed = answer.getValue("values").jsonArray.map { it.jsonArray }
                        assertEquals(v.map { it.type }, listed.map { it[0].jsonPrimitive.content })
                        assertEquals(v.map { it.data.size }, listed.map { it[1].jsonPrimitive.int })
                        assertArrayEquals(v.flatMap { it.data.toList() }.toByteArray(), got.joined())
                    }
                    val list = saver.call(wf, """{"op":"list","thread":"t"}""").parsed().jsonArray
                    assertEquals(1, list.size)
                    assertEquals("langgraph/t//c1", saver.call(null, """{"op":"name","thread":"t","ns":"","id":"c1"}""").parsed().jsonPrimitive.content)
                }
            }
        }
    }

    @Test
    fun `a malformed request is refused with InvalidArgumentException and stores nothing`() = runBlocking<Unit> {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("lg", 1.0, engine).use { wf ->
                wf.start()
                LangGraphCheckpointer().use { saver ->
                    assertThrows<InvalidArgumentException> { saver.call(wf, "not json") }
                    assertThrows<InvalidArgumentException> { saver.call(wf, """{"op":"fly"}""") }
                    assertThrows<InvalidArgumentException> { saver.call(wf, """{"op":"get","thread":"t","bogus":1}""") }
                    // The values' bytes do not add up to the lengths listed.
                    assertThrows<InvalidArgumentException> { saver.call(wf, put, checkpoint) }
                    assertThrows<InvalidArgumentException> { saver.callAsync(wf, put, checkpoint) }
                    assertEquals(JsonNull, saver.call(wf, """{"op":"get","thread":"t","ns":""}""").parsed())
                    assertTrue(wf.checkpoints().isEmpty())
                }
                val closed = LangGraphCheckpointer().also { it.close() }
                assertThrows<ClosedException> { closed.call(wf, """{"op":"list"}""") }
                closed.close()
            }
        }
    }
}
