package dev.wflo

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * checkpointsSince: what a reader keeping its own index of the checkpoints reads — the
 * checkpoints saved after a sequence, and how many rollbacks the execution has had, one made
 * by another engine on the same store included.
 */
class CheckpointsSinceTest {
    @Test
    fun `the checkpoints after a sequence and a rollback made elsewhere`(@TempDir dir: Path) = runBlocking<Unit> {
        val url = "sqlite://" + dir.resolve("wflo.db")
        Engine.open(url).use { engine ->
            WfloWorkflow("w", 1.0, engine).use { wf ->
                wf.start()
                assertEquals(CheckpointsSince(emptyList(), 0), wf.checkpointsSince(0))
                val first = wf.checkpoint("first", mapOf("step" to 1))
                val second = wf.checkpointBinary("second", "application/msgpack", byteArrayOf(1, 2))
                assertEquals(listOf(first, second), wf.checkpointsSince(0).checkpoints)

                // A save after the sequence a reader saw is all it reads.
                val third = wf.checkpoint("third", mapOf("step" to 3))
                val since = wf.checkpointsSince(second.sequence)
                assertEquals(listOf(third), since.checkpoints)
                assertEquals(0L, since.rollbacks)

                // A rollback made by another engine (another process, as far as this one knows).
                Engine.open(url).use { other ->
                    WfloWorkflow.resume(wf.executionId!!, other).use { it.rollbackToCheckpointAny("second") }
                }
                val after = wf.checkpointsSince(0)
                assertEquals(1L, after.rollbacks)
                assertEquals(listOf(false, false, true), after.checkpoints.map { it.superseded })

                // Beyond the end: nothing, and the count still.
                assertEquals(CheckpointsSince(emptyList(), 1), wf.checkpointsSince(third.sequence))
                assertEquals(CheckpointsSince(emptyList(), 1), wf.checkpointsSince(1_000))
                assertThrows<InvalidArgumentException> { wf.checkpointsSince(-1) }
            }
        }
    }
}
