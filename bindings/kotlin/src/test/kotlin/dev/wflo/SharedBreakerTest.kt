package dev.wflo

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.IOException
import java.nio.file.Path
import kotlin.time.Duration.Companion.hours

/**
 * Circuit breakers shared through the store ([BreakerConfig.shared]): two engines on one
 * SQLite file stand for two processes. The rule and the store transaction are the engine's;
 * these tests check the Kotlin settings, the typed results of [Engine.breakersOnStore] and
 * that a shared breaker's errors come out as wflo's exceptions.
 */
class SharedBreakerTest {
    private val settings = BreakerConfig(failureThreshold = 2, recoveryTimeout = 1.hours, successThreshold = 1, shared = true)

    @Test
    fun `two engines on one SQLite file step one shared breaker`(@TempDir dir: Path) {
        val url = dir.resolve("wflo.db").toString()
        Engine.open(url).use { one ->
            Engine.open(url).use { two ->
                val a = one.breaker("provider:openai", settings)
                val b = two.breaker("provider:openai", settings)
                assertEquals(true, a.config.shared)
                assertEquals(BreakerState.CLOSED, b.state)

                // One failure through each engine: the second opens it for both.
                a.recordFailure()
                assertEquals(BreakerState.CLOSED, b.state)
                b.recordFailure()
                assertEquals(BreakerState.OPEN, a.state)
                for (breaker in listOf(a, b)) {
                    val e = assertThrows<CircuitOpenException> { breaker.check() }
                    assertEquals("provider:openai", e.circuitName)
                    assertEquals(2L, e.failures)
                    assertTrue(e.retryInMs in 1..3_600_000, "${e.retryInMs}")
                }
                var ran = false
                assertThrows<CircuitOpenException> { b.call { ran = true } }
                assertFalse(ran)

                // The other engine lists it from the store.
                val onStore = two.breakersOnStore()
                val shared = onStore.shared.single { it.name == "provider:openai" }
                assertTrue(shared.shared)
                assertEquals(BreakerState.OPEN, shared.state)
                assertEquals(2L, shared.failureCount)
                assertEquals(2L, shared.totalFailures)
                assertEquals(3L, shared.rejected)
                assertTrue(shared.retryIn != null && shared.openedAtMs != null, "$shared")
                val opened = onStore.transitions.filter { it.breaker == "provider:openai" }
                assertEquals(1, opened.size, "$opened")
                with(opened.single()) {
                    assertEquals(BreakerState.CLOSED, from)
                    assertEquals(BreakerState.OPEN, to)
                    assertEquals("2 consecutive failures", reason)
                    assertTrue(this.shared)
                    assertTrue(holder.isNotEmpty() && atMs > 0, "$this")
                }
                // (retryIn counts down between the two readings.)
                val byName = one.breakersOnStore("provider:openai")
                assertEquals(onStore.transitions, byName.transitions)
                assertEquals(listOf(shared.copy(retryIn = null)), byName.shared.map { it.copy(retryIn = null) })
                assertEquals(a.status().transitions, opened)

                // A reset through one engine closes it for the other.
                a.reset()
                assertEquals(BreakerState.CLOSED, b.state)
                b.check()
                assertEquals("x", b.call { "x" })
                val after = one.breakersOnStore("provider:openai", limit = 1)
                assertEquals(1, after.transitions.size)
                assertEquals(BreakerState.OPEN to BreakerState.CLOSED, after.transitions[0].from to after.transitions[0].to)
                assertEquals("reset", after.transitions[0].reason)
                assertEquals(BreakerState.CLOSED, after.shared.single().state)
            }
        }
    }

    @Test
    fun `a breaker of one process records its changes in the store but keeps its state`(@TempDir dir: Path) {
        val url = dir.resolve("wflo.db").toString()
        Engine.open(url).use { one ->
            Engine.open(url).use { two ->
                val local = one.breaker("tool:search", BreakerConfig(failureThreshold = 1))
                assertFalse(local.config.shared)
                assertThrows<IOException> { local.call { throw IOException("search is down") } }
                assertEquals(BreakerState.OPEN, local.state)
                assertFalse(local.status().shared)
                // The other engine has a closed breaker of that name of its own.
                assertEquals(BreakerState.CLOSED, two.breaker("tool:search", BreakerConfig(failureThreshold = 1)).state)

                val onStore = two.breakersOnStore()
                assertTrue(onStore.shared.none { it.name == "tool:search" }, "${onStore.shared}")
                val change = onStore.transitions.single { it.breaker == "tool:search" }
                assertFalse(change.shared)
                assertEquals(BreakerState.CLOSED to BreakerState.OPEN, change.from to change.to)
                assertEquals("1 consecutive failures", change.reason)
                assertEquals(change, two.breakersOnStore("tool:search").transitions.single())
                assertEquals(BreakersOnStore(emptyList(), emptyList()), two.breakersOnStore("nothing:here"))
                assertEquals(0, two.breakersOnStore(limit = 0).transitions.size)
                assertThrows<InvalidArgumentException> { two.breakersOnStore(limit = -1) }
            }
        }
    }

    @Test
    fun `shared travels as the engine's settings JSON`() {
        assertEquals("""{"failure_threshold":2,"recovery_timeout_ms":3600000,"success_threshold":1,"shared":true}""", settings.toJson())
        assertEquals("{}", BreakerConfig().toJson())
        Engine.open("memory://").use { engine ->
            val filled = engine.breaker("mem", settings).config
            assertEquals(settings.copy(window = filled.window, minCalls = filled.minCalls), filled)
            assertNull(filled.failureRate)
        }
    }

    @Test
    fun `a shared breaker's store errors come out as wflo's exceptions`(@TempDir dir: Path) {
        val engine = Engine.open(dir.resolve("wflo.db").toString())
        val b = engine.breaker("provider:closed", settings)
        engine.close()
        // The store is closed under the breaker: each call is a store transaction, and it fails as a WfloException.
        for (call in listOf<() -> Unit>({ b.recordFailure() }, { b.recordSuccess() }, { b.reset() }, { b.state }, { b.status() }, { b.check() })) {
            val e = assertThrows<WfloException> { call() }
            assertTrue(e.code in setOf("CLOSED", "STORAGE"), "${e.code}: ${e.message}")
        }
    }
}
