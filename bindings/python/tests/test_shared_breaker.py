"""Circuit breakers shared through the store (``shared=True``) from Python: two engines opened on
ONE SQLite file step one breaker — a failure through each opens it for both, either refuses with
CircuitBreakerOpenError, a reset through one closes it for the other — and
``Engine.breakers_on_store`` lists shared breakers and every breaker's changes of state. The
rules are core's (core/src/resilience/breaker/machine.rs); these tests watch them through the
Python API.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

import wflo
from wflo.resilience import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitState,
    circuit_breaker,
    get_circuit_breaker,
)

HOUR = 3600.0


@pytest.fixture
def two_engines(tmp_path):
    """Two engines on the same SQLite file, as two processes would have them."""
    path = str(tmp_path / "shared.db")
    a, b = wflo.Engine.open(path), wflo.Engine.open(path)
    yield a, b
    a.close()
    b.close()


def test_a_shared_breaker_is_one_breaker_for_two_engines_on_one_store(two_engines):
    a, b = two_engines
    settings = dict(failure_threshold=2, recovery_timeout=HOUR, success_threshold=1, shared=True)
    via_a = CircuitBreaker("provider:openai", engine=a, **settings)
    via_b = CircuitBreaker("provider:openai", engine=b, **settings)
    assert via_a.shared and via_b.shared and via_a.config["shared"] is True

    via_a.check()
    via_a.record_failure()
    assert via_b.state is CircuitState.CLOSED and via_b.failure_count == 1  # a's failure, seen by b
    via_b.check()
    via_b.record_failure()

    # Open for both: a check through EITHER engine fails fast, naming the breaker and its count.
    for breaker in (via_a, via_b):
        assert breaker.state is CircuitState.OPEN
        with pytest.raises(CircuitBreakerOpenError) as refused:
            breaker.check()
        assert isinstance(refused.value, wflo.CircuitOpenError)
        assert refused.value.name == "provider:openai" and refused.value.failures == 2
        assert refused.value.circuit_name == "provider:openai" and refused.value.failure_count == 2
        assert 0 < refused.value.retry_in_ms <= HOUR * 1000
    called = []
    with pytest.raises(CircuitBreakerOpenError):
        via_b.call_sync(lambda: called.append(1))
    assert called == [], "an open shared breaker does not call the function"

    # The other engine lists it from the store, with the one change of state and its reason.
    on_store = b.breakers_on_store()
    assert set(on_store) == {"shared", "transitions"}
    [status] = on_store["shared"]
    assert status["name"] == "provider:openai" and status["shared"] is True
    assert status["state"] == "open" and status["failure_count"] == 2 and status["total_failures"] == 2
    assert status["rejected"] == 3  # two checks and the call_sync, through both engines
    [opened] = on_store["transitions"]
    assert (opened["breaker"], opened["shared"], opened["from"], opened["to"], opened["reason"]) == (
        "provider:openai", True, "closed", "open", "2 consecutive failures")
    assert opened["holder"] and opened["at_ms"] > 0
    again = a.breakers_on_store("provider:openai")  # the other engine, only that name: the same
    assert again["transitions"] == on_store["transitions"]
    assert [{k: v for k, v in s.items() if k != "retry_in_ms"} for s in again["shared"]] == [
        {k: v for k, v in status.items() if k != "retry_in_ms"}]
    assert via_a.get_state()["transitions"] == [opened]

    # A reset through one engine closes it for the other.
    via_a.reset()
    assert via_b.state is CircuitState.CLOSED and via_b.failure_count == 0
    via_b.check()
    assert via_b.call_sync(lambda: "answered") == "answered"
    changes = b.breakers_on_store(limit=50)["transitions"]
    assert [(t["from"], t["to"], t["reason"]) for t in changes] == [
        ("closed", "open", "2 consecutive failures"), ("open", "closed", "reset")]
    assert b.breakers_on_store(limit=1)["transitions"] == changes[-1:]  # the latest, oldest first


def test_a_breaker_that_is_not_shared_records_its_changes_but_keeps_its_state(two_engines):
    a, b = two_engines
    mine = CircuitBreaker("tool:search", failure_threshold=1, recovery_timeout=HOUR, engine=a)
    theirs = CircuitBreaker("tool:search", failure_threshold=1, recovery_timeout=HOUR, engine=b)
    assert mine.shared is False and mine.get_state()["shared"] is False
    mine.record_failure()
    assert mine.state is CircuitState.OPEN
    assert theirs.state is CircuitState.CLOSED  # the other engine's breaker of that name is its own
    theirs.check()

    on_store = b.breakers_on_store()
    assert on_store["shared"] == []  # its state is not in the store
    [change] = on_store["transitions"]
    assert (change["breaker"], change["shared"], change["from"], change["to"], change["reason"]) == (
        "tool:search", False, "closed", "open", "1 consecutive failures")
    assert b.breakers_on_store("provider:openai") == {"shared": [], "transitions": []}


def test_shared_passes_through_get_circuit_breaker_and_the_decorator(two_engines):
    a, b = two_engines
    got = get_circuit_breaker("kb", engine=a, failure_threshold=2, recovery_timeout=HOUR, shared=True)
    assert got.shared and get_circuit_breaker("kb", engine=a) is got
    assert not get_circuit_breaker("kb-local", engine=a).shared

    calls = []

    @circuit_breaker("kb", failure_threshold=2, recovery_timeout=HOUR, expected_exception=ConnectionError,
                     shared=True, engine=b)
    def lookup():
        calls.append(1)
        raise ConnectionError("kb is down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            lookup()
    with pytest.raises(CircuitBreakerOpenError) as refused:
        lookup()
    assert refused.value.failures == 2 and len(calls) == 2
    assert got.state is CircuitState.OPEN  # opened through b, seen through a's breaker
    assert [s["name"] for s in a.breakers_on_store()["shared"]] == ["kb"]


async def test_an_async_call_through_a_shared_breaker(two_engines):
    a, b = two_engines
    via_a = CircuitBreaker("async", failure_threshold=1, recovery_timeout=HOUR, shared=True, engine=a)
    via_b = CircuitBreaker("async", failure_threshold=1, recovery_timeout=HOUR, shared=True, engine=b)

    async def down():
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        await via_a.call(down)
    with pytest.raises(CircuitBreakerOpenError):
        await via_b.call(down)


def test_the_settings_are_checked(engine):
    with pytest.raises(wflo.InvalidArgumentError, match="shared must be True or False"):
        CircuitBreaker("x", shared="yes", engine=engine)
    with pytest.raises(wflo.InvalidArgumentError, match="limit"):
        engine.breakers_on_store(limit="50")
    with pytest.raises(wflo.InvalidArgumentError, match="name"):
        engine.breakers_on_store(name=3)
    with pytest.raises(wflo.InvalidArgumentError):
        engine.breakers_on_store(limit=-1)


def test_a_shared_breaker_on_a_closed_engine_raises_wflos_error(tmp_path):
    eng = wflo.Engine.open(str(tmp_path / "closed.db"))
    breaker = CircuitBreaker("gone", shared=True, engine=eng)
    breaker.record_failure()
    eng.close()
    for step in (breaker.check, breaker.record_failure, breaker.record_success, breaker.reset,
                 breaker.get_state, lambda: breaker.state):
        with pytest.raises(wflo.ClosedError) as failed:  # wflo's typed error, not UniFFI's
            step()
        assert failed.value.code == "CLOSED"
    assert "unknown (ClosedError)" in repr(breaker)
    with pytest.raises(wflo.ClosedError):
        eng.breakers_on_store()


def test_another_process_opens_the_breaker_for_this_one(tmp_path):
    path = str(tmp_path / "processes.db")
    eng = wflo.Engine.open(path)
    here = CircuitBreaker("billing", failure_threshold=3, recovery_timeout=HOUR, shared=True, engine=eng)
    here.record_failure()
    child = subprocess.run([sys.executable, "-c", (
        "import sys, wflo\n"
        "from wflo.resilience import CircuitBreaker\n"
        "eng = wflo.Engine.open(sys.argv[1])\n"
        "b = CircuitBreaker('billing', failure_threshold=3, recovery_timeout=3600, shared=True, engine=eng)\n"
        "b.record_failure(); b.record_failure()\n"
        "print(b.state.value)\n"
        "eng.close()\n"), path], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "open"
    with pytest.raises(CircuitBreakerOpenError) as refused:
        here.check()
    assert refused.value.failures == 3
    [opened] = eng.breakers_on_store("billing")["transitions"]
    assert opened["reason"] == "3 consecutive failures"
    eng.close()
