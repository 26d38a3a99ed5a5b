"""@track_llm_call as the seed documents it — and on sync functions — with the real openai and
anthropic SDKs against `wflo mock-llm`, and LangChain messages."""
from __future__ import annotations

import anthropic
import openai
import pytest
from langchain_core.messages import AIMessage

import wflo
from wflo.sdk.decorators.track_llm import track_llm_call
from wflo.sdk.workflow import BudgetExceededError, WfloWorkflow


def recorded(wf):
    return [c for c in wf.calls() if c["status"] == "ok"]


async def test_seed_example_async_openai(engine, mock):
    client = openai.AsyncOpenAI(base_url=mock.openai_base("reply=12,cached=4"), api_key="x", max_retries=0)

    @track_llm_call(model="gpt-4")
    async def my_llm_function(prompt: str):
        return await client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": prompt}], max_tokens=50)

    wf = WfloWorkflow(name="seed", budget_usd=2.0, engine=engine)
    response = await wf.execute(my_llm_function, "Summarise the plot of Hamlet in one line.")
    u = response.usage
    want = wflo.cost("gpt-4", input=u.prompt_tokens - 4, cache_read=4, output=u.completion_tokens)
    [call] = recorded(wf)
    assert call["cost_nanos"] == want and call["usage"]["cache_read"] == 4 and not call["estimated"]
    # reserved BEFORE: the counted prompt plus max_tokens at gpt-4's prices
    count = engine.count_chat_tokens("gpt-4", [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}])
    assert call["reserved_nanos"] >= wflo.cost("gpt-4", input=count.tokens, output=50)
    await client.close()


def test_sync_anthropic_function(engine, mock):
    client = anthropic.Anthropic(base_url=mock.anthropic_base("reply=20,cache_write=30"), api_key="x", max_retries=0)

    @track_llm_call(model="claude-sonnet-4-6", max_tokens=64)
    def ask(messages):
        return client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=messages)

    wf = WfloWorkflow(name="sync-anthropic", budget_usd=1, engine=engine)
    msg = wf.execute_sync(lambda _: ask([{"role": "user", "content": "hello there " * 20}]))
    u = msg.usage
    [call] = recorded(wf)
    assert u.cache_creation_input_tokens == 30
    assert call["cost_nanos"] == wflo.cost("claude-sonnet-4-6", input=u.input_tokens, cache_write_5m=30,
                                           output=u.output_tokens)


def test_refused_before_the_request_reaches_the_provider(engine, mock):
    client = openai.OpenAI(base_url=mock.openai_base(), api_key="x", max_retries=0)

    @track_llm_call(model="gpt-4o", max_tokens=4000)
    def ask(prompt):
        return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}],
                                              max_tokens=4000)

    wf = WfloWorkflow(name="refuse", budget_usd="0.01", engine=engine)
    before = mock.requests()
    with pytest.raises(BudgetExceededError) as err:
        wf.execute_sync(ask, "a question")
    assert mock.requests() == before  # no request was made
    assert err.value.budget_usd == pytest.approx(0.01) and err.value.spent_usd == 0
    assert engine.execution(wf.execution_id)["execution"]["status"] == "budget_exceeded"


def test_langchain_message_and_estimated_output(engine):
    @track_llm_call(model="gpt-4o-mini")
    def lc(prompt):
        return AIMessage(content="ok", usage_metadata={
            "input_tokens": 30, "output_tokens": 7, "total_tokens": 37,
            "input_token_details": {"cache_read": 10}, "output_token_details": {"reasoning": 2}})

    @track_llm_call(model="gpt-4o-mini", max_tokens=100)
    def bare(prompt):
        return "a reply without any usage"

    wf = WfloWorkflow(name="lc", engine=engine)
    wf.execute_sync(lambda _: (lc("hi"), bare("hi")))
    first, second = recorded(wf)
    assert first["usage"] == {"input": 20, "cache_read": 10, "output": 5, "reasoning": 2,
                              "cache_write_5m": 0, "cache_write_1h": 0}
    # no usage: the output is counted from the text and the call flagged, never free
    assert second["estimated"] and second["usage"]["output"] == wflo.count_tokens("gpt-4o-mini", "a reply without any usage").tokens
    assert second["cost_nanos"] > 0


def test_an_exception_releases_the_reservation(engine):
    @track_llm_call(model="gpt-4o-mini", max_tokens=10)
    def boom(prompt):
        raise RuntimeError("provider down")

    wf = WfloWorkflow(name="boom", budget_usd=1, engine=engine)
    with pytest.raises(RuntimeError):
        wf.execute_sync(boom, "x")
    [call] = wf.calls()
    assert call["status"] == "error" and call["cost_nanos"] == 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_outside_a_workflow_the_function_runs_unmetered():
    @track_llm_call(model="gpt-4o-mini")
    def f(prompt):
        return prompt.upper()

    assert f("x") == "X"
    with pytest.raises(wflo.InvalidArgumentError):
        track_llm_call(model="")
