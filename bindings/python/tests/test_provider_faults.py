"""A provider slower than the client's timeout, through wflo.instrument() and the official openai
SDK against `wflo mock-llm` (latency=MS). The client gives up; wflo must then hold nothing,
record the call once as an error that cost nothing, and keep the books balanced to the
nano-USD. (429/500, resets and cut streams are in test_openai.py.)"""
from __future__ import annotations

import asyncio
import time

import openai
import pytest

import wflo

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Is anyone there?"}]
SLOW = "latency=2000"  # the mock waits 2 s before answering
TIMEOUT = 0.3


@pytest.fixture(autouse=True)
def instrumented():
    wflo.instrument()
    yield
    wflo.uninstrument()


def balanced(wf: wflo.WfloWorkflow) -> list:
    """Nothing reserved, no overrun, the total is the sum of the records, to the nano-USD."""
    calls = wf.calls()
    b = wf.get_cost_breakdown_sync()
    assert b["reserved_nanos"] == 0
    assert b["overrun_nanos"] == 0
    assert b["total_nanos"] == sum(c["cost_nanos"] for c in calls)
    assert b["remaining_nanos"] == b["budget_nanos"] - b["total_nanos"]
    return calls


def assert_released(record: dict, *, stream: bool) -> None:
    assert record["status"] == "error"
    assert record["cost_nanos"] == 0
    assert record["stream"] is stream
    assert "Timeout" in (record["error"] or ""), record["error"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_slower_than_the_client_timeout_is_released(mock, engine, stream):
    wf = wflo.WfloWorkflow("slow", budget_usd="1.00", engine=engine)
    api = openai.OpenAI(base_url=mock.openai_base(SLOW), api_key="k", timeout=TIMEOUT, max_retries=0)
    engine.count_chat_tokens(MODEL, MESSAGES)  # the tokenizer's first load is not the provider's time

    def run(_):
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=stream)
        return time.monotonic() - started

    waited = wf.execute_sync(run)
    assert waited < 1.5, f"the client waited {waited:.2f} s for a provider it had given up on"
    [record] = balanced(wf)
    assert_released(record, stream=stream)


def test_an_async_client_timing_out_is_released(mock, engine):
    wf = wflo.WfloWorkflow("slow-async", budget_usd="1.00", engine=engine)
    api = openai.AsyncOpenAI(base_url=mock.openai_base(SLOW), api_key="k", timeout=TIMEOUT, max_retries=0)

    async def run(_):
        with pytest.raises(openai.APITimeoutError):
            await api.chat.completions.create(model=MODEL, messages=MESSAGES)

    asyncio.run(wf.execute(run))
    [record] = balanced(wf)
    assert_released(record, stream=False)


def test_timeouts_the_sdk_retries_are_one_metered_call(mock, engine):
    """The SDK retries a timeout itself, inside the create() that wflo meters: one reservation
    covers every attempt, and one record shows how the call ended."""
    wf = wflo.WfloWorkflow("slow-retried", budget_usd="1.00", engine=engine)
    api = openai.OpenAI(base_url=mock.openai_base(SLOW), api_key="k", timeout=TIMEOUT, max_retries=1)
    before = mock.stats().get("chat.completions", 0)

    def run(_):
        with pytest.raises(openai.APITimeoutError):
            api.chat.completions.create(model=MODEL, messages=MESSAGES)

    wf.execute_sync(run)
    assert mock.stats().get("chat.completions", 0) - before == 2, "the SDK did not retry"
    [record] = balanced(wf)
    assert_released(record, stream=False)
