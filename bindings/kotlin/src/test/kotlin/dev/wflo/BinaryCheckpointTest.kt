package dev.wflo

import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import kotlin.random.Random

/**
 * Binary checkpoint states: bytes in the caller's own format, named by a content type, come
 * back byte for byte beside JSON states; the JSON-only calls refuse them with a typed error
 * and change nothing; a bad content type is refused before anything is saved.
 */
class BinaryCheckpointTest {
    private val engine = Engine.open("memory://")

    @AfterEach
    fun close() = engine.close()

    private val everyByte = ByteArray(256) { it.toByte() }

    @Test
    fun `every byte value and a 100 KB state come back byte for byte`() = runBlocking<Unit> {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            val small = wf.checkpointBinary("graph", "application/msgpack", everyByte)
            assertEquals("application/msgpack", small.contentType)
            assertEquals(256L, small.stateBytes)
            // Random bytes do not compress: the store keeps them as they are.
            val large = Random(7).nextBytes(100 * 1024)
            val big = wf.checkpointBinary("history", "application/x-protobuf", large)
            assertEquals(100 * 1024L, big.stateBytes)
            assertEquals(small.id, big.parentId)

            val latest = wf.latestCheckpointAny() as CheckpointState.Binary
            assertEquals("application/x-protobuf", latest.contentType)
            assertArrayEquals(large, latest.data)
            val first = wf.checkpointStateAny(small.id) as CheckpointState.Binary
            assertArrayEquals(everyByte, first.data)

            val back = wf.rollbackToCheckpointAny("graph")
            assertEquals(CheckpointState.Binary("application/msgpack", everyByte.copyOf()), back)
            assertEquals(back, wf.latestCheckpointAny())
            assertEquals(
                listOf(Triple("graph", "application/msgpack", false), Triple("history", "application/x-protobuf", true)),
                wf.checkpoints().map { Triple(it.name, it.contentType, it.superseded) },
            )
        }
    }

    @Test
    fun `JSON and binary states side by side, and an empty binary state`() = runBlocking<Unit> {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.start()
            assertNull(wf.latestCheckpointAny())
            val plan = wf.checkpoint("plan", mapOf("step" to 1))
            assertNull(plan.contentType)
            val empty = wf.checkpointBinary("empty", "application/octet-stream", ByteArray(0))
            assertEquals(0L, empty.stateBytes)
            assertEquals(CheckpointState.Binary("application/octet-stream", ByteArray(0)), wf.latestCheckpointAny())

            val json = buildJsonObject { put("step", 1) }
            assertEquals(CheckpointState.Json(json), wf.rollbackToCheckpointAny("plan"))
            assertEquals(CheckpointState.Json(json), wf.checkpointStateAny(plan.id))
            // The JSON-only calls read a JSON state as before.
            assertEquals(json, wf.latestCheckpoint())
            assertThrows<NotFoundException> { wf.checkpointStateAny(999) }
        }
    }

    @Test
    fun `a stored binary state survives a resume`(@TempDir dir: Path) = runBlocking<Unit> {
        val url = "sqlite://" + dir.resolve("wflo.db")
        val large = Random(11).nextBytes(100 * 1024)
        val id = Engine.open(url).use { store ->
            WfloWorkflow("resumable", 0.5, store).use { wf ->
                wf.checkpointBinary("state", "application/cbor", large)
                wf.executionId!!
            }
        }
        Engine.open(url).use { store ->
            WfloWorkflow.resume(id, store).use { wf ->
                assertEquals(CheckpointState.Binary("application/cbor", large), wf.latestCheckpointAny())
            }
        }
    }

    @Test
    fun `the JSON-only calls refuse a binary state and change nothing`() = runBlocking<Unit> {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.checkpointBinary("graph", "application/msgpack", everyByte)
            wf.checkpoint("plan", mapOf("step" to 2))
            val before = wf.checkpoints()

            val refused = assertThrows<InvalidArgumentException> { runBlocking { wf.rollbackToCheckpoint("graph") } }
            assertEquals("INVALID_ARGUMENT", refused.code)
            assertTrue("application/msgpack" in refused.message!!, refused.message)
            // Nothing superseded: "plan" is still the latest live checkpoint.
            assertEquals(before, wf.checkpoints())
            assertEquals(CheckpointState.Json(buildJsonObject { put("step", 2) }), wf.latestCheckpointAny())

            // With the binary state the latest, the JSON-only latest refuses it too.
            wf.rollbackToCheckpointAny("graph")
            val latest = assertThrows<InvalidArgumentException> { wf.latestCheckpoint() }
            assertTrue("application/msgpack" in latest.message!!, latest.message)
        }
    }

    @Test
    fun `a bad content type is refused and nothing is saved`() = runBlocking<Unit> {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            wf.start()
            for (bad in listOf("", "application/ msgpack", "application/msgpäck", "tab\there", "a".repeat(256))) {
                val e = assertThrows<InvalidArgumentException>(bad) {
                    runBlocking { wf.checkpointBinary("graph", bad, everyByte) }
                }
                assertEquals("INVALID_ARGUMENT", e.code)
            }
            assertEquals(emptyList<CheckpointInfo>(), wf.checkpoints())
            // 255 printable characters is the longest allowed.
            assertEquals("a".repeat(255), wf.checkpointBinary("graph", "a".repeat(255), everyByte).contentType)
            assertThrows<InvalidArgumentException> { runBlocking { wf.checkpointBinary(" ", "application/msgpack", everyByte) } }
        }
    }

    @Test
    fun `bytes saved without a content type are named by the engine`() = runBlocking<Unit> {
        WfloWorkflow("w", 1.0, engine).use { wf ->
            val raw = wf.checkpointBinary("raw", everyByte)
            assertEquals("application/octet-stream", raw.contentType)
            assertEquals(CheckpointState.Binary("application/octet-stream", everyByte.copyOf()), wf.latestCheckpointAny())
            val none = wf.checkpointBinary("none", null, byteArrayOf(7))
            assertEquals("application/octet-stream", none.contentType)
            // An empty content type is a mistake, not an omission: refused, nothing saved.
            assertThrows<InvalidArgumentException> { runBlocking { wf.checkpointBinary("empty", "", everyByte) } }
            assertEquals(listOf("raw", "none"), wf.checkpoints().map { it.name })
        }
    }

    @Test
    fun `a binary state equals another by content type and bytes`() {
        val a = CheckpointState.Binary("application/msgpack", byteArrayOf(1, 2, 3))
        val b = CheckpointState.Binary("application/msgpack", byteArrayOf(1, 2, 3))
        assertEquals(a, b)
        assertEquals(a.hashCode(), b.hashCode())
        assertNotEquals(a, CheckpointState.Binary("application/msgpack", byteArrayOf(1, 2, 4)))
        assertNotEquals(a, CheckpointState.Binary("application/cbor", byteArrayOf(1, 2, 3)))
        assertNotEquals(a as CheckpointState, CheckpointState.Json(JsonPrimitive("\u0001\u0002\u0003")))
        assertEquals("Binary(contentType=application/msgpack, 3 bytes)", a.toString())
    }
}
