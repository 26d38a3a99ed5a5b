"""Pydantic AI (pydantic-ai-slim[openai], the real OpenAI provider) through wflo's
WfloCapability and WfloModel, against `wflo mock-llm`.

Each model request is reserved before it is sent and settled from the response's usage — the
recorded cost equals wflo.cost() of the usage the mock returned, mapped here by hand, to the
nano-USD — charged to the agent by name (scope `agent:<name>`, limited by its share in
`per_agent_budgets`); a request that could overspend raises wflo's BudgetExceededError out of
agent.run with no request reaching the mock; a streamed run settles once (also with
wflo.instrument() on); Pydantic AI's own UsageLimits(cost_limit=…) stops a run only after the
response that passed it.
"""
from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
from decimal import Decimal

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelRetry, UsageLimitExceeded
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import UsageLimits

import wflo
from wflo.integrations.pydantic_ai import WfloCapability, WfloModel

MODEL = "gpt-4o-mini"
ROOT = pathlib.Path(__file__).resolve().parents[3]


def chat_model(mock, directives: str = "") -> OpenAIChatModel:
    client = AsyncOpenAI(base_url=mock.openai_base(directives), api_key="test-key", max_retries=0)
    return OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))


def model(mock, directives: str = "") -> WfloModel:
    return WfloModel(chat_model(mock, directives))


def metered(mock, name: str, directives: str = "", **kwargs) -> Agent:
    """An agent with the capability, over the plain OpenAI chat model."""
    return Agent(chat_model(mock, directives), name=name, capabilities=[WfloCapability()], **kwargs)


def usage_of(u) -> wflo.Usage:
    reasoning = (u.details or {}).get("reasoning_tokens", 0)
    return wflo.Usage(input=u.input_tokens - u.cache_read_tokens, output=u.output_tokens - reasoning,
                      cache_read=u.cache_read_tokens, reasoning=reasoning)


def workflow(engine, budget="1.00") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow("pydantic-ai-test", budget_usd=budget, engine=engine)


async def test_a_run_is_metered_and_charged_to_the_agent(mock, engine):
    agent = Agent(model(mock, "cached=3,reasoning=2,reply=8"), name="writer", instructions="Be brief.")
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    result = await wf.execute(lambda _: agent.run("Say hello"))

    (call,) = wf.calls()
    assert (call["step"], call["status"], call["estimated"], call["stream"]) == ("agent:writer", "ok", False, False)
    usage = usage_of(result.all_messages()[-1].usage)
    assert call["usage"]["cache_read"] == 3 and call["usage"]["reasoning"] == 2
    assert call["cost_nanos"] == wflo.cost(MODEL, usage) > 0
    assert wf.get_cost_breakdown_sync()["total_nanos"] == call["cost_nanos"]
    assert mock.stats()["chat.completions"] == before + 1


async def test_a_refusal_is_the_typed_error_the_run_raises(mock, engine):
    agent = Agent(model(mock), name="writer")
    wf = workflow(engine, budget="0.00001")
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(lambda _: agent.run("Say hello"))

    assert mock.requests() == before
    assert [(c["status"], c["step"]) for c in wf.calls()] == [("refused", "agent:writer")]


async def test_a_streamed_run_settles_once(mock, engine):
    agent = Agent(model(mock, "reply=12"), name="streamer")
    wf = workflow(engine)

    async def run(_):
        async with agent.run_stream("Say hello") as streamed:
            text = await streamed.get_output()
            return text, streamed.usage

    wflo.instrument()  # the SDK call under the wrapper is not metered a second time
    try:
        text, _ = await wf.execute(run)
    finally:
        wflo.uninstrument()
    assert text
    (call,) = wf.calls()
    assert (call["step"], call["status"], call["stream"], call["estimated"]) == ("agent:streamer", "ok", True, False)
    assert call["usage"]["output"] > 0
    assert call["cost_nanos"] == wflo.cost(MODEL, wflo.Usage(**call["usage"])) > 0


async def test_outside_a_workflow_requests_pass_through(mock, engine):
    agent = Agent(model(mock, "reply=3"), name="free")
    before = mock.stats().get("chat.completions", 0)
    result = await agent.run("hi")
    assert result.output
    assert mock.stats()["chat.completions"] == before + 1


# -- the capability --------------------------------------------------------------------------------

def settled_cost(response) -> int:
    return wflo.cost(MODEL, usage_of(response.usage))


async def test_the_capability_meters_each_request_at_the_ledger_cost(mock, engine):
    agent = metered(mock, "writer", "cached=3,reasoning=2,reply=8", instructions="Be brief.")
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    result = await wf.execute(lambda _: agent.run("Say hello"))

    (call,) = wf.calls()
    assert (call["step"], call["status"], call["estimated"], call["stream"]) == ("agent:writer", "ok", False, False)
    assert call["usage"]["cache_read"] == 3 and call["usage"]["reasoning"] == 2
    assert call["cost_nanos"] == settled_cost(result.all_messages()[-1]) > 0
    assert wf.get_cost_breakdown_sync()["total_nanos"] == call["cost_nanos"]
    assert mock.stats()["chat.completions"] == before + 1


