"""The OpenAI Agents SDK (openai-agents) through wflo's model provider, against `wflo mock-llm`.

A run's model calls are each reserved before their request and settled from
ModelResponse.usage — the recorded cost equals wflo.cost() of that usage (mapped here by hand)
— charged to the agent whose turn it was (scope `agent:<name>`, handoffs included); a call
that could overspend is refused with no request reaching the mock; a streamed run settles
each call once. Tracing export is disabled: nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from agents import (Agent, ModelProvider, ModelSettings, OpenAIChatCompletionsModel, RunConfig, Runner,
                    set_default_openai_api, set_default_openai_client, set_tracing_disabled)
from openai import AsyncOpenAI

import wflo
from wflo.integrations.openai_agents import (WfloModel, install_default_provider, uninstall_default_provider,
                                             wflo_provider)

set_tracing_disabled(True)

TRIAGE_MODEL = "gpt-4o-mini"
SPANISH_MODEL = "gpt-4o"


def oa_client(mock, directives: str = "") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=mock.openai_base(directives), api_key="test-key", max_retries=0)


class ByModel(ModelProvider):
    """The SDK's chat-completions model, each model name on its own mock client (so the
    triage model can be told to answer with the handoff's tool call)."""

    def __init__(self, clients):
        self.clients = clients

    def get_model(self, model_name):
        return OpenAIChatCompletionsModel(model=model_name, openai_client=self.clients[model_name])


def agents_pair():
    spanish = Agent(name="spanish", instructions="Answer in Spanish.", model=SPANISH_MODEL)
    triage = Agent(name="triage", instructions="Hand Spanish speakers over.", model=TRIAGE_MODEL,
                   handoffs=[spanish])
    return triage, spanish


def usage_of(u) -> wflo.Usage:
    cached = u.input_tokens_details.cached_tokens or 0
    reasoning = u.output_tokens_details.reasoning_tokens or 0
    return wflo.Usage(input=u.input_tokens - cached, output=u.output_tokens - reasoning, cache_read=cached,
                      reasoning=reasoning)


def workflow(engine, budget="1.00") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow("agents-test", budget_usd=budget, engine=engine)


# The runner's turn spans name the agent; without them (the tracing option below), the agent's own span does.
@pytest.mark.parametrize("tracing", [None, {"include_task_and_turn_spans": False}])
async def test_a_handoff_run_is_metered_per_call_and_per_agent(mock, engine, tracing):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "tool=transfer_to_spanish,reply=6"),
                                      SPANISH_MODEL: oa_client(mock, "cached=4,reply=9")}))
    triage, _ = agents_pair()
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    result = await wf.execute(lambda _: Runner.run(triage, "Hola, ¿qué tal?",
                                                   run_config=RunConfig(model_provider=provider, tracing=tracing)))

    assert result.last_agent.name == "spanish"
    calls = wf.calls()
    assert [c["step"] for c in calls] == ["agent:triage", "agent:spanish"]
    assert [c["model"] for c in calls] == [TRIAGE_MODEL, SPANISH_MODEL]
    for call, response in zip(calls, result.raw_responses):
        assert call["status"] == "ok" and call["estimated"] is False
        assert call["cost_nanos"] == wflo.cost(call["model"], usage_of(response.usage)) > 0
    assert calls[1]["usage"]["cache_read"] == 4
    assert wf.get_cost_breakdown_sync()["total_nanos"] == sum(c["cost_nanos"] for c in calls)
    assert mock.stats()["chat.completions"] == before + 2


async def test_a_call_that_could_overspend_never_reaches_the_mock(mock, engine):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock), SPANISH_MODEL: oa_client(mock)}))
    triage, _ = agents_pair()
    wf = workflow(engine, budget="0.00001")
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(lambda _: Runner.run(triage, "hi", run_config=RunConfig(model_provider=provider)))

    assert mock.requests() == before
    assert [(c["status"], c["step"]) for c in wf.calls()] == [("refused", "agent:triage")]


async def test_a_streamed_run_settles_each_call_once(mock, engine):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "reply=12"), SPANISH_MODEL: oa_client(mock)}))
    triage, _ = agents_pair()
    wf = workflow(engine)

    async def run(_):
        streamed = Runner.run_streamed(triage, "hi", run_config=RunConfig(model_provider=provider))
        async for _event in streamed.stream_events():
            pass
        return streamed

    streamed = await wf.execute(run)
    calls = wf.calls()
    assert len(calls) == 1
    call = calls[0]
    assert (call["stream"], call["status"], call["step"], call["estimated"]) == (True, "ok", "agent:triage", False)
    assert call["cost_nanos"] == wflo.cost(TRIAGE_MODEL, usage_of(streamed.raw_responses[0].usage)) > 0


