"""wflo.resilience.contention: the original SDK's ResourceLock, get_resource_lock,
detect_contention and ContentionDetectedError, each lock the engine's resource in the store.

The slots are checked by the code holding them (never more inside than the semaphore allows),
the statistics are the engine's as every process on the store sees them, and two Engine
objects on one SQLite file share the same slots — the store, not the Python object, holds them.
"""
from __future__ import annotations

import asyncio
import threading

import pytest

import wflo
from wflo.errors import from_details
from wflo.resilience import (
    ContentionDetectedError,
    Permit,
    ResourceLock,
    detect_contention,
    get_resource_lock,
)


async def test_a_semaphore_of_two_shared_by_six_tasks_never_has_more_than_two_inside(engine):
    lock = ResourceLock("gpu", timeout=5.0, contention_threshold=0.01, max_concurrent=2, engine=engine)
    inside, most, ticks = 0, 0, 0
    done = asyncio.Event()

    async def ticker() -> None:  # runs only while the waits leave the event loop free
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.002)

    async def task(n: int) -> float:
        nonlocal inside, most
        async with lock.acquire(workflow_id=f"wf-{n}") as permit:
            inside += 1
            most = max(most, inside)
            assert inside <= 2
            holders = lock.get_stats()["current_holders"]
            assert f"wf-{n}" in holders and len(holders) <= 2
            await asyncio.sleep(0.03)
            inside -= 1
            return permit.wait_time

    tick = asyncio.create_task(ticker())
    waits = await asyncio.gather(*(task(n) for n in range(6)))
    done.set()
    await tick
    assert most == 2
    assert ticks > 10, "the event loop was blocked while tasks waited for a slot"

    stats = lock.get_stats()
    assert stats["resource_name"] == "gpu" and stats["concurrent_capacity"] == 2
    assert stats["total_acquisitions"] == 6 and stats["timeouts"] == 0
    assert stats["current_holders"] == [] and stats["holders"] == []
    # Four tasks had to wait a whole hold (30 ms) at least: each past the 10 ms threshold.
    assert sum(w > 0.01 for w in waits) >= 4
    assert stats["contention_count"] == sum(w > 0.01 for w in waits)
    assert stats["contention_rate"] == round(stats["contention_count"] / 6, 3)
    assert stats["max_wait_time"] == pytest.approx(max(waits), abs=0.001)
    assert stats["max_wait_time"] >= 0.03
    assert stats["avg_wait_time"] == pytest.approx(sum(waits) / 6, abs=0.002)
    assert stats["avg_wait_time_seconds"] == stats["avg_wait_time"]  # the original SDK's names

    lock.reset_stats()
    zero = lock.get_stats()
    assert (zero["total_acquisitions"], zero["contention_count"], zero["contention_rate"], zero["max_wait_time"]) \
        == (0, 0, 0.0, 0.0)


async def test_a_timeout_raises_contention_detected_naming_the_holders(engine):
    lock = ResourceLock("db-migration", timeout=0.05, engine=engine)
    with lock.acquire_sync("exec-holder") as permit:
        assert isinstance(permit, Permit) and permit.waited_ms == 0 and permit.renew() is True
        with pytest.raises(ContentionDetectedError) as caught:
            lock.acquire_sync("exec-waiter")  # the lock's timeout: 50 ms
        e = caught.value
        assert isinstance(e, wflo.ResourceBusyError) and isinstance(e, wflo.WfloError)
        assert e.code == "RESOURCE_BUSY"
        assert e.resource == e.resource_name == "db-migration"
        assert e.waited_ms >= 50 and e.wait_time == e.waited_ms / 1000
        assert len(e.holders) == 1 and e.holders[0].startswith("exec-holder (")
        with pytest.raises(wflo.ResourceBusyError):  # the same error under the engine's name
            async with lock.acquire("exec-waiter", timeout=0):
                pass
    stats = lock.get_stats()
    assert (stats["total_acquisitions"], stats["timeouts"], stats["contention_count"]) == (1, 2, 0)
    assert stats["contention_rate"] == 0.0
    # Free again: no wait at all.
    permit = await lock.acquire("exec-waiter", timeout=0)
    assert permit.waited_ms == 0 and lock.get_stats()["current_holders"] == ["exec-waiter"]
    permit.release()
    permit.release()  # twice is fine
    assert lock.get_stats()["current_holders"] == []