async def test_the_capability_meters_every_request_of_a_run(mock, engine):
    agent = metered(mock, "retrier", "reply=5")
    seen = []

    @agent.output_validator
    def once_more(output: str) -> str:
        seen.append(output)
        if len(seen) == 1:
            raise ModelRetry("Try again.")  # a second request in the same run
        return output

    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)
    result = await wf.execute(lambda _: agent.run("Say hello"))

    responses = [m for m in result.all_messages() if m.kind == "response"]
    calls = wf.calls()
    assert len(responses) == len(calls) == 2 == mock.stats()["chat.completions"] - before
    assert [c["step"] for c in calls] == ["agent:retrier"] * 2
    assert [c["cost_nanos"] for c in calls] == [settled_cost(r) for r in responses]
    assert calls[1]["usage"]["input"] > calls[0]["usage"]["input"]  # the retry prompt was read and billed
    assert wf.get_cost_breakdown_sync()["total_nanos"] == sum(c["cost_nanos"] for c in calls)


async def test_a_capability_refusal_is_the_typed_error_agent_run_raises(mock, engine):
    agent = metered(mock, "writer")
    wf = workflow(engine, budget="0.00001")
    before = mock.requests()

    async def run(_):
        with pytest.raises(wflo.BudgetExceededError) as refused:
            await agent.run("Say hello")
        return refused.value

    refused = await wf.execute(run)
    assert refused.requested_nanos > refused.limit_nanos == 10_000
    assert mock.requests() == before
    assert [(c["status"], c["step"]) for c in wf.calls()] == [("refused", "agent:writer")]


async def test_the_reservation_reads_the_instructions_the_request_carries(mock, engine):
    long = "Answer in the voice of a careful archivist. " * 200  # ~1,800 tokens of instructions

    async def refused(agent) -> int:
        wf = workflow(engine, budget="0.00001")
        with pytest.raises(wflo.BudgetExceededError) as e:
            await wf.execute(lambda _: agent.run("Say hello"))
        return e.value.requested_nanos

    bare = await refused(metered(mock, "bare"))
    instructed = await refused(metered(mock, "instructed", instructions=long))
    # gpt-4o-mini reads $0.15 per million input tokens: the instructions add at least 1,500 of them.
    assert instructed - bare >= 1_500 * 150


async def test_a_capability_streamed_run_settles_once_even_with_instrument_on(mock, engine):
    agent = metered(mock, "streamer", "reply=12")
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    async def run(_):
        async with agent.run_stream("Say hello") as streamed:
            return await streamed.get_output(), streamed.response

    wflo.instrument()  # the SDK call under the capability is not metered a second time
    try:
        text, response = await wf.execute(run)
    finally:
        wflo.uninstrument()
    assert text
    (call,) = wf.calls()
    assert (call["step"], call["status"], call["stream"], call["estimated"]) == ("agent:streamer", "ok", True, False)
    assert call["cost_nanos"] == settled_cost(response) > 0
    assert mock.stats()["chat.completions"] == before + 1


async def test_a_run_with_an_event_stream_handler_streams_and_settles_once(mock, engine):
    agent = metered(mock, "narrator", "reply=9")
    wf = workflow(engine)
    events = []

    async def handler(ctx, stream):
        async for event in stream:
            events.append(event)

    result = await wf.execute(lambda _: agent.run("Say hello", event_stream_handler=handler))
    (call,) = wf.calls()
    assert events and (call["step"], call["status"], call["stream"]) == ("agent:narrator", "ok", True)
    assert call["cost_nanos"] == settled_cost(result.all_messages()[-1]) > 0


async def test_a_stream_without_usage_is_estimated_from_its_text(mock, engine):
    agent = metered(mock, "terse", "cut=usage,reply=40")
    wf = workflow(engine)

    async def run(_):
        async with agent.run_stream("Say hello") as streamed:
            return await streamed.get_output()

    text = await wf.execute(run)
    (call,) = wf.calls()
    assert text and (call["step"], call["status"], call["stream"], call["estimated"]) == ("agent:terse", "ok", True, True)
    assert call["usage"]["output"] > 0  # counted from the text delivered, never free


