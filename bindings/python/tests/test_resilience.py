"""wflo.resilience: the original SDK's RetryManager and CircuitBreaker, their rules the engine's.

Every delay asserted here is the engine's arithmetic seen through the Python API (seconds in,
ms to core, seconds out); every breaker state is the engine's breaker's. The last test runs the
real openai client against `wflo mock-llm` answering 429 twice: three requests, three call
records, only the successful one billed.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import httpx
import openai
import pytest

import wflo
from conftest import ROOT
from wflo.errors import from_details, is_refusal
from wflo.resilience import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitState,
    ContentionDetectedError,
    ResourceLock,
    Retrier,
    RetryExhaustedError,
    RetryManager,
    RetryStrategy,
    circuit_breaker,
    failure_of,
    get_circuit_breaker,
    retry_with_backoff,
)

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Name three primes."}]
REQUEST = {"model": MODEL, "messages": MESSAGES, "max_tokens": 200}


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then returns ``result``."""

    def __init__(self, failures: int, error: BaseException = ConnectionError("connection reset"),
                 result: str = "done") -> None:
        self.failures, self.error, self.result, self.calls = failures, error, result, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return (self.result, args, kwargs)

    async def run_async(self, *args, **kwargs):
        await asyncio.sleep(0)
        return self(*args, **kwargs)


def status_error(status: int, headers=None) -> openai.APIStatusError:
    """An openai status error as the SDK raises it: the status and the response's headers."""
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError(f"Error code: {status}", response=response, body=None)


# -- delays ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy, expected", [
    (RetryStrategy.EXPONENTIAL, [0.01, 0.02, 0.04, 0.08, 0.1]),
    (RetryStrategy.LINEAR, [0.01, 0.02, 0.03, 0.04, 0.05]),
    (RetryStrategy.FIXED, [0.01, 0.01, 0.01, 0.01, 0.01]),
])
def test_calculate_delay_follows_the_strategy_and_the_cap(strategy, expected):
    manager = RetryManager(base_delay=0.01, max_delay=0.1, strategy=strategy, jitter=False)
    assert [manager.calculate_delay(n) for n in range(1, 6)] == expected
    assert manager.policy["backoff"] == strategy.value
    assert manager.policy["base_delay_ms"] == 10 and manager.policy["max_delay_ms"] == 100


def test_strategy_by_name_and_the_multiplier():
    manager = RetryManager(base_delay=0.01, max_delay=10, multiplier=3, strategy="exponential", jitter=False)
    assert [manager.calculate_delay(n) for n in (1, 2, 3)] == [0.01, 0.03, 0.09]


def test_jitter_stays_within_its_factor_and_a_seed_repeats_it():
    manager = RetryManager(base_delay=0.1, max_delay=1, strategy=RetryStrategy.FIXED, jitter_factor=0.5)
    delays = [manager.calculate_delay(1) for _ in range(200)]
    assert all(0.05 <= d <= 0.15 for d in delays), (min(delays), max(delays))
    assert len(set(delays)) > 20, "jitter spreads the delays"
    assert min(delays) < 0.07 and max(delays) > 0.13
    default = RetryManager(base_delay=1.0)  # the original SDK's ±10%
    assert all(0.9 <= default.calculate_delay(1) <= 1.1 for _ in range(50))
    first = RetryManager(base_delay=0.1, seed=7)
    second = RetryManager(base_delay=0.1, seed=7)
    assert [first.calculate_delay(n) for n in (1, 2, 3)] == [second.calculate_delay(n) for n in (1, 2, 3)]


def test_a_policy_the_engine_refuses_is_an_invalid_argument():
    with pytest.raises(wflo.InvalidArgumentError, match="multiplier"):
        RetryManager(multiplier=0.5)
    with pytest.raises(wflo.InvalidArgumentError, match="max_delay_ms"):
        RetryManager(base_delay=2, max_delay=1)
    with pytest.raises(wflo.InvalidArgumentError, match="strategy"):
        RetryManager(strategy="sometimes")


