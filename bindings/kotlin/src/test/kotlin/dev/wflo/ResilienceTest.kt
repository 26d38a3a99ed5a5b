package dev.wflo

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.IOException
import java.net.ConnectException
import java.net.SocketException
import java.net.SocketTimeoutException
import kotlin.time.Duration.Companion.milliseconds

/**
 * Retries and circuit breakers through the idiomatic layer: the delays, classification and
 * states come from the engine; these tests check the Kotlin loop, its exceptions and its types.
 * Delays are a few ms so the suite stays fast.
 */
class ResilienceTest {
    /** A quick policy without jitter: every wait is 1 ms. */
    private val quick = RetryPolicy(backoff = Backoff.FIXED, maxRetries = 3, baseDelay = 1.milliseconds, maxDelay = 1.milliseconds, jitter = 0.0)

    /** An exception of an HTTP client, exposing its answer as [HttpStatusError]. */
    private class HttpError(override val httpStatus: Int, override val httpHeaders: List<Pair<String, String>> = emptyList()) :
        IOException("HTTP $httpStatus from the provider"), HttpStatusError

    /** An SDK's exception this layer knows nothing of: its status and headers are found by their public names. */
    class SdkServiceException(private val status: Int, private val headers: Map<String, List<String>>) : RuntimeException("service error") {
        fun statusCode(): Int = status
        fun headers(): Map<String, List<String>> = headers
    }

    private class FlakyToolException : RuntimeException("the tool hiccuped")

    // -- delays and decisions ------------------------------------------------------------------

    @Test
    fun `each backoff grows the delay its own way, capped`() = Engine.open("memory://").use { engine ->
        fun delays(backoff: Backoff) = engine.retrier(
            RetryPolicy(backoff = backoff, baseDelay = 10.milliseconds, maxDelay = 35.milliseconds, multiplier = 2.0, jitter = 0.0),
        ).use { r -> (1..4).map { r.delay(it).inWholeMilliseconds } }
        assertEquals(listOf(10L, 20L, 35L, 35L), delays(Backoff.EXPONENTIAL))
        assertEquals(listOf(10L, 20L, 30L, 35L), delays(Backoff.LINEAR))
        assertEquals(listOf(10L, 10L, 10L, 10L), delays(Backoff.FIXED))
    }

    @Test
    fun `seeded jitter stays in bounds and repeats`() = Engine.open("memory://").use { engine ->
        val policy = RetryPolicy(backoff = Backoff.FIXED, baseDelay = 100.milliseconds, maxDelay = 100.milliseconds, jitter = 0.5, seed = 7)
        val first = engine.retrier(policy).use { r -> (1..50).map { r.delay(1).inWholeMilliseconds } }
        val again = engine.retrier(policy).use { r -> (1..50).map { r.delay(1).inWholeMilliseconds } }
        assertTrue(first.all { it in 50L..150L }, "$first")
        assertEquals(first, again)
        assertTrue(first.toSet().size > 10, "jitter spreads the delays: $first")
        val other = engine.retrier(policy.copy(seed = 8)).use { r -> (1..50).map { r.delay(1).inWholeMilliseconds } }
        assertNotEquals(first, other)
    }

    @Test
    fun `the retrier decides, the policy round-trips, and a bad policy is refused`() = Engine.open("memory://").use { engine ->
        engine.retrier(quick.copy(maxRetries = 1)).use { r ->
            assertEquals(1, r.attempt)
            assertNull(r.refusalNote)
            val retry = r.next(Failure(Failure.Kind.HTTP, 429, listOf("retry-after-ms" to "7"), "429 Too Many Requests"))
            assertTrue(retry is Decision.Retry, "$retry")
            retry as Decision.Retry
            assertEquals(2, retry.attempt)
            assertEquals(7.milliseconds, retry.delay)
            assertTrue("retry-after" in retry.reason, retry.reason)
            assertEquals("attempt 2 not sent: attempt 1 failed: 429 Too Many Requests", r.refusalNote)
            val giveUp = r.next(Failure(Failure.Kind.HTTP, 503))
            assertTrue(giveUp is Decision.GiveUp && giveUp.why == Decision.Why.EXHAUSTED && "gave up after 2 attempts" in giveUp.reason, "$giveUp")
            val filled = r.policy
            assertEquals(Backoff.FIXED, filled.backoff)
            assertEquals(1, filled.maxRetries)
            assertEquals(true, filled.retryTimeouts)
        }
        val bad = assertThrows<InvalidArgumentException> { engine.retrier(RetryPolicy(jitter = 2.0)) }
        assertTrue("jitter" in bad.message!!, bad.message)
    }