async def test_a_stream_the_consumer_stops_is_booked_once_not_released(mock, engine):
    agent = metered(mock, "quitter", "reply=400")
    wf = workflow(engine)

    async def run(_):
        async with agent.run_stream("Say a lot") as streamed:
            async for _ in streamed.stream_text(delta=True):
                raise KeyboardInterrupt("seen enough")  # a BaseException: the consumer walks away

    with pytest.raises(KeyboardInterrupt):
        await wf.execute(run)
    (call,) = wf.calls()
    assert (call["step"], call["stream"], call["status"], call["estimated"]) == ("agent:quitter", True, "aborted", True)
    assert call["cost_nanos"] > 0  # the prompt was sent: booked (estimated), never free


async def test_per_agent_budgets_refuse_the_agent_past_its_share_while_another_goes_on(mock, engine):
    # The critic's worst case: its prompt and 1,000 output tokens ($0.0006 for gpt-4o-mini);
    # its share, $0.001, covers one such call, and its first reply (800 tokens) leaves too little.
    critic = metered(mock, "critic", "reply=800", model_settings={"max_tokens": 1000})
    writer = metered(mock, "writer", "reply=800", model_settings={"max_tokens": 1000})
    wf = wflo.WfloWorkflow("pydantic-ai-agents", budget_usd="1.00", engine=engine,
                           per_agent_budgets={"critic": 0.001})
    before = mock.requests()

    async def run(_):
        await critic.run("First critique")
        await writer.run("Draft one")
        with pytest.raises(wflo.BudgetExceededError) as refused:
            await critic.run("Second critique")
        await writer.run("Draft two")  # the writer goes on
        return refused.value

    refused = await wf.execute(run)
    assert refused.limit_nanos == 1_000_000
    assert [(c["step"], c["status"]) for c in wf.calls()] == [
        ("agent:critic", "ok"), ("agent:writer", "ok"), ("agent:critic", "refused"), ("agent:writer", "ok")]
    assert mock.requests() == before + 3


async def test_concurrent_runs_of_one_agent_each_settle_their_own_request(mock, engine):
    agent = metered(mock, "twin", "reply=7,latency=50")
    wf = workflow(engine)

    async def run(_):
        return await asyncio.gather(agent.run("one"), agent.run("two"), agent.run("three"))

    results = await wf.execute(run)
    calls = wf.calls()
    assert [(c["step"], c["status"]) for c in calls] == [("agent:twin", "ok")] * 3
    assert sorted(c["cost_nanos"] for c in calls) == sorted(settled_cost(r.all_messages()[-1]) for r in results)


async def test_usage_limits_cost_limit_stops_after_the_response_wflo_before_the_request(mock, engine):
    limit = Decimal("0.000001")  # one micro-dollar, below one gpt-4o-mini reply
    plain = Agent(chat_model(mock, "reply=20"), name="plain")
    before = mock.requests()
    with pytest.raises(UsageLimitExceeded, match="cost_limit"):
        await plain.run("Say hello", usage_limits=UsageLimits(cost_limit=limit))
    assert mock.requests() == before + 1  # Pydantic AI checked after the response: already sent and billed

    wf = workflow(engine, budget=str(limit))
    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(lambda _: metered(mock, "plain", "reply=20").run("Say hello"))
    assert mock.requests() == before + 1  # wflo refused from the worst case: nothing sent
    assert [c["status"] for c in wf.calls()] == ["refused"]


async def test_the_capability_and_the_wrapper_model_together_meter_once(mock, engine):
    agent = Agent(model(mock, "reply=4"), name="both", capabilities=[WfloCapability()])
    wf = workflow(engine)
    result = await wf.execute(lambda _: agent.run("hi"))
    (call,) = wf.calls()
    assert call["cost_nanos"] == settled_cost(result.all_messages()[-1]) > 0


async def test_clamping_lowers_the_output_limit_sent_instead_of_refusing(mock, engine):
    agent = Agent(chat_model(mock, "reply=5"), name="clamped", capabilities=[WfloCapability(clamp_max_tokens=True)])
    wf = workflow(engine, budget="0.0005")  # far below gpt-4o-mini's worst case at its maximum output
    result = await wf.execute(lambda _: agent.run("hi"))
    (call,) = wf.calls()
    assert call["status"] == "ok" and result.output
    assert call["cost_nanos"] == settled_cost(result.all_messages()[-1]) <= 500_000


def test_the_example_runs_as_the_readme_shows(mock):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "frameworks" / "pydantic_ai_agents.py")],
        capture_output=True, text=True, timeout=60,
        env={**{k: v for k, v in os.environ.items() if k != "WFLO_LOG"}, "WFLO_OPENAI_BASE_URL": mock.openai_base()})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("critic refused: needs up to $")
    assert [l.split()[:2] for l in lines[1:]] == [["agent:writer", "ok"], ["agent:critic", "refused"],
                                                  ["agent:writer", "ok"]]
    assert lines[2].endswith("$0.00000000") and all(not l.endswith("$0.00000000") for l in (lines[1], lines[3]))
