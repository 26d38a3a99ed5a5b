"""The OpenAI Agents SDK (openai-agents) through wflo's model provider, against `wflo mock-llm`.

A run's model calls are each reserved before their request and settled from
ModelResponse.usage — the recorded cost equals wflo.cost() of that usage (mapped here by hand)
— charged to the agent whose turn it was (scope `agent:<name>`, handoffs included); a call
that could overspend is refused with no request reaching the mock; a streamed run settles
each call once. Tracing export is disabled: nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import inspect

import pytest
from agents import (Agent, ModelProvider, OpenAIChatCompletionsModel, RunConfig, Runner, set_default_openai_api,
                    set_default_openai_client, set_tracing_disabled)
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


async def test_a_handoff_run_is_metered_per_call_and_per_agent(mock, engine):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "tool=transfer_to_spanish,reply=6"),
                                      SPANISH_MODEL: oa_client(mock, "cached=4,reply=9")}))
    triage, _ = agents_pair()
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    result = await wf.execute(lambda _: Runner.run(triage, "Hola, ¿qué tal?",
                                                   run_config=RunConfig(model_provider=provider)))

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


@pytest.mark.skipif("per_agent_budgets" not in inspect.signature(wflo.WfloWorkflow).parameters,
                    reason="WfloWorkflow(per_agent_budgets=…) is not in this build")
async def test_an_agent_past_its_own_budget_is_refused_while_another_goes_on(mock, engine):
    provider = wflo_provider(ByModel({TRIAGE_MODEL: oa_client(mock, "tool=transfer_to_spanish,reply=6"),
                                      SPANISH_MODEL: oa_client(mock, "reply=9")}))
    triage, spanish = agents_pair()
    wf = wflo.WfloWorkflow("agents-test", budget_usd="1.00", engine=engine,
                           per_agent_budgets={"spanish": 0.00001})
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(lambda _: Runner.run(triage, "Hola", run_config=RunConfig(model_provider=provider)))
    assert mock.requests() == before + 1  # triage's call went out, spanish's never did
    assert [(c["step"], c["status"]) for c in wf.calls()] == [("agent:triage", "ok"), ("agent:spanish", "refused")]
