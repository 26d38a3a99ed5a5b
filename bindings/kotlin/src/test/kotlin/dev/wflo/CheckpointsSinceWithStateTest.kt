package dev.wflo

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * checkpointsSinceWithState: what a reader keeping its own index (a LangGraph saver) reads for
 * one load in one call — the same as checkpointsSince and checkpointStateAny called apart, for
 * a JSON and a binary state, before and after a rollback.
 */
class CheckpointsSinceWithStateTest {
    /** The two separate calls the combined one stands for. */
    private fun apart(wf: WfloWorkflow, after: Long, id: Long): CheckpointsSinceWithState {
        val since = wf.checkpointsSince(after)
        return CheckpointsSinceWithState(since.checkpoints, since.rollbacks, wf.checkpointStateAny(id))
    }

    @Test
    fun `one call equals checkpointsSince and checkpointStateAny`() = runBlocking<Unit> {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("w", 1.0, engine).use { wf ->
                wf.start()
                val plan = wf.checkpoint("plan", mapOf("step" to 1, "todo" to listOf("search", "write")))
                val packed = wf.checkpointBinary("packed", "application/msgpack", byteArrayOf(1, 2, 3))

                val json = wf.checkpointsSinceWithState(0, plan.id)
                assertEquals(apart(wf, 0, plan.id), json)
                assertEquals(listOf(plan, packed), json.checkpoints)
                assertEquals(0L, json.rollbacks)
                assertEquals(CheckpointState.Json(JsonText.parse("""{"step":1,"todo":["search","write"]}""")), json.state)

                val binary = wf.checkpointsSinceWithState(plan.sequence, packed.id)
                assertEquals(apart(wf, plan.sequence, packed.id), binary)
                assertEquals(listOf(packed), binary.checkpoints)
                assertEquals(CheckpointState.Binary("application/msgpack", byteArrayOf(1, 2, 3)), binary.state)

                // After a rollback: the superseded checkpoint's state is still read, the count moved.
                wf.rollbackToCheckpointAny("plan")
                val resumed = wf.checkpoint("resumed", mapOf("step" to 2))
                val after = wf.checkpointsSinceWithState(0, packed.id)
                assertEquals(apart(wf, 0, packed.id), after)
                assertEquals(1L, after.rollbacks)
                assertEquals(listOf(false, true, false), after.checkpoints.map { it.superseded })
                assertEquals(CheckpointState.Binary("application/msgpack", byteArrayOf(1, 2, 3)), after.state)
                assertEquals(apart(wf, packed.sequence, resumed.id), wf.checkpointsSinceWithState(packed.sequence, resumed.id))

                assertThrows<NotFoundException> { wf.checkpointsSinceWithState(0, 1_000_000) }
                assertThrows<InvalidArgumentException> { wf.checkpointsSinceWithState(0, -1) }
                assertThrows<InvalidArgumentException> { wf.checkpointsSinceWithState(-1, plan.id) }
            }
        }
    }
}