# -- execute ---------------------------------------------------------------------------------------

async def test_execute_retries_a_flaky_async_function_until_it_succeeds():
    flaky = Flaky(2)
    seen = []
    manager = RetryManager(max_retries=3, base_delay=0.001, max_delay=0.01, jitter=False)

    async def on_retry(attempt, error, delay):
        seen.append((attempt, error, delay))

    result = await manager.execute(flaky.run_async, "a", retryable_exceptions=(ConnectionError,), on_retry=on_retry,
                                   key="v")
    assert result == ("done", ("a",), {"key": "v"})
    assert flaky.calls == 3
    assert seen == [(1, flaky.error, 0.001), (2, flaky.error, 0.002)]


def test_execute_sync_retries_a_flaky_function():
    class Flake(Exception):
        """A tool's own error, declared retryable."""

    flaky = Flaky(3, Flake("not yet"))
    seen = []
    manager = RetryManager(max_retries=3, base_delay=0.001, max_delay=0.01, strategy=RetryStrategy.LINEAR,
                           jitter=False)
    started = time.monotonic()
    result = manager.execute_sync(flaky, retryable_exceptions=(Flake,),
                                  on_retry=lambda a, e, d: seen.append((a, type(e).__name__, d)))
    assert result == ("done", (), {})
    assert flaky.calls == 4
    assert seen == [(1, "Flake", 0.001), (2, "Flake", 0.002), (3, "Flake", 0.003)]
    assert time.monotonic() - started >= 0.006  # it slept the decided delays


async def test_a_sync_function_in_async_execute_and_an_error_outside_retryable_exceptions():
    manager = RetryManager(base_delay=0.001, jitter=False)
    assert (await manager.execute(Flaky(1)))[0] == "done"
    flaky = Flaky(5, KeyError("a bug"))
    with pytest.raises(KeyError) as err:
        await manager.execute(flaky, retryable_exceptions=(ConnectionError,))
    assert err.value is flaky.error and flaky.calls == 1  # raised at once, not wrapped


def test_a_400_is_not_retried_even_when_listed():
    error = status_error(400)
    flaky = Flaky(5, error)
    manager = RetryManager(base_delay=0.001, jitter=False)
    with pytest.raises(openai.APIStatusError) as err:
        manager.execute_sync(flaky, retryable_exceptions=(openai.APIStatusError,))
    assert err.value is error and flaky.calls == 1


def test_a_429_waits_for_the_servers_retry_after():
    flaky = Flaky(1, status_error(429, {"retry-after-ms": "7"}))
    seen = []
    manager = RetryManager(base_delay=0.001, max_delay=0.01, jitter=False)
    assert manager.execute_sync(flaky, on_retry=lambda a, e, d: seen.append(d))[0] == "done"
    assert seen == [0.007]


def test_retry_exhausted_says_why_with_the_attempts_and_the_last_error():
    errors = [TimeoutError(f"slow {i}") for i in range(3)]

    def always_slow():
        raise errors.pop(0)

    manager = RetryManager(max_retries=2, base_delay=0.001, jitter=False)
    with pytest.raises(RetryExhaustedError) as err:
        manager.execute_sync(always_slow)
    assert err.value.attempts == 3
    assert str(err.value.last_exception) == "slow 2"
    assert err.value.__cause__ is err.value.last_exception
    assert "gave up after 3 attempts (max_retries 2)" in str(err.value)


async def test_the_retry_with_backoff_decorator_on_sync_and_async_functions():
    sync_flaky, async_flaky = Flaky(2), Flaky(2)

    @retry_with_backoff(max_retries=2, base_delay=0.001, jitter=False)
    def plain(x):
        return sync_flaky(x)

    @retry_with_backoff(max_retries=2, base_delay=0.001, jitter=False)
    async def coroutine(x):
        return await async_flaky.run_async(x)

    assert plain(1) == ("done", (1,), {}) and sync_flaky.calls == 3
    assert await coroutine(2) == ("done", (2,), {}) and async_flaky.calls == 3
    assert plain.__name__ == "plain" and coroutine.__name__ == "coroutine"

    @retry_with_backoff(max_retries=1, base_delay=0.001)
    def hopeless():
        raise ConnectionError("down")

    with pytest.raises(RetryExhaustedError) as err:
        hopeless()
    assert err.value.attempts == 2