    @Test
    fun `exceptions become the engine's failures`() {
        assertEquals(Failure.Kind.TIMEOUT, Failure.of(SocketTimeoutException("read timed out")).kind)
        assertEquals(Failure.Kind.TIMEOUT, Failure.of(java.net.http.HttpTimeoutException("request timed out")).kind)
        assertEquals(Failure.Kind.CONNECTION, Failure.of(ConnectException("Connection refused")).kind)
        assertEquals(Failure.Kind.CONNECTION, Failure.of(SocketException("Connection reset")).kind)
        assertEquals(Failure.Kind.OTHER, Failure.of(IllegalStateException("a bug")).kind)
        assertEquals(Failure.Kind.TRANSIENT, Failure.of(FlakyToolException(), listOf(FlakyToolException::class)).kind)
        // A wrapper does not hide what it wraps.
        val wrapped = Failure.of(RuntimeException("client failed", SocketTimeoutException("read timed out")))
        assertEquals(Failure(Failure.Kind.TIMEOUT, message = "read timed out"), wrapped)
        assertEquals(Failure(Failure.Kind.HTTP, 503, listOf("retry-after" to "1"), "HTTP 503 from the provider"), Failure.of(HttpError(503, listOf("retry-after" to "1"))))
        val sdk = Failure.of(SdkServiceException(429, mapOf("retry-after-ms" to listOf("20"))))
        assertEquals(Failure(Failure.Kind.HTTP, 429, listOf("retry-after-ms" to "20"), "service error"), sdk)
        val refusal = BudgetExceededException("budget exceeded", "s", 1, 1, 0, 1)
        assertEquals(Failure.Kind.REFUSED, Failure.of(RuntimeException("wrapped", refusal)).kind)
        assertEquals(Failure.Kind.REFUSED, Failure.of(CircuitOpenException("open", "openai", 5, 100)).kind)
        // Which wflo errors are refusals is the engine's rule, asked by code.
        for (e in constructedRefusals()) {
            assertTrue(e.isRefusal, e.code)
            assertEquals(Failure.Kind.REFUSED, Failure.of(e).kind, e.code)
            assertEquals(Failure.Kind.REFUSED, Failure.of(RuntimeException("wrapped", e)).kind, e.code)
        }
        assertFalse(ConflictException("c").isRefusal)
        assertFalse(InvalidArgumentException("i").isRefusal)
        assertEquals(Failure.Kind.OTHER, Failure.of(ConflictException("c")).kind)
        // The generated layer's errors too.
        assertEquals(Failure.Kind.REFUSED, Failure.of(dev.wflo.ffi.WfloException.ResourceBusy("busy", "db", 0u, listOf("wf"))).kind)
        assertEquals(Failure.Kind.OTHER, Failure.of(dev.wflo.ffi.WfloException.Conflict("c")).kind)
    }

    // -- withRetry -----------------------------------------------------------------------------

    @Test
    fun `a flaky block is retried until it succeeds`() = runBlocking {
        Engine.open("memory://").use { engine ->
            val attempts = mutableListOf<Int>()
            val retries = mutableListOf<Decision.Retry>()
            val result = withRetry(quick, engine, onRetry = { d, e -> retries += d; assertTrue(e is SocketException) }) { attempt ->
                attempts += attempt
                if (attempt < 3) throw SocketException("connection reset")
                "answer"
            }
            assertEquals("answer", result)
            assertEquals(listOf(1, 2, 3), attempts)
            assertEquals(listOf(2, 3), retries.map { it.attempt })
            assertTrue(retries.all { it.delay == 1.milliseconds && "connection reset" in it.reason }, "$retries")
        }
    }

