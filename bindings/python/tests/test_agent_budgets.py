"""``per_agent_budgets`` with the frameworks' own agents, against `wflo mock-llm`: each call is
charged to the agent its framework names (a LangGraph node, an AutoGen agent), one agent that
spent its share is refused BEFORE its request while another goes on, and the ledger says which
agent spent what. (CrewAI's agents: crewai/test_crewai_agent_budgets.py.)"""
from __future__ import annotations

from decimal import Decimal

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient

import wflo
from lc_support import chat, completions, graph_of, usage_of
from wflo.integrations.autogen import WfloChatCompletionClient

MODEL = "gpt-4o-mini"
# A 50-token gpt-4o-mini call reserves about $0.0000313 and costs about $0.000005 at reply=8:
# a share of $0.000035 holds one such call, and after it, not a second.
ONE_CALL = Decimal("0.000035")
pytestmark = pytest.mark.filterwarnings("ignore:Resolved model mismatch")


def by_agent(wf: wflo.WfloWorkflow):
    return [(c["step"], c["status"]) for c in wf.calls()]


async def test_langgraph_nodes_draw_on_their_own_shares(engine, mock):
    wf = wflo.WfloWorkflow("graph-agents", budget_usd=1, engine=engine, per_agent_budgets={"ask1": ONE_CALL})
    graph = graph_of(chat(mock, "reply=8"), chat(mock, "reply=8"))
    before = completions(mock)
    state = await wf.execute(graph, {"question": "hello"})  # ask0 then ask1: both fit
    assert by_agent(wf) == [("agent:ask0", "ok"), ("agent:ask1", "ok")]
    with pytest.raises(wflo.BudgetExceededError) as refused:
        await wf.execute(graph, {"question": "hello"})  # ask0 goes on; ask1 spent its share
    assert refused.value.scope == "agent:ask1"
    assert refused.value.limit_nanos == 35_000 and refused.value.spent_nanos > 0
    assert completions(mock) - before == 3  # ask1's second call never left
    # ask0, with no share of its own, still goes on after ask1 was stopped.
    await wf.execute(graph_of(chat(mock, "reply=8")), {"question": "hello"})
    assert by_agent(wf) == [("agent:ask0", "ok"), ("agent:ask1", "ok"), ("agent:ask0", "ok"),
                            ("agent:ask1", "refused"), ("agent:ask0", "ok")]
    steps = {s["step"]: s for s in wf.breakdown_sync()["by_step"]}
    assert steps["agent:ask1"]["budget_nanos"] == 35_000
    assert steps["agent:ask1"]["cost_nanos"] == wflo.cost(MODEL, usage_of(state["messages"][1]))
    assert wf.breakdown_sync()["reserved_nanos"] == 0


async def test_a_step_around_a_graph_keeps_its_calls_and_its_limit(engine, mock):
    # A step's limit must hold for the nodes inside it: their calls stay in the step.
    wf = wflo.WfloWorkflow("graph-in-step", budget_usd=1, engine=engine, per_agent_budgets={"ask0": 1})

    async def run(inputs):
        async with wf.step("tight", budget_usd=Decimal("0.00001")):
            return await graph_of(chat(mock, "reply=8")).ainvoke(inputs)

    with pytest.raises(wflo.BudgetExceededError) as refused:
        await wf.execute(run, {"question": "hello"})
    assert refused.value.scope == "tight"
    assert by_agent(wf) == [("tight", "refused")]


def inner_client(mock) -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(model=MODEL, base_url=mock.openai_base("reply=8"), api_key="x", max_tokens=50,
                                      model_info={"vision": False, "function_calling": True, "json_output": True,
                                                  "family": "gpt-4o", "structured_output": True}, max_retries=0)


def team_of(mock, *names: str) -> RoundRobinGroupChat:
    shared = WfloChatCompletionClient(inner_client(mock))
    members = [AssistantAgent(name, model_client=shared) for name in names]
    return RoundRobinGroupChat(members, termination_condition=MaxMessageTermination(len(names) * 2 + 1))


async def test_autogen_team_agents_draw_on_their_own_shares(engine, mock):
    # One client shared by both agents: the agent is the participant whose turn it is. The
    # critic's first call (the planner's reply in its prompt) reserves ~$0.0000377 of its
    # $0.00004 share; what is left after it cannot cover its second.
    wf = wflo.WfloWorkflow("team-agents", budget_usd=1, engine=engine,
                           per_agent_budgets={"critic": Decimal("0.00004")})
    team = team_of(mock, "planner", "critic")
    before = completions(mock)
    with pytest.raises(wflo.BudgetExceededError) as refused:
        await wf.execute(team, "Plan a trip.")
    assert refused.value.scope == "agent:critic"
    # planner, critic, planner (goes on after critic's share is spent), critic refused.
    assert by_agent(wf) == [("agent:planner", "ok"), ("agent:critic", "ok"), ("agent:planner", "ok"),
                            ("agent:critic", "refused")]
    assert completions(mock) - before == 3
    assert wf.breakdown_sync()["reserved_nanos"] == 0


async def test_autogen_agent_named_by_the_wrapper_or_run_alone(engine, mock):
    inner = inner_client(mock)
    named = WfloChatCompletionClient(inner, agent="researcher")
    wf = wflo.WfloWorkflow("named", budget_usd=1, engine=engine)
    await wf.execute(AssistantAgent("assistant", model_client=named), "Hello.")
    await wf.execute(AssistantAgent("solo", model_client=WfloChatCompletionClient(inner)), "Hello.")
    assert by_agent(wf) == [("agent:researcher", "ok"), ("agent:solo", "ok")]
    assert WfloChatCompletionClient.load_component(named.dump_component())._agent == "researcher"