def test_a_budget_refusal_is_never_retried(engine):
    wf = wflo.WfloWorkflow("refused-at-once", budget_usd="0.000001", engine=engine)
    attempts = []

    def call():
        attempts.append(1)
        wf.reserve_request("openai_chat", REQUEST)
        return "sent"

    manager = RetryManager(max_retries=3, base_delay=0.001)
    with pytest.raises(wflo.BudgetExceededError) as err:
        wf.execute_sync(lambda _: manager.execute_sync(call))
    assert len(attempts) == 1
    assert "not sent" not in str(err.value)  # a first attempt: nothing failed before it
    assert wf.breakdown_sync()["status"] == "budget_exceeded"


def test_a_refused_retry_says_what_failed_before_it(engine):
    wf = wflo.WfloWorkflow("refused-retry", budget_usd="0.0002", engine=engine)
    attempts = []

    def call():
        attempts.append(1)
        reservation, _ = wf.reserve_request("openai_chat", REQUEST)
        reservation.settle_text("2, 3, 5, 7, 11, 13 " * 12, "error")  # a cut stream, billed
        raise ConnectionError("connection reset")

    manager = RetryManager(max_retries=3, base_delay=0.001)
    with pytest.raises(wflo.BudgetExceededError) as err:
        wf.execute_sync(lambda _: manager.execute_sync(call))
    assert len(attempts) == 2
    assert "(attempt 2 not sent: attempt 1 failed: ConnectionError: connection reset)" in str(err.value)
    assert err.value.message == str(err.value) and err.value.limit_nanos == 200_000
    assert [c["status"] for c in wf.calls()] == ["error", "refused"]
    assert wf.breakdown_sync()["status"] == "budget_exceeded"


def test_failures_as_the_engine_reads_them():
    request = httpx.Request("GET", "http://127.0.0.1/")
    limited = httpx.HTTPStatusError("429", request=request,
                                    response=httpx.Response(429, headers={"retry-after": "2"}, request=request))
    assert failure_of(limited) == {"kind": "http", "status": 429, "headers": [["retry-after", "2"]],
                                   "message": "429 Too Many Requests"}
    assert failure_of(openai.APITimeoutError(request=request))["kind"] == "timeout"
    assert failure_of(httpx.ReadTimeout("slow"))["kind"] == "timeout"
    assert failure_of(openai.APIConnectionError(request=request))["kind"] == "connection"
    assert failure_of(httpx.ConnectError("refused"))["kind"] == "connection"
    assert failure_of(ValueError("flaky"))["kind"] == "transient"
    assert failure_of(ValueError("a bug"), (KeyError,))["kind"] == "other"
    assert failure_of(wflo.BudgetExceededError("over"))["kind"] == "refused"
    assert failure_of(CircuitBreakerOpenError("open", "x", 3))["kind"] == "refused"
    retrier = Retrier({"max_retries": 1, "base_delay_ms": 1, "jitter": 0})
    assert retrier.next(failure_of(limited)) == {"decision": "retry", "attempt": 2, "delay_ms": 2000,
                                                 "reason": "429 Too Many Requests; retry 1 after 2000 ms "
                                                           "(the server's retry-after)"}
    assert retrier.next(limited)["decision"] == "give_up"


# -- circuit breakers ------------------------------------------------------------------------------