    @Test
    fun `the server's retry-after sets the wait`() = runBlocking {
        Engine.open("memory://").use { engine ->
            val waits = mutableListOf<Long>()
            withRetry(quick, engine, onRetry = { d, _ -> waits += d.delayMs }) { attempt ->
                if (attempt == 1) throw SdkServiceException(429, mapOf("Retry-After-Ms" to listOf("12")))
            }
            assertEquals(listOf(12L), waits)
        }
    }

    @Test
    fun `a timeout inside the block is retried, a declared transient error too`() = runBlocking {
        Engine.open("memory://").use { engine ->
            var timedOut = 0
            val r = withRetry(quick, engine) { attempt ->
                if (attempt == 1) {
                    timedOut++
                    withTimeout(1) { delay(1_000) }
                }
                attempt
            }
            assertEquals(2, r)
            assertEquals(1, timedOut)
            assertEquals(3, withRetry(quick, engine, retryable = listOf(FlakyToolException::class)) { if (it < 3) throw FlakyToolException() else it })
        }
    }

    @Test
    fun `what is never retried is thrown at once, as it was`() = runBlocking {
        Engine.open("memory://").use { engine ->
            var runs = 0
            val bug = IllegalStateException("a bug")
            assertSame(bug, assertThrows<IllegalStateException> { runBlocking { withRetry(quick, engine) { runs++; throw bug } } })
            assertEquals(1, runs)
            val badRequest = HttpError(400)
            assertSame(badRequest, assertThrows<HttpError> { runBlocking { withRetry(quick, engine) { runs++; throw badRequest } } })
            assertEquals(2, runs)
            // A policy that does not retry timeouts hands the timeout back unwrapped too.
            val timeout = SocketTimeoutException("read timed out")
            assertSame(timeout, assertThrows<SocketTimeoutException> { runBlocking { withRetry(quick.copy(retryTimeouts = false), engine) { runs++; throw timeout } } })
            assertEquals(3, runs)
        }
    }

    @Test
    fun `attempts running out end in RetryExhaustedException with the engine's reason`() = runBlocking {
        Engine.open("memory://").use { engine ->
            var runs = 0
            val e = assertThrows<RetryExhaustedException> {
                runBlocking { withRetry(quick.copy(maxRetries = 2), engine) { runs++; throw HttpError(503) } }
            }
            assertEquals(3, runs)
            assertEquals(3, e.attempts)
            assertTrue(e.lastError is HttpError && e.cause === e.lastError)
            assertEquals("HTTP 503 from the provider; gave up after 3 attempts (max_retries 2)", e.message)
            assertEquals(e.message, e.reason)
        }
    }