def test_two_engines_on_one_sqlite_file_share_the_slots(tmp_path):
    path = str(tmp_path / "shared.db")
    first, second = wflo.Engine.open(path), wflo.Engine.open(path)
    try:
        here = get_resource_lock("pool", max_concurrent=2, timeout=0.05, engine=first)
        there = get_resource_lock("pool", max_concurrent=2, timeout=0.05, engine=second)
        assert here is get_resource_lock("pool", engine=first)  # one object per name per engine
        assert here is not there
        a, b = here.acquire_sync("exec-a"), here.acquire_sync("exec-b")
        with pytest.raises(ContentionDetectedError) as caught:
            there.acquire_sync("exec-c", timeout=0)
        # (two holds taken in the same millisecond have no order between them)
        assert sorted(h.split(" ")[0] for h in caught.value.holders) == ["exec-a", "exec-b"]
        assert sorted(there.get_stats()["current_holders"]) == ["exec-a", "exec-b"]
        a.release()
        with there.acquire_sync("exec-c", timeout=0):
            assert sorted(here.get_stats()["current_holders"]) == ["exec-b", "exec-c"]
        b.release()
        stats = here.get_stats()
        assert (stats["total_acquisitions"], stats["timeouts"], stats["current_holders"]) == (3, 1, [])
        assert stats["contention_rate"] == 0.0
    finally:
        first.close()
        second.close()


async def test_the_detect_contention_decorator_on_async_and_sync_functions(default_engine):
    inside, most = 0, 0

    @detect_contention("index-writer", timeout=5.0, contention_threshold=0.005)
    async def write(n: int) -> int:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        return n * 2

    assert await asyncio.gather(*(write(n) for n in range(3))) == [0, 2, 4]
    assert most == 1
    lock = get_resource_lock("index-writer")  # the default engine's: the decorator's lock
    stats = lock.get_stats()
    assert stats["total_acquisitions"] == 3 and stats["contention_count"] >= 2
    assert write.__name__ == "write"

    seen = []

    @detect_contention("index-writer", workflow_id="nightly-job")
    def rebuild() -> str:
        seen.append(lock.get_stats()["current_holders"])
        return "rebuilt"

    assert rebuild() == "rebuilt" and seen == [["nightly-job"]]

    # Inside a workflow the holder is its execution, on the workflow's engine.
    wf = wflo.WfloWorkflow("indexer", engine=default_engine)

    @detect_contention("index-writer")
    def in_workflow(_: object) -> list:
        return lock.get_stats()["current_holders"]

    assert wf.execute_sync(in_workflow) == [wf.execution_id]

    # A call that finds no slot is refused without running. (Settings apply when the name's
    # lock is first made: a lock of its own for a timeout of its own.)
    ran = []

    @detect_contention("report-writer", timeout=0)
    def blocked() -> None:
        ran.append(1)

    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with ResourceLock("report-writer", engine=default_engine).acquire_sync("other-process"):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        with pytest.raises(ContentionDetectedError):
            blocked()
    finally:
        release.set()
        t.join()
    assert ran == []
    assert get_resource_lock("report-writer").get_stats()["timeouts"] == 1


def test_bad_settings_and_the_error_from_the_c_abi_path(engine):
    with pytest.raises(wflo.InvalidArgumentError):
        ResourceLock("x", max_concurrent=0, engine=engine)
    with pytest.raises(wflo.InvalidArgumentError):
        ResourceLock("", engine=engine)
    with pytest.raises(wflo.InvalidArgumentError):
        ResourceLock("x", timeout=-1)
    with pytest.raises(wflo.InvalidArgumentError):
        ResourceLock("x", engine=engine).acquire_sync("w", timeout="soon")
    # The C ABI's error details (wflo_last_error_json) become the same class.
    e = from_details({"code": "RESOURCE_BUSY", "message": "busy", "resource": "r", "waited_ms": 1500,
                      "holders": ["exec-a (host:1)"]})
    assert type(e) is wflo.ResourceBusyError
    assert (e.resource, e.waited_ms, e.wait_time, e.holders) == ("r", 1500, 1.5, ["exec-a (host:1)"])
    # The original SDK's constructor.
    c = ContentionDetectedError("timeout after 1.5s", "r", 1.5, ["exec-a"])
    assert (c.resource_name, c.resource, c.wait_time, c.waited_ms, c.holders) == ("r", "r", 1.5, 1500, ["exec-a"])
