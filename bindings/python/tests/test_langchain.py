"""wflo's LangChain callback handler against a real ChatOpenAI talking to `wflo mock-llm`: a call
that could overspend is refused before its request; usage is booked from usage_metadata; the
handler is installed process-wide inside workflows and never meters a call twice."""
from __future__ import annotations

import asyncio
import uuid

import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tools import tool
from langchain_core.tracers.context import _configure_hooks

import wflo
from lc_support import MODEL, chat, completions, graph_of, settled_calls, usage_of
from wflo import BudgetExceededError, WfloWorkflow
from wflo.integrations.langchain import WfloCallbackHandler

# Enough for one reservation of a 50-token reply (~$0.0000313), never for two.
ONE_CALL_USD = "0.00004"
TINY_USD = "0.00001"


def test_refused_before_any_request_under_invoke_ainvoke_and_stream(engine, mock):
    wf = WfloWorkflow("tiny", budget_usd=TINY_USD, engine=engine)
    handler = WfloCallbackHandler(wf)
    model = chat(mock)
    config = {"callbacks": [handler]}
    before = mock.requests()

    async def async_calls():
        with pytest.raises(BudgetExceededError):
            await model.ainvoke("hello", config)
        with pytest.raises(BudgetExceededError):
            async for _ in model.astream("hello", config):
                pass

    with pytest.raises(BudgetExceededError) as refused:
        model.invoke("hello", config)
    with pytest.raises(BudgetExceededError):
        for _ in model.stream("hello", config):
            pass
    asyncio.run(async_calls())

    assert mock.requests() == before  # nothing reached the provider
    assert refused.value.budget_usd == pytest.approx(0.00001) and refused.value.spent_usd == 0
    assert [c["status"] for c in wf.calls()] == ["refused"] * 4
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_usage_metadata_is_booked_and_cache_reads_priced_as_cache_reads(engine, mock):
    wf = WfloWorkflow("cached", budget_usd=1, engine=engine)
    reply = chat(mock, "reply=7,cached=5").invoke("hello there, how are you", {"callbacks": [WfloCallbackHandler(wf)]})

    usage = usage_of(reply)
    assert usage.cache_read == 5 and usage.output == 7
    [call] = wf.calls()
    assert call["status"] == "ok" and not call["estimated"]
    assert call["usage"]["cache_read"] == 5 and call["usage"]["input"] == usage.input
    assert call["cost_nanos"] == wflo.cost(MODEL, usage)
    all_as_input = wflo.cost(MODEL, input=usage.input + usage.cache_read, output=usage.output)
    assert call["cost_nanos"] < all_as_input  # the 5 cached tokens at the cache-read price


def test_stream_settles_from_its_final_usage_or_estimates_a_cut_one(engine, mock):
    wf = WfloWorkflow("streams", budget_usd=1, engine=engine)
    config = {"callbacks": [WfloCallbackHandler(wf)]}
    chunks = list(chat(mock, "reply=9").stream("hello", config))
    final = sum(chunks[1:], chunks[0])
    list(chat(mock, "reply=9,cut=usage").stream("hello", config))  # the usage never comes
    streamed = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in chat(mock, "reply=20,reset=6").stream("hello", config):  # the connection drops
            streamed.append(chunk.content)

    full, cut, reset = wf.calls()
    assert full["usage"]["output"] == 9 and not full["estimated"]
    assert full["cost_nanos"] == wflo.cost(MODEL, usage_of(final))
    assert cut["estimated"] and cut["usage"]["output"] > 0 and cut["cost_nanos"] > 0  # never free
    # What streamed before the reset was billed: estimated from its text, the call failed.
    assert reset["status"] == "error" and reset["estimated"]
    assert reset["usage"]["output"] == wflo.count_tokens(MODEL, "".join(streamed)).tokens > 0


def test_http_500_releases_the_reservation(engine, mock):
    wf = WfloWorkflow("fails", budget_usd=1, engine=engine)
    before = completions(mock)
    with pytest.raises(openai.InternalServerError):
        chat(mock, "status=500").invoke("hello", {"callbacks": [WfloCallbackHandler(wf)]})
    assert completions(mock) == before + 1  # max_retries=0: one attempt
    [call] = wf.calls()
    assert call["status"] == "error" and call["cost_nanos"] == 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


async def test_calls_inside_any_workflow_are_metered_without_callbacks(engine, mock):
    model = chat(mock, "reply=3")
    wf = WfloWorkflow("hooked", budget_usd=1, engine=engine)

    async def agent(question):
        first = await model.ainvoke(question)
        async with wf.step("research"):
            await model.ainvoke(question)
        return first.content

    await wf.execute(agent, "hello")
    steps = {s["step"]: s["calls"] for s in wf.get_cost_breakdown_sync()["by_step"]}
    assert steps == {"": 1, "research": 1}
    assert [c["usage"]["output"] for c in settled_calls(wf)] == [3, 3]

    # A plain function (run in a worker thread) and execute_sync.
    threaded = WfloWorkflow("threaded", budget_usd=1, engine=engine)
    await threaded.execute(lambda q: model.invoke(q).content, "hello")
    assert len(settled_calls(threaded)) == 1
    blocking = WfloWorkflow("blocking", budget_usd=1, engine=engine)
    await asyncio.to_thread(blocking.execute_sync, lambda q: model.invoke(q).content, "hello")
    assert len(settled_calls(blocking)) == 1


