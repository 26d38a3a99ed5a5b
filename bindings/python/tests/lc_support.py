"""Shared by the LangChain / LangGraph tests: a real ChatOpenAI pointed at `wflo mock-llm`, a
small StateGraph whose nodes call it, and the usage the provider reported, in wflo's terms
(worked out here from LangChain's usage_metadata, independently of wflo's parser)."""
from __future__ import annotations

import operator
from typing import Annotated, Any, Dict, List, TypedDict

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

import wflo

MODEL = "gpt-4o-mini"


def chat(mock: Any, directives: str = "", **kwargs: Any) -> ChatOpenAI:
    """A ChatOpenAI on the mock (`directives` as in the README: "reply=7,cached=5")."""
    options: Dict[str, Any] = {"model": MODEL, "max_tokens": 50, "max_retries": 0, "stream_usage": True}
    options.update(kwargs)
    return ChatOpenAI(base_url=mock.openai_base(directives), api_key="x", **options)


def completions(mock: Any) -> int:
    """Chat-completion requests the mock served (its "total" also counts stream and status events)."""
    return mock.stats().get("chat.completions", 0)


def usage_of(message: Any) -> wflo.Usage:
    """The provider's usage of an AIMessage as wflo's disjoint fields."""
    u = message.usage_metadata
    cache_read = (u.get("input_token_details") or {}).get("cache_read", 0) or 0
    reasoning = (u.get("output_token_details") or {}).get("reasoning", 0) or 0
    return wflo.Usage(input=u["input_tokens"] - cache_read, output=u["output_tokens"] - reasoning,
                      cache_read=cache_read, reasoning=reasoning)


class State(TypedDict):
    question: str
    answers: Annotated[List[str], operator.add]
    messages: Annotated[List[Any], operator.add]


def graph_of(*models: ChatOpenAI, checkpointer: Any = None, interrupt_before: Any = None) -> Any:
    """START → ask0 → ask1 → … → END; node i asks models[i] the question and keeps its answer
    (text) and reply message (with its usage)."""
    builder = StateGraph(State)
    previous = START
    for i, model in enumerate(models):
        def ask(state: State, model: ChatOpenAI = model) -> Dict[str, Any]:
            reply = model.invoke(state["question"])
            return {"answers": [reply.content], "messages": [reply]}

        builder.add_node(f"ask{i}", ask)
        builder.add_edge(previous, f"ask{i}")
        previous = f"ask{i}"
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=checkpointer, interrupt_before=interrupt_before)


def settled_calls(workflow: wflo.WfloWorkflow) -> List[Dict[str, Any]]:
    return [c for c in workflow.calls() if c["status"] == "ok"]
