"""Seed: "Multi-Framework Support — LangGraph ... Automatically detects LangGraph, tracks all
LLM calls, enforces budget"."""
import asyncio
from typing import TypedDict

import wflo
from langchain_openai import ChatOpenAI
from wflo.sdk.workflow import WfloWorkflow, BudgetExceededError

llm = ChatOpenAI(model="gpt-4o-mini", max_tokens=200, stream_usage=True)


class State(TypedDict):
    input: str
    summary: str
    critique: str


def summarise(state: State):
    return {"summary": llm.invoke(f"Summarise: {state['input']}").content}


def critique(state: State):
    return {"critique": llm.invoke(f"Critique: {state['summary']}").content}


async def main():
    # -- the seed's lines --
    from langgraph.graph import StateGraph

    graph = StateGraph(State)
    graph.add_node("summarise", summarise)
    graph.add_node("critique", critique)
    graph.add_edge("__start__", "summarise")
    graph.add_edge("summarise", "critique")
    compiled_graph = graph.compile()

    workflow = WfloWorkflow(name="langgraph-workflow", budget_usd=5.0)
    result = await workflow.execute(compiled_graph, {"input": "data"})
    # Automatically detects LangGraph, tracks all LLM calls, enforces budget

    b = await workflow.get_cost_breakdown()
    assert result["critique"] and b["calls"] == 2 and b["total_usd"] > 0, b
    print(f"OK: graph ran 2 model calls for ${b['total_usd']:.6f}")

    # and the budget holds: a graph whose worst case does not fit is refused before any call
    poor = WfloWorkflow(name="langgraph-poor", budget_usd=0.00001)
    try:
        await poor.execute(compiled_graph, {"input": "data"})
        raise AssertionError("expected a refusal")
    except BudgetExceededError as e:
        assert (await poor.get_cost_breakdown())["total_usd"] == 0
        print(f"OK: refused before the first call (needs ${e.requested_usd:.6f} of ${e.budget_usd:.5f})")


asyncio.run(main())