def test_circuit_open_is_a_typed_error():
    e = from_details({"code": "CIRCUIT_OPEN", "message": "open", "name": "openai", "failures": 5,
                      "retry_in_ms": 1500})
    assert isinstance(e, wflo.CircuitOpenError) and isinstance(e, wflo.WfloError)
    assert (e.code, e.name, e.failures, e.retry_in_ms, e.retry_in) == ("CIRCUIT_OPEN", "openai", 5, 1500, 1.5)
    assert issubclass(CircuitBreakerOpenError, wflo.CircuitOpenError)


async def test_the_breaker_opens_after_n_failures_and_then_fails_fast(default_engine):
    breaker = CircuitBreaker("search", failure_threshold=3, recovery_timeout=60)
    flaky = Flaky(10, ConnectionError("down"))
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call(flaky.run_async)
    assert breaker.state is CircuitState.OPEN
    assert flaky.calls == 3
    with pytest.raises(CircuitBreakerOpenError) as err:
        await breaker.call(flaky.run_async)
    with pytest.raises(wflo.CircuitOpenError):
        breaker.call_sync(flaky)
    assert flaky.calls == 3, "an open breaker does not call the function"
    e = err.value
    assert (e.code, e.name, e.circuit_name, e.failures, e.failure_count) == ("CIRCUIT_OPEN", "search", "search", 3, 3)
    assert 0 < e.retry_in_ms <= 60_000
    assert "search" in str(e)
    state = breaker.get_state()
    assert (state["name"], state["state"], state["failure_count"], state["rejected"]) == ("search", "open", 3, 2)
    breaker.reset()
    assert breaker.state is CircuitState.CLOSED and breaker.get_state()["failure_count"] == 0


def test_half_open_then_closed_after_the_recovery_timeout(default_engine):
    breaker = CircuitBreaker("tool", failure_threshold=2, recovery_timeout=0.05, success_threshold=2)
    assert (breaker.failure_threshold, breaker.recovery_timeout, breaker.success_threshold) == (2, 0.05, 2)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call_sync(Flaky(1))
    assert breaker.state is CircuitState.OPEN
    time.sleep(0.06)
    assert breaker.state is CircuitState.HALF_OPEN
    # A failed trial call opens it again.
    with pytest.raises(ConnectionError):
        breaker.call_sync(Flaky(1))
    assert breaker.state is CircuitState.OPEN
    time.sleep(0.06)
    assert breaker.call_sync(Flaky(0))[0] == "done"
    assert breaker.state is CircuitState.HALF_OPEN and breaker.success_count == 1
    assert breaker.call_sync(Flaky(0))[0] == "done"
    assert breaker.state is CircuitState.CLOSED
    reasons = [t["reason"] for t in breaker.get_state()["transitions"]]
    assert reasons[0] == "2 consecutive failures" and reasons[-1] == "2 successful trial calls"


def test_only_expected_exceptions_count(default_engine):
    breaker = CircuitBreaker("db", failure_threshold=2, expected_exception=ConnectionError)
    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call_sync(Flaky(1, ValueError("bad input")))
    assert breaker.state is CircuitState.CLOSED
    assert breaker.get_state()["failure_count"] == 0 and breaker.get_state()["total_calls"] == 0
    # wflo's own refusals say nothing about the service either.
    with pytest.raises(wflo.BudgetExceededError):
        breaker.call_sync(Flaky(1, wflo.BudgetExceededError("refused")))
    assert breaker.get_state()["failure_count"] == 0
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call_sync(Flaky(1))
    assert breaker.state is CircuitState.OPEN