    @Test
    fun `each attempt withRetry makes is recorded with its number and the reason for it`(): Unit = runBlocking {
        Engine.open("memory://").use { engine ->
            WfloWorkflow("retry-recorded", 1, engine).use { wf ->
                val request = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}"""
                val seen = mutableListOf<RetryContext?>()
                wf.execute {
                    withRetry(quick) { attempt ->
                        seen += currentRetry()
                        val (call, _) = reserveRequestAsync("openai_chat", request)
                        if (attempt < 3) {
                            call.release("error", "HTTP 503")
                            throw HttpError(503)
                        }
                        call.settleText("Hello", "ok")
                    }
                }
                assertEquals(listOf(1, 2, 3), seen.map { it!!.attempt })
                assertNull(seen[0]!!.reason)
                assertTrue(seen[1]!!.reason!!.isNotEmpty())
                val calls = wf.calls().map { it.jsonObject }
                assertEquals(listOf(1, 2, 3), calls.map { it.getValue("attempt").jsonPrimitive.content.toInt() })
                assertEquals(listOf(null, seen[1]!!.reason, seen[2]!!.reason), calls.map { (it["retry_reason"] as? kotlinx.serialization.json.JsonPrimitive)?.takeIf { p -> p.isString }?.content })
                // Outside withRetry there is no attempt; an explicit one is kept as given.
                assertNull(currentRetry())
                assertEquals(RequestOptions(attempt = 5), RequestOptions(attempt = 5).forRetry(RetryContext(2, "x")))
                assertEquals(RequestOptions(attempt = 2, retryReason = "x"), RequestOptions().forRetry(RetryContext(2, "x")))
            }
        }
    }

    @Test
    fun `a retry the budget cannot cover is refused before it runs, and says why`() = runBlocking {
        Engine.open("memory://").use { engine ->
            val wf = WfloWorkflow("retry-budget", java.math.BigDecimal("0.0002"), engine)
            val request = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Name three primes."}],"max_tokens":200}"""
            var sent = 0
            val e = assertThrows<BudgetExceededException> {
                runBlocking {
                    wf.execute {
                        withRetry(quick) { _ ->
                            val (call, _) = reserveRequest("openai_chat", request)
                            sent++
                            // The stream was cut after its output was billed: too little is left for a retry.
                            call.settleText("2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, ".repeat(8), "error")
                            throw SocketException("connection reset")
                        }
                    }
                }
            }
            assertEquals(1, sent)
            assertTrue(e.message!!.endsWith("(attempt 2 not sent: attempt 1 failed: connection reset)"), e.message)
            assertEquals("attempt 2 not sent: attempt 1 failed: connection reset", e.retryNote)
            assertEquals(ExecutionStatus.BUDGET_EXCEEDED.code, engine.execution(wf.executionId!!).getValue("execution").jsonObject.getValue("status").jsonPrimitive.content)
            // A refusal of the first attempt is thrown as it was, never retried.
            var runs = 0
            val first = BudgetExceededException("refused", "s", 1, 1, 0, 1)
            assertSame(first, assertThrows<BudgetExceededException> { runBlocking { withRetry(quick, engine) { runs++; throw first } } })
            assertEquals(1, runs)
        }
    }

    @Test
    fun `a busy resource or a denied approval is never retried, it is given up at once and thrown as it was`() = runBlocking {
        Engine.open("memory://").use { engine ->
            val (_, _, busy, denied) = provokedRefusals(engine)
            for (refusal in listOf(busy, denied)) {
                var runs = 0
                val thrown = assertThrows<WfloException> { runBlocking { withRetry(quick, engine) { runs++; throw refusal } } }
                assertSame(refusal, thrown, refusal.code)
                assertEquals(1, runs, refusal.code)
                // After a failed attempt too: the refusal of the retry is thrown unchanged.
                runs = 0
                val later = assertThrows<WfloException> {
                    withRetryBlocking(quick, engine) { attempt -> runs++; if (attempt == 1) throw SocketException("reset") else throw refusal }
                }
                assertSame(refusal, later, refusal.code)
                assertEquals(2, runs, refusal.code)
                // Wrapped by a client, the wrapper is thrown as it was, not retried.
                runs = 0
                val wrapper = IllegalStateException("tool failed", refusal)
                assertSame(wrapper, assertThrows<IllegalStateException> { withRetryBlocking(quick, engine) { runs++; throw wrapper } })
                assertEquals(1, runs, refusal.code)
            }
        }
    }

    @Test
    fun `cancellation is never retried`() = runBlocking {
        Engine.open("memory://").use { engine ->
            var runs = 0
            val job = async {
                withRetry(quick, engine) {
                    runs++
                    delay(10_000)
                }
            }
            yield()
            job.cancel()
            assertThrows<CancellationException> { runBlocking { job.await() } }
            assertEquals(1, runs)
        }
    }