async def test_the_default_provider_meters_runs_without_a_run_config(mock, engine):
    set_default_openai_client(oa_client(mock, "reply=5"), use_for_tracing=False)
    set_default_openai_api("chat_completions")
    install_default_provider()
    try:
        agent = Agent(name="solo", instructions="Be brief.", model=TRIAGE_MODEL)
        wf = workflow(engine)
        result = await wf.execute(lambda _: Runner.run(agent, "hi"))
        (call,) = wf.calls()
        assert call["step"] == "agent:solo"
        assert call["cost_nanos"] == wflo.cost(TRIAGE_MODEL, usage_of(result.raw_responses[0].usage))
        # Outside a workflow the same run passes straight through.
        await Runner.run(agent, "hi")
        assert len(wf.calls()) == 1
    finally:
        uninstall_default_provider()
        set_default_openai_api("responses")


async def test_instrumented_sdk_calls_inside_are_not_charged_twice(mock, engine):
    wflo.instrument()
    try:
        model = WfloModel(OpenAIChatCompletionsModel(model=TRIAGE_MODEL, openai_client=oa_client(mock, "reply=4")))
        agent = Agent(name="solo", instructions="Be brief.", model=model)
        wf = workflow(engine)
        await wf.execute(lambda _: Runner.run(agent, "hi"))
        assert [c["step"] for c in wf.calls()] == ["agent:solo"]
    finally:
        wflo.uninstrument()


async def test_an_agent_past_its_own_budget_is_refused_while_another_goes_on(mock, engine):
    # gpt-4o-mini output: $0.60 per million tokens. A 1,000-token turn holds ~$0.0006; a
    # 900-token answer spends ~$0.00054 of the researcher's $0.001, so its next turn cannot fit.
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "reply=900")}))
    settings = ModelSettings(max_tokens=1000)
    researcher = Agent(name="researcher", instructions="Dig deep.", model=TRIAGE_MODEL, model_settings=settings)
    writer = Agent(name="writer", instructions="Write it up.", model=TRIAGE_MODEL, model_settings=settings)
    wf = wflo.WfloWorkflow("agents-test", budget_usd="1.00", engine=engine, per_agent_budgets={"researcher": "0.001"})
    config = RunConfig(model_provider=provider)
    seen = {}

    async def run(_):
        responses = [(await Runner.run(researcher, "Find the papers.", run_config=config)).raw_responses[0]]
        before = mock.requests()
        with pytest.raises(wflo.BudgetExceededError) as refused:
            await Runner.run(researcher, "Find more.", run_config=config)
        seen["sent"], seen["refused"] = mock.requests() - before, refused.value
        for _ in range(2):
            responses.append((await Runner.run(writer, "Write the summary.", run_config=config)).raw_responses[0])
        return responses

    responses = await wf.execute(run)
    assert seen["sent"] == 0, "the refused turn sent nothing"
    assert seen["refused"].scope == "agent:researcher"
    calls = wf.calls()
    assert [(c["step"], c["status"]) for c in calls] == [
        ("agent:researcher", "ok"), ("agent:researcher", "refused"), ("agent:writer", "ok"), ("agent:writer", "ok")]
    done = [c for c in calls if c["status"] == "ok"]
    assert [c["cost_nanos"] for c in done] == [wflo.cost(TRIAGE_MODEL, usage_of(r.usage)) for r in responses]
    assert done[0]["usage"]["output"] >= 850
    breakdown = wf.get_cost_breakdown_sync()
    assert breakdown["total_nanos"] == sum(c["cost_nanos"] for c in done) > 1_000_000  # the writer went on


async def test_the_agent_handed_to_is_held_to_its_own_share(mock, engine):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "tool=transfer_to_spanish,reply=6"),
                                      SPANISH_MODEL: oa_client(mock, "reply=9")}))
    triage, _ = agents_pair()
    wf = wflo.WfloWorkflow("agents-test", budget_usd="1.00", engine=engine,
                           per_agent_budgets={"spanish": 0.00001})
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError) as refused:
        await wf.execute(lambda _: Runner.run(triage, "Hola", run_config=RunConfig(model_provider=provider)))
    assert refused.value.scope == "agent:spanish"
    assert mock.requests() == before + 1  # triage's call went out, spanish's never did
    assert [(c["step"], c["status"]) for c in wf.calls()] == [("agent:triage", "ok"), ("agent:spanish", "refused")]


def test_the_readme_example_runs_and_its_ledger_is_the_mocks(mock):
    from conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=mock.openai_base("tool=transfer_to_billing"),
               OPENAI_AGENTS_DISABLE_TRACING="1")  # Triage hands over to Billing
    before = mock.requests()
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "frameworks" / "openai_agents.py")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    *lines, ledger = done.stdout.splitlines()
    calls = json.loads(ledger)
    assert [(c["step"], c["requested_model"], c["status"]) for c in calls] == [
        ("agent:Triage", TRIAGE_MODEL, "ok"), ("agent:Billing", SPANISH_MODEL, "refused")]
    triage = calls[0]
    assert triage["cost_nanos"] == wflo.cost(TRIAGE_MODEL, wflo.Usage(**triage["usage"])) > 0
    assert not triage["estimated"]
    assert mock.requests() == before + 1, "Triage's turn reached the mock, Billing's never did"
    assert lines == ["refused before sending: agent:Billing, limit $0.001",
                     f"agent:Triage {TRIAGE_MODEL} ok ${triage['cost_nanos'] / 1e9:.7f}",
                     f"agent:Billing {SPANISH_MODEL} refused $0.0000000"]