def refusals(engine) -> dict:
    """Each of wflo's four refusals, provoked for real on ``engine``, by its code."""
    tiny = wflo.WfloWorkflow("tiny", budget_usd="0.000001", engine=engine)

    def over(_):
        with pytest.raises(wflo.BudgetExceededError) as caught:
            tiny.reserve_request("openai_chat", REQUEST)
        return caught.value

    budget = tiny.execute_sync(over)
    upstream = CircuitBreaker("upstream", failure_threshold=1, engine=engine)
    upstream.record_failure()
    with pytest.raises(CircuitBreakerOpenError) as opened:
        upstream.check()
    lock = ResourceLock("db-migration", engine=engine)
    with lock.acquire_sync("exec-holder"), pytest.raises(ContentionDetectedError) as busy:
        lock.acquire_sync("exec-waiter", timeout=0)
    gated = wflo.WfloWorkflow("cleanup", engine=engine)
    asked = gated.request_approval("delete-index", why="drops the search index")
    wflo.deny(asked.id, note="not on a Friday", by="bo", engine=engine)
    with pytest.raises(wflo.ApprovalDeniedError) as denied:
        gated.require_approval_sync("delete-index")
    found = {e.code: e for e in (budget, opened.value, busy.value, denied.value)}
    assert list(found) == ["BUDGET_EXCEEDED", "CIRCUIT_OPEN", "RESOURCE_BUSY", "APPROVAL_DENIED"]
    return found


def raising(error: BaseException):
    def call():
        raise error
    return call


async def test_a_refusal_is_neither_a_failure_nor_a_success_of_the_breaker(engine):
    """The engine's rule (is_refusal) decides, for all four: the breaker records nothing."""
    breaker = CircuitBreaker("guarded", failure_threshold=1, engine=engine)
    for code, refusal in refusals(engine).items():
        assert is_refusal(refusal), code
        with pytest.raises(type(refusal)) as caught:
            breaker.call_sync(raising(refusal))
        assert caught.value is refusal
        with pytest.raises(type(refusal)) as caught:
            await breaker.call(raising(refusal))
        assert caught.value is refusal
        state = breaker.get_state()
        assert (state["failure_count"], state["total_calls"], state["total_failures"]) == (0, 0, 0), code
        assert breaker.state is CircuitState.CLOSED, code
    # Anything else that fails the call counts.
    with pytest.raises(ConnectionError):
        breaker.call_sync(raising(ConnectionError("search is down")))
    state = breaker.get_state()
    assert (state["failure_count"], state["total_calls"], state["total_failures"]) == (1, 1, 1)
    assert breaker.state is CircuitState.OPEN


def test_only_the_engines_refusals_are_refusals():
    """The face asks the engine, code by code; it keeps no list of its own."""
    for code in ("INVALID_ARGUMENT", "UNKNOWN_MODEL", "NOT_FOUND", "CONFLICT", "STORAGE", "CLOSED", "INTERNAL"):
        error = from_details({"code": code, "message": "x"})
        assert error.code == code and not is_refusal(error), code
        assert failure_of(error)["kind"] == "transient", code
    for code in ("BUDGET_EXCEEDED", "CIRCUIT_OPEN", "RESOURCE_BUSY", "APPROVAL_DENIED"):
        error = from_details({"code": code, "message": "x"})
        assert is_refusal(error), code
        assert failure_of(error) == {"kind": "refused", "status": None, "headers": [], "message": code}
    assert not is_refusal(ConnectionError("down")) and not is_refusal(None)


@pytest.mark.parametrize("code", ["RESOURCE_BUSY", "APPROVAL_DENIED"])
async def test_the_retry_helpers_give_up_at_once_on_a_refusal(engine, code):
    refusal = refusals(engine)[code]
    manager = RetryManager(max_retries=3, base_delay=0.001)
    flaky = Flaky(10, refusal)
    with pytest.raises(type(refusal)) as caught:
        manager.execute_sync(flaky)
    assert caught.value is refusal and flaky.calls == 1
    message = refusal.message
    flaky = Flaky(10, refusal)
    with pytest.raises(type(refusal)) as caught:
        await manager.execute(flaky.run_async)
    assert caught.value is refusal and flaky.calls == 1 and refusal.message == message

    @retry_with_backoff(max_retries=3, base_delay=0.001)
    def decorated():
        return flaky()

    flaky = Flaky(10, refusal)
    with pytest.raises(type(refusal)) as caught:
        decorated()
    assert caught.value is refusal and flaky.calls == 1


