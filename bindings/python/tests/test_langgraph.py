"""LangGraph graphs run by `workflow.execute(graph, inputs)` / `execute_sync`, their model nodes
real ChatOpenAI calls to `wflo mock-llm`: costs as the provider reported, refusals before the
request, streaming, failures, and concurrent executions that never mix."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest

import wflo
from lc_support import MODEL, chat, completions, graph_of, settled_calls, usage_of
from wflo import BudgetExceededError, ContextThreadPoolExecutor, WfloWorkflow
from wflo.integrations.langgraph import WfloCheckpointSaver


def assert_costs_match(wf: WfloWorkflow, messages) -> None:
    """Each call's recorded usage and cost are the provider's usage and its price."""
    calls = settled_calls(wf)
    assert len(calls) == len(messages)
    for call, message in zip(calls, messages):
        usage = usage_of(message)
        assert call["usage"]["input"] == usage.input and call["usage"]["output"] == usage.output
        assert call["usage"]["cache_read"] == usage.cache_read and not call["estimated"]
        assert call["cost_nanos"] == wflo.cost(MODEL, usage)
    breakdown = wf.get_cost_breakdown_sync()
    assert breakdown["total_nanos"] == sum(wflo.cost(MODEL, usage_of(m)) for m in messages)
    assert breakdown["status"] == "completed" and breakdown["reserved_nanos"] == 0


async def test_execute_a_graph_records_what_each_node_cost(engine, mock):
    graph = graph_of(chat(mock, "reply=6"), chat(mock, "reply=9,cached=5"))
    wf = WfloWorkflow("graph", budget_usd=1, engine=engine)
    state = await wf.execute(graph, {"question": "what is the capital of France?"})
    first, second = state["messages"]
    assert usage_of(first).output == 6 and usage_of(second).output == 9
    assert usage_of(second).cache_read == 5  # priced at the cache-read price below
    assert_costs_match(wf, state["messages"])


def test_execute_sync_a_graph(engine, mock):
    graph = graph_of(chat(mock, "reply=4"), chat(mock, "reply=5,cached=5"))
    wf = WfloWorkflow("graph-sync", budget_usd=1, engine=engine)
    state = wf.execute_sync(graph, {"question": "what is the capital of Italy?"})
    assert [usage_of(m).output for m in state["messages"]] == [4, 5]
    assert_costs_match(wf, state["messages"])


@pytest.mark.parametrize("sync", [False, True])
async def test_a_node_that_could_overspend_is_refused_before_its_request(engine, mock, sync):
    # Room for one 50-token call (reserved ~$0.0000313, costs ~$0.000005), never a second.
    wf = WfloWorkflow("overspend", budget_usd=Decimal("0.000035"), engine=engine)
    graph = graph_of(chat(mock, "reply=8"), chat(mock, "reply=8"))
    before = completions(mock)
    with pytest.raises(BudgetExceededError) as refused:
        if sync:
            await asyncio.to_thread(wf.execute_sync, graph, {"question": "hello"})
        else:
            await wf.execute(graph, {"question": "hello"})
    assert completions(mock) == before + 1  # the first node's request only
    [first] = settled_calls(wf)
    assert refused.value.budget_usd == pytest.approx(0.000035)
    assert refused.value.spent_usd == pytest.approx(first["cost_nanos"] / 1e9)
    breakdown = wf.get_cost_breakdown_sync()
    assert breakdown["status"] == "budget_exceeded" and breakdown["refused_calls"] == 1
    assert breakdown["reserved_nanos"] == 0


async def test_a_refused_first_call_sends_nothing(engine, mock):
    wf = WfloWorkflow("nothing", budget_usd=Decimal("0.00001"), engine=engine)
    before = mock.requests()
    with pytest.raises(BudgetExceededError):
        await wf.execute(graph_of(chat(mock)), {"question": "hello"})
    assert mock.requests() == before
    assert wf.get_cost_breakdown_sync()["status"] == "budget_exceeded"


def streamed(mock) -> int:
    return mock.stats().get("chat.completions.stream", 0)


def by_node(parts) -> list:
    """The streamed chunks of each node, added up into one message per node."""
    nodes = {}
    for chunk, meta in parts:
        node = meta["langgraph_node"]
        nodes[node] = nodes[node] + chunk if node in nodes else chunk
    return [nodes[n] for n in sorted(nodes)]


async def test_streaming_a_graph_settles_from_the_final_usage(engine, mock):
    graph = graph_of(chat(mock, "reply=12"), chat(mock, "reply=3,cached=5"))

    async def stream_async(inputs):
        return by_node([part async for part in graph.astream(inputs, stream_mode="messages")])

    def stream_sync(inputs):
        return by_node(list(graph.stream(inputs, stream_mode="messages")))

    for name, run in (("astream", lambda wf: wf.execute(stream_async, {"question": "tell me a story"})),
                      ("stream", lambda wf: asyncio.to_thread(wf.execute_sync, stream_sync, {"question": "a story"}))):
        wf = WfloWorkflow(name, budget_usd=1, engine=engine)
        before = streamed(mock)
        messages = await run(wf)
        assert streamed(mock) == before + 2  # the models really streamed
        assert [usage_of(m).output for m in messages] == [12, 3] and usage_of(messages[1]).cache_read == 5
        assert_costs_match(wf, messages)


async def test_an_http_500_fails_the_execution_and_releases_the_reservation(engine, mock):
    wf = WfloWorkflow("http500", budget_usd=1, engine=engine)
    before = completions(mock)
    with pytest.raises(openai.InternalServerError):
        await wf.execute(graph_of(chat(mock, "status=500")), {"question": "hello"})
    assert completions(mock) == before + 1
    [call] = wf.calls()
    assert call["status"] == "error" and call["cost_nanos"] == 0
    breakdown = wf.get_cost_breakdown_sync()
    assert breakdown["status"] == "failed" and breakdown["reserved_nanos"] == 0


async def test_a_budget_error_keeps_its_figures_through_a_graph_node(engine, mock):
    # A step budget inside a node: the refusal names the step's scope and figures.
    wf = WfloWorkflow("step-budget", budget_usd=1, engine=engine)
    model = chat(mock)

    async def node_agent(inputs):
        async with wf.step("tight", budget_usd=Decimal("0.00001")):
            return await graph_of(model).ainvoke(inputs)

    with pytest.raises(BudgetExceededError) as refused:
        await wf.execute(node_agent, {"question": "hello"})
    assert refused.value.scope == "tight" and refused.value.budget_usd == pytest.approx(0.00001)


# Twenty distinct reply lengths (the mock's reply=11 ends mid-word and comes back as 12 tokens).
REPLIES = [*range(1, 11), *range(12, 22)]


async def test_twenty_concurrent_executions_never_mix_tasks(engine, mock):
    # One saver for all (it keeps each graph's checkpoints in the execution running it) and
    # one thread id: still twenty separate histories.
    saver = WfloCheckpointSaver()
    workflows = [WfloWorkflow(f"task-{i}", budget_usd=1, engine=engine) for i in range(20)]
    graphs = [graph_of(chat(mock, f"reply={n}"), checkpointer=saver) for n in REPLIES]
    thread = {"configurable": {"thread_id": "shared"}}
    states = await asyncio.gather(*(wf.execute(g, {"question": f"question {i}"}, config=thread)
                                    for i, (wf, g) in enumerate(zip(workflows, graphs))))
    for n, wf, state in zip(REPLIES, workflows, states):
        assert [c["usage"]["output"] for c in wf.calls()] == [n]
        assert [usage_of(m).output for m in state["messages"]] == [n]
        assert len([c for c in wf.checkpoints() if c["name"].startswith("langgraph/shared/")]) == 3


def test_twenty_concurrent_executions_never_mix_threads(engine, mock):
    workflows = [WfloWorkflow(f"thread-{i}", budget_usd=1, engine=engine) for i in range(20)]
    models = [chat(mock, f"reply={n}") for n in REPLIES]

    def run(i):
        # The model is called in a plain function: metered through the configure hook.
        return workflows[i].execute_sync(lambda q: models[i].invoke(q).content, f"question {i}")

    with ContextThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(run, range(20)))
    for n, wf in zip(REPLIES, workflows):
        assert [c["usage"]["output"] for c in wf.calls()] == [n]