    @Test
    fun `the blocking variant retries with sleeps`() = Engine.open("memory://").use { engine ->
        var runs = 0
        val r = withRetryBlocking(quick, engine) { attempt -> runs++; if (attempt == 1) throw ConnectException("refused") else "ok" }
        assertEquals("ok", r)
        assertEquals(2, runs)
    }

    // -- circuit breakers ----------------------------------------------------------------------

    @Test
    fun `a breaker opens after its threshold and fails fast without running the block`() = Engine.open("memory://").use { engine ->
        val b = engine.breaker("openai", BreakerConfig(failureThreshold = 3, recoveryTimeout = 60_000.milliseconds))
        repeat(2) { assertThrows<IOException> { b.call { throw IOException("503") } } }
        assertEquals(BreakerState.CLOSED, b.state)
        assertThrows<IOException> { b.call { throw IOException("503") } }
        assertEquals(BreakerState.OPEN, b.state)
        var ran = false
        val e = assertThrows<CircuitOpenException> { b.call { ran = true } }
        assertFalse(ran)
        assertEquals("CIRCUIT_OPEN", e.code)
        assertEquals("openai", e.circuitName)
        assertEquals(3L, e.failures)
        assertTrue(e.retryInMs in 1..60_000, "${e.retryInMs}")
        assertEquals(e.retryInMs.milliseconds, e.retryIn)
        assertTrue("openai" in e.message!!, e.message)
        assertEquals(listOf("CIRCUIT_OPEN"), wfloCodes(RuntimeException(e)))
        val status = b.status()
        assertEquals(1L, status.rejected)
        assertEquals(3L, status.totalFailures)
        assertEquals(BreakerState.OPEN, status.transitions.last().to)
        assertTrue(status.retryIn != null)
    }

    @Test
    fun `an open breaker recovers after its timeout`() = Engine.open("memory://").use { engine ->
        val b = engine.breaker("tool", BreakerConfig(failureThreshold = 1, recoveryTimeout = 50.milliseconds, successThreshold = 1))
        b.recordFailure()
        assertThrows<CircuitOpenException> { b.check() }
        Thread.sleep(70)
        assertEquals(BreakerState.HALF_OPEN, b.state)
        assertEquals("ok", b.call { "ok" })
        assertEquals(BreakerState.CLOSED, b.state)
    }

    @Test
    fun `one breaker per name, whatever settings later callers pass`() = Engine.open("memory://").use { engine ->
        val a = engine.breaker("search", BreakerConfig(failureThreshold = 1))
        val again = engine.breaker("search", BreakerConfig(failureThreshold = 9))
        assertEquals(1, again.config.failureThreshold)
        a.recordFailure()
        assertEquals(BreakerState.OPEN, again.state)
        assertEquals(BreakerState.CLOSED, engine.breaker("other").state)
        assertEquals(listOf("other", "search"), engine.breakers().map { it.name }.sorted())
        again.reset()
        assertEquals(BreakerState.CLOSED, a.state)
        assertThrows<InvalidArgumentException> { engine.breaker("bad", BreakerConfig(failureThreshold = 0)) }
        // Another engine has breakers of its own.
        Engine.open("memory://").use { other -> assertEquals(BreakerState.CLOSED, other.breaker("search").state) }
    }

    @Test
    fun `a wflo refusal inside a breaker's call is not the service's failure`() = Engine.open("memory://").use { engine ->
        val b = engine.breaker("budgeted", BreakerConfig(failureThreshold = 1))
        assertThrows<BudgetExceededException> { b.call { throw BudgetExceededException("refused", "s", 1, 1, 0, 1) } }
        assertEquals(BreakerState.CLOSED, b.state)
        assertEquals(0L, b.status().totalFailures)
    }