def test_get_circuit_breaker_returns_the_one_per_name(default_engine, engine):
    first = get_circuit_breaker("llm", failure_threshold=1)
    assert get_circuit_breaker("llm", failure_threshold=9) is first
    assert first.failure_threshold == 1
    # A second CircuitBreaker of the name shares the engine's breaker and its state.
    again = CircuitBreaker("llm", failure_threshold=4)
    assert again.failure_threshold == 1
    first.record_failure()
    assert again.state is CircuitState.OPEN
    other = wflo.Engine.open("memory://")
    try:
        assert get_circuit_breaker("llm", engine=other) is not first
        assert get_circuit_breaker("llm", engine=other).state is CircuitState.CLOSED
    finally:
        other.close()


async def test_the_circuit_breaker_decorator(default_engine):
    flaky = Flaky(10, ConnectionError("down"))

    @circuit_breaker(name="decorated", failure_threshold=2)
    async def guarded():
        return await flaky.run_async()

    @circuit_breaker(failure_threshold=1)
    def plain():
        return "ok"

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await guarded()
    with pytest.raises(CircuitBreakerOpenError):
        await guarded()
    assert flaky.calls == 2
    assert get_circuit_breaker("decorated").state is CircuitState.OPEN
    assert plain() == "ok"
    assert get_circuit_breaker(plain.__qualname__).get_state()["total_calls"] == 1


async def test_retry_through_a_breaker_stops_when_it_opens(default_engine):
    """The two together: each retry goes through the breaker; once it opens, the refusal is
    never retried."""
    breaker = CircuitBreaker("upstream", failure_threshold=2, recovery_timeout=60)
    flaky = Flaky(10, ConnectionError("down"))
    manager = RetryManager(max_retries=5, base_delay=0.001, jitter=False)
    with pytest.raises(CircuitBreakerOpenError):
        await manager.execute(breaker.call, flaky.run_async)
    assert flaky.calls == 2


# -- the real openai client against `wflo mock-llm` -------------------------------------------------

async def test_openai_rate_limited_twice_then_served(mock, engine):
    wflo.instrument()
    try:
        directives = f"status=429,fail=2,key=py-retry-{uuid.uuid4().hex[:8]},retry_after_ms=5"
        api = openai.AsyncOpenAI(base_url=mock.openai_base(directives), api_key="test-key", max_retries=0)
        manager = RetryManager(max_retries=3, base_delay=0.001, max_delay=0.01, jitter=False)
        wf = wflo.WfloWorkflow("openai-retry", budget_usd="1.00", engine=engine)
        seen = []
        before = mock.requests()

        async def run(_):
            return await manager.execute(api.chat.completions.create, model=MODEL, messages=MESSAGES,
                                         on_retry=lambda a, e, d: seen.append((a, type(e), d)))

        response = await wf.execute(run)
    finally:
        wflo.uninstrument()
    assert isinstance(response, openai.types.chat.ChatCompletion)
    assert mock.requests() - before == 3
    assert seen == [(1, openai.RateLimitError, 0.005), (2, openai.RateLimitError, 0.005)]
    calls = wf.calls()
    assert [c["status"] for c in calls] == ["error", "error", "ok"]
    assert calls[0]["cost_nanos"] == 0 and calls[1]["cost_nanos"] == 0
    assert calls[2]["cost_nanos"] > 0
    breakdown = wf.breakdown_sync()
    assert breakdown["total_nanos"] == calls[2]["cost_nanos"]
    assert breakdown["reserved_nanos"] == 0 and breakdown["status"] == "completed"


def test_the_resilience_example_runs_as_the_readme_shows():
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "resilience.py")], capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "WFLO_LOG"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "attempt 1 failed (connection reset); retry in 0.01s", "attempt 2 failed (slow); retry in 0.02s", "result 42",
        "failed: search is down", "failed: search is down", "refused without calling: search-api after 2 failures",
        "breaker open"]
