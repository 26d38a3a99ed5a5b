package dev.wflo

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * Named resources through the idiomatic layer: the slots, waits and figures are the engine's
 * (kept in its store); these tests check the Kotlin types, the coroutine waits and the typed
 * exception. Timeouts are 0 to 200 ms.
 */
class ContentionTest {
    @Test
    fun `a semaphore of 2 used by 6 coroutines never has more than 2 inside`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            val gpu = engine.resource("gpu", LockConfig(maxConcurrent = 2, timeout = 10.seconds))
            val inside = AtomicInteger()
            val most = AtomicInteger()
            withContext(Dispatchers.Default) {
                (1..6).map { i ->
                    async {
                        gpu.withLock("wf-$i") {
                            most.accumulateAndGet(inside.incrementAndGet(), ::maxOf)
                            delay(20)
                            inside.decrementAndGet()
                        }
                    }
                }.awaitAll()
            }
            assertEquals(2, most.get())
            val stats = gpu.stats()
            assertEquals(6L, stats.acquisitions)
            assertEquals(0L, stats.timeouts)
            assertTrue(stats.holders.isEmpty(), "every permit was given back: ${stats.holders}")
            // Four of the six waited for a slot.
            assertTrue(stats.maxWait > Duration.ZERO && stats.totalWait >= stats.maxWait, stats.toString())
        }
    }

    @Test
    fun `a timeout throws ResourceBusyException naming the holders`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            val lock = engine.resource("db-migration", LockConfig(timeout = 50.milliseconds))
            lock.acquire("wf-a").use { held ->
                assertEquals(0L, held.waitedMs)
                val busy = assertThrows<ResourceBusyException> { runBlocking { lock.acquire("wf-b") } }
                assertEquals("RESOURCE_BUSY", busy.code)
                assertEquals("db-migration", busy.resource)
                assertTrue(busy.waitedMs >= 50, "waited ${busy.waitedMs} ms")
                assertEquals(1, busy.holders.size)
                assertTrue(busy.holders.single().contains("wf-a"), busy.holders.toString())
                // Zero: do not wait at all (blocking form too).
                val now = assertThrows<ResourceBusyException> { lock.acquireBlocking("wf-c", Duration.ZERO) }
                assertTrue(now.waitedMs < 50, "waited ${now.waitedMs} ms")
            }
            // Released by close: the next one gets it at once.
            lock.acquireBlocking("wf-b", Duration.ZERO).use { assertTrue(it.renew()) }
        }
    }

    @Test
    fun `two engines on one SQLite file share the slots`(@TempDir dir: Path): Unit = runBlocking {
        val url = "sqlite://" + dir.resolve("wflo.db")
        Engine.open(url).use { one ->
            Engine.open(url).use { two ->
                val config = LockConfig(maxConcurrent = 1, timeout = 100.milliseconds)
                val a = one.resource("deploy", config)
                val b = two.resource("deploy", config)
                val held = a.acquire("wf-one")
                val busy = assertThrows<ResourceBusyException> { runBlocking { b.acquire("wf-two", Duration.ZERO) } }
                assertTrue(busy.holders.single().contains("wf-one"), busy.holders.toString())
                assertEquals(listOf("wf-one"), b.stats().holders.map { it.workflowId })
                held.release()
                b.acquire("wf-two", 200.milliseconds).use {
                    assertEquals(listOf("wf-two"), a.stats().holders.map { h -> h.workflowId })
                }
                held.close() // releasing twice is fine
            }
        }
    }

    @Test
    fun `the statistics add up, and reset zeroes them but keeps the holds`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            val lock = engine.resource("index", LockConfig(contentionThreshold = 10.minutesMs()))
            assertEquals(1, lock.config.maxConcurrent)
            assertEquals(30.seconds, lock.config.timeout)
            val first = lock.acquire("wf-1")
            repeat(2) { assertThrows<ResourceBusyException> { lock.acquireBlocking("wf-2", Duration.ZERO) } }
            first.release()
            val second = lock.acquire("wf-2", Duration.ZERO)
            val s = lock.stats()
            assertEquals("index", s.resource)
            assertEquals(2L, s.acquisitions)
            assertEquals(2L, s.timeouts)
            assertEquals(0L, s.contentions) // no wait passed the threshold
            assertEquals(listOf("wf-2"), s.holders.map { it.workflowId })
            assertTrue(s.holders.single().leaseUntilMs >= s.holders.single().acquiredAtMs)
            lock.resetStats()
            val r = lock.stats()
            assertEquals(listOf(0L, 0L, 0L), listOf(r.acquisitions, r.timeouts, r.contentions))
            assertEquals(listOf("wf-2"), r.holders.map { it.workflowId })
            second.release()
            assertTrue(lock.stats().holders.isEmpty())
            assertFalse(second.renew(), "a released permit's lease cannot be renewed")
            second.close()
        }
    }

    @Test
    fun `meaningless settings are refused by the engine`() {
        Engine.open("memory://").use { engine ->
            assertThrows<InvalidArgumentException> { engine.resource("x", LockConfig(maxConcurrent = 0)) }
            assertThrows<InvalidArgumentException> { engine.resource("", null) }
            assertThrows<InvalidArgumentException> { LockConfig(timeout = (-1).milliseconds).toJson() }
        }
    }

    private fun Int.minutesMs(): Duration = (this * 60_000).milliseconds
}