    @Test
    fun `none of the four refusals counts in a breaker, and a foreign error does`() = Engine.open("memory://").use { engine ->
        val b = engine.breaker("guarded", BreakerConfig(failureThreshold = 1))
        fun figures() = b.status().let { listOf(it.failureCount, it.totalFailures, it.totalCalls) }
        val before = figures()
        assertEquals(listOf(0L, 0L, 0L), before)
        for (refusal in provokedRefusals(engine) + constructedRefusals()) {
            assertSame(refusal, assertThrows<WfloException> { b.call { throw refusal } }, refusal.code)
            val wrapper = RuntimeException("client failed", refusal)
            assertSame(wrapper, assertThrows<RuntimeException> { b.call { throw wrapper } }, refusal.code)
            assertEquals(before, figures(), refusal.code)
            assertEquals(BreakerState.CLOSED, b.state, refusal.code)
        }
        // Any other wflo error, and an error that is not wflo's, is the service's failure.
        assertThrows<IOException> { b.call { throw IOException("503") } }
        assertEquals(listOf(1L, 1L, 1L), figures())
        assertEquals(BreakerState.OPEN, b.state)
        b.reset()
        assertThrows<ConflictException> { b.call { throw ConflictException("c") } }
        assertEquals(BreakerState.OPEN, b.state)
    }

    @Test
    fun `withRetry around a breaker stops at the open breaker`() = runBlocking {
        Engine.open("memory://").use { engine ->
            val b = engine.breaker("flaky", BreakerConfig(failureThreshold = 2))
            var runs = 0
            assertThrows<CircuitOpenException> {
                runBlocking { withRetry(quick.copy(maxRetries = 5), engine) { b.call { runs++; throw SocketException("reset") } } }
            }
            assertEquals(2, runs)
        }
    }

    @Test
    fun `the C ABI's CIRCUIT_OPEN details map to CircuitOpenException`() {
        val e = fromDetails(9, """{"code":"CIRCUIT_OPEN","message":"circuit breaker 'x' is open","name":"x","failures":4,"retry_in_ms":250}""")
        assertTrue(e is CircuitOpenException)
        e as CircuitOpenException
        assertEquals(listOf("x", 4L, 250L), listOf(e.circuitName, e.failures, e.retryInMs))
        val b = fromDetails(3, """{"code":"BUDGET_EXCEEDED","message":"m","scope":"s","retry_note":"attempt 2 not sent: attempt 1 failed: x"}""")
        assertEquals("attempt 2 not sent: attempt 1 failed: x", (b as BudgetExceededException).retryNote)
    }

    /** The four refusals built as the tests build wflo errors: a budget, an open breaker, a busy resource, a denied approval. */
    private fun constructedRefusals(): List<WfloException> = listOf(
        BudgetExceededException("refused", "s", 1, 1, 0, 1),
        CircuitOpenException("open", "openai", 5, 100),
        ResourceBusyException("busy", "db", 0, listOf("wf-a")),
        ApprovalDeniedException("denied", "ap-1", "deploy", false, "bo", "no"),
    )

    /**
     * The four refusals as the engine raises them, in that order: a budget too small for the
     * call, an open breaker's check, a resource held elsewhere asked for with timeout 0, a
     * denied approval gate.
     */
    private fun provokedRefusals(engine: Engine): List<WfloException> = runBlocking {
        val budget = WfloWorkflow("tiny", 0.000001, engine).use { wf ->
            assertThrows<BudgetExceededException> { wf.reserve(model = "gpt-4o", inputTokens = 100, maxOutputTokens = 200) }
        }
        val down = engine.breaker("down", BreakerConfig(failureThreshold = 1))
        down.recordFailure()
        val open = assertThrows<CircuitOpenException> { down.check() }
        val lock = engine.resource("db")
        val busy = lock.acquireBlocking("wf-a", kotlin.time.Duration.ZERO).use {
            assertThrows<ResourceBusyException> { lock.acquireBlocking("wf-b", kotlin.time.Duration.ZERO) }
        }
        val denied = WfloWorkflow("gated", engine = engine).use { wf ->
            val asked = wf.requestApproval("drop-index", why = "drops the index")
            engine.deny(asked.id, note = "not today", by = "bo")
            assertThrows<ApprovalDeniedException> { runBlocking { wf.requireApproval("drop-index") } }
        }
        listOf(budget, open, busy, denied)
    }
}