def test_a_handler_passed_by_hand_is_not_doubled(engine, mock):
    model = chat(mock)
    wf = WfloWorkflow("once", budget_usd=1, engine=engine)

    elsewhere = WfloWorkflow("elsewhere", budget_usd=1, engine=engine)

    def agent(question):
        model.invoke(question, {"callbacks": [WfloCallbackHandler()]})  # and the hook is installed
        model.invoke(question, {"callbacks": [WfloCallbackHandler(wf)]})
        model.invoke(question, {"callbacks": [WfloCallbackHandler(elsewhere)]})  # the handler's choice wins

    wf.execute_sync(agent, "hello")
    assert len(wf.calls()) == 2 and len(elsewhere.calls()) == 1

    graph_wf = WfloWorkflow("graph-once", budget_usd=1, engine=engine)
    graph_wf.execute_sync(graph_of(model, model), {"question": "hi"},
                          config={"callbacks": [WfloCallbackHandler()]})
    assert len(graph_wf.calls()) == 2


def test_outside_a_workflow_nothing_is_attached(mock):
    hooks = [var for var, _, cls, _ in _configure_hooks if cls is WfloCallbackHandler]
    assert len(hooks) == 1 and hooks[0].get() is None
    assert chat(mock, "reply=2").invoke("hello").usage_metadata["output_tokens"] == 2


def test_refusing_one_prompt_of_a_batch_gives_back_the_others(engine, mock):
    wf = WfloWorkflow("batch", budget_usd=ONE_CALL_USD, engine=engine)
    model = chat(mock)
    prompts = [[HumanMessage("one")], [HumanMessage("two")]]
    before = mock.requests()
    with pytest.raises(BudgetExceededError):
        model.generate(prompts, callbacks=[WfloCallbackHandler(wf)])
    with pytest.raises(BudgetExceededError):
        asyncio.run(model.agenerate(prompts, callbacks=[WfloCallbackHandler(wf)]))
    assert mock.requests() == before
    assert sorted(c["status"] for c in wf.calls()) == ["aborted", "aborted", "refused", "refused"]
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_tool_definitions_are_reserved_as_prompt(engine, mock):
    @tool
    def weather(city: str) -> str:
        """The current weather of a city, with temperature, wind and a three-day forecast."""
        return "sunny"

    wf = WfloWorkflow("tools", budget_usd=1, engine=engine)
    config = {"callbacks": [WfloCallbackHandler(wf)]}
    chat(mock).invoke("hello", config)
    chat(mock).bind_tools([weather]).invoke("hello", config)
    plain, with_tools = wf.calls()
    assert with_tools["reserved_nanos"] > plain["reserved_nanos"]


def test_unknown_model_is_refused_before_the_request(engine, mock):
    wf = WfloWorkflow("unknown", budget_usd=1, engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.UnknownModelError):
        chat(mock, model="gpt-4o-no-such-model").invoke("hello", {"callbacks": [WfloCallbackHandler(wf)]})
    assert mock.requests() == before


def test_without_usage_metadata_llm_output_then_an_estimate(engine):
    wf = WfloWorkflow("fallbacks", budget_usd=1, engine=engine)
    handler = WfloCallbackHandler(wf, model=MODEL)
    token_usage = {"prompt_tokens": 12, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 2}}
    for llm_output in ({"token_usage": token_usage}, None):
        run_id = uuid.uuid4()
        handler.on_chat_model_start({}, [[HumanMessage("hello")]], run_id=run_id)
        handler.on_llm_end(LLMResult(generations=[[ChatGeneration(message=AIMessage("four words of text"))]],
                                     llm_output=llm_output), run_id=run_id)
    from_output, estimated = wf.calls()
    assert from_output["usage"] == {**from_output["usage"], "input": 10, "cache_read": 2, "output": 4}
    assert not from_output["estimated"]
    assert estimated["estimated"] and estimated["usage"]["output"] == 4


def test_execute_passes_config_on_and_keeps_other_callbacks(engine, mock):
    seen = []

    class Recorder(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, **kwargs):
            seen.append(kwargs["metadata"].get("who"))

    wf = WfloWorkflow("config", budget_usd=1, engine=engine)
    result = wf.execute_sync(chat(mock, "reply=4"), "hello",
                             config={"callbacks": [Recorder()], "metadata": {"who": "me"}})
    assert result.usage_metadata["output_tokens"] == 4
    assert seen == ["me"] and len(settled_calls(wf)) == 1
    with pytest.raises(wflo.InvalidArgumentError):
        wf.execute_sync(chat(mock), "hello", config=["not", "a", "dict"])


async def test_with_wflo_instrument_each_call_is_metered_once(engine, mock):
    # instrument() patches the openai SDK that ChatOpenAI uses: the handler's call is left to
    # the handler, and direct SDK calls around it are still the instrumentation's.
    sdk = openai.AsyncOpenAI(base_url=mock.openai_base("reply=5"), api_key="x", max_retries=0)

    async def direct():
        await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=20)

    async def agent(_):
        model = chat(mock, "reply=2")
        await model.ainvoke("hello")
        await direct()
        async for _ in model.astream("hello"):
            await direct()  # made while the stream runs: after its request went out
            break
        await asyncio.to_thread(model.invoke, "hello")

    wf = WfloWorkflow("instrumented", budget_usd=1, engine=engine)
    wflo.instrument()
    try:
        await wf.execute(agent)
    finally:
        wflo.uninstrument()
    calls = wf.calls()
    assert [c["usage"]["output"] for c in calls if c["status"] == "ok"] == [2, 5, 5, 2]
    [left] = [c for c in calls if c["status"] != "ok"]  # the stream its consumer left
    assert left["status"] == "aborted" and left["estimated"] and left["cost_nanos"] > 0
