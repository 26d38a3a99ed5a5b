"""wflo.instrument() on the official openai SDK, against `wflo mock-llm`.

Runs in both test environments: openai 3.x (main venv, httpx2) and openai 2.x (crewai venv,
httpx). Every assertion could fail: the cost recorded must equal wflo.cost() of the usage the
response reported (mapped to wflo's fields here, by hand), a refused call must leave the
mock's request counter where it was, a stream cut before its usage must be recorded
estimated and not free, and concurrent workflows must each see only their own calls.
"""
from __future__ import annotations

import asyncio
import gc
import json
import threading
import weakref

import openai
import pytest
from openai.resources.chat.completions import AsyncCompletions, Completions

import wflo

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Looks a play up by title.",
                                           "parameters": {"type": "object", "properties": {"title": {"type": "string"}}}}}]


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def client(mock, directives: str = "", **options) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=mock.openai_base(directives), api_key="test-key", **options)


def async_client(mock, directives: str = "", **options) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=mock.openai_base(directives), api_key="test-key", **options)


def workflow(engine, budget="1.00", name="openai-test") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow(name, budget_usd=budget, engine=engine)


def chat_usage(u) -> wflo.Usage:
    """wflo's disjoint fields from a chat completion's usage: cached tokens are not input,
    reasoning tokens are not output."""
    cached = (u.prompt_tokens_details.cached_tokens if u.prompt_tokens_details else 0) or 0
    reasoning = (u.completion_tokens_details.reasoning_tokens if u.completion_tokens_details else 0) or 0
    return wflo.Usage(input=u.prompt_tokens - cached, output=u.completion_tokens - reasoning,
                      cache_read=cached, reasoning=reasoning)


def responses_usage(u) -> wflo.Usage:
    cached = (u.input_tokens_details.cached_tokens if u.input_tokens_details else 0) or 0
    reasoning = (u.output_tokens_details.reasoning_tokens if u.output_tokens_details else 0) or 0
    return wflo.Usage(input=u.input_tokens - cached, output=u.output_tokens - reasoning,
                      cache_read=cached, reasoning=reasoning)


def only_call(wf) -> dict:
    calls = wf.calls()
    assert len(calls) == 1, calls
    return calls[0]


def assert_billed(record: dict, usage: wflo.Usage, *, stream: bool = False, model: str = MODEL) -> None:
    assert record["status"] == "ok"
    assert record["provider"] == "openai"
    assert record["estimated"] is False
    assert record["stream"] is stream
    assert record["usage"] == {"input": usage.input, "output": usage.output, "cache_read": usage.cache_read,
                               "cache_write_5m": 0, "cache_write_1h": 0, "reasoning": usage.reasoning}
    assert record["cost_nanos"] == wflo.cost(model, usage) > 0


def last_usage(chunks):
    usages = [c.usage for c in chunks if getattr(c, "usage", None) is not None]
    assert usages, "the stream carried no usage"
    return usages[-1]


# -- settled from the usage the response reports ---------------------------------------------------

def test_create_is_settled_from_the_reported_usage(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cached=4,reply=12,reasoning=2")
    before = mock.requests()

    response = wf.execute_sync(lambda _: api.chat.completions.create(model=MODEL, messages=MESSAGES))

    assert isinstance(response, openai.types.chat.ChatCompletion)
    usage = chat_usage(response.usage)
    assert usage.cache_read == 4 and usage.reasoning == 2
    assert_billed(only_call(wf), usage)
    breakdown = wf.get_cost_breakdown_sync()
    assert breakdown["total_nanos"] == wflo.cost(MODEL, usage)
    assert breakdown["reserved_nanos"] == 0
    assert mock.requests() == before + 1


def test_the_reservation_is_the_counted_prompt_plus_max_tokens(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock)

    def run(_):
        api.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=50)
        api.chat.completions.create(model=MODEL, messages=MESSAGES, max_completion_tokens=40, tools=TOOLS)

    wf.execute_sync(run)
    plain, with_tools = wf.calls()
    prompt = engine.count_chat_tokens(MODEL, MESSAGES)
    assert prompt.estimated is False
    assert plain["reserved_nanos"] == wflo.cost(MODEL, input=prompt.tokens, output=50)
    # Tool definitions are part of the prompt: counted, and as an estimate (with its margin).
    assert with_tools["reserved_nanos"] > wflo.cost(MODEL, input=prompt.tokens, output=40)


def test_the_request_sent_carries_the_limit_the_reservation_covers(mock, engine, instrumented):
    # No max_tokens given: the engine reserves the model's maximum output and writes that limit
    # into the request, so the provider cannot produce more than was reserved.
    wf = workflow(engine)
    api = client(mock, "reply=3")
    raw = wf.execute_sync(lambda _: api.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES))
    sent = json.loads(raw.http_request.content)
    limit = sent["max_completion_tokens"]
    assert limit > 0 and "max_tokens" not in sent
    prompt = engine.count_chat_tokens(MODEL, MESSAGES).tokens
    assert only_call(wf)["reserved_nanos"] == wflo.cost(MODEL, input=prompt, output=limit)


def test_the_clients_base_url_names_the_provider(engine, instrumented):
    # An OpenAI client pointed at xAI is billed as xAI (its model priced under "xai/"); refused
    # here by a zero budget, so nothing leaves the process.
    wf = workflow(engine, budget="0")
    api = openai.OpenAI(base_url="https://api.x.ai/v1", api_key="test-key", max_retries=0)
    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(lambda _: api.chat.completions.create(model="grok-4", messages=MESSAGES, max_tokens=10))
    call = only_call(wf)
    assert (call["status"], call["provider"], call["requested_model"]) == ("refused", "xai", "xai/grok-4")


async def test_async_create(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, "reply=7")

    async def run(_):
        return await api.chat.completions.create(model=MODEL, messages=MESSAGES)

    response = await wf.execute(run)
    assert response.usage.completion_tokens == 7
    assert_billed(only_call(wf), chat_usage(response.usage))


def test_stream_gets_include_usage_and_is_settled_from_it(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cached=3,reply=9")

    def run(_):
        stream = api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with stream:
            chunks = list(stream)
        return stream, chunks

    stream, chunks = wf.execute_sync(run)
    # The usage chunk exists only because include_usage was added to the request.
    usage = chat_usage(last_usage(chunks))
    assert_billed(only_call(wf), usage, stream=True)
    assert stream.response.status_code == 200  # attributes pass through to the SDK's stream


def test_an_explicit_include_usage_false_is_kept_from_the_caller_and_billed_exactly(mock, engine, instrumented):
    # The engine asks for the usage of every chat stream (the request it returns says
    # include_usage: true), so the call is billed from the provider's usage, not estimated;
    # the caller who declined the usage chunk never sees it.
    wf = workflow(engine)
    api = client(mock, "reply=9")

    def run(_):
        return list(api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": False}))

    chunks = wf.execute_sync(run)
    assert chunks and all(c.usage is None for c in chunks)
    record = only_call(wf)
    assert record["estimated"] is False and record["usage_missing"] is False
    assert record["usage"]["output"] == 9 and record["cost_nanos"] > 0


async def test_async_stream(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, "reply=10")

    async def run(_):
        chunks = []
        async with await api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            async for chunk in stream:
                chunks.append(chunk)
        return chunks

    chunks = await wf.execute(run)
    usage = chat_usage(last_usage(chunks))
    assert usage.output == 10
    assert_billed(only_call(wf), usage, stream=True)


# -- refused before the request --------------------------------------------------------------------

SYNC_CALLS = {
    "create": lambda api: api.chat.completions.create(model=MODEL, messages=MESSAGES),
    "stream": lambda api: list(api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)),
    "stream-helper": lambda api: api.chat.completions.stream(model=MODEL, messages=MESSAGES).__enter__(),
    "parse": lambda api: api.chat.completions.parse(model=MODEL, messages=MESSAGES),
    "raw-response": lambda api: api.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES),
    "responses": lambda api: api.responses.create(model=MODEL, input="Summarise Hamlet."),
    "responses-stream": lambda api: api.responses.stream(model=MODEL, input="Summarise Hamlet.").__enter__(),
}


@pytest.mark.parametrize("call", sorted(SYNC_CALLS))
def test_a_refused_call_sends_no_request(mock, engine, instrumented, call):
    wf = workflow(engine, budget="0.000001")
    api = client(mock, max_retries=3)  # a retrying client: the refusal must not be retried
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError) as refused:
        wf.execute_sync(lambda _: SYNC_CALLS[call](api))

    assert type(refused.value) is wflo.BudgetExceededError  # not wrapped in an openai error
    assert mock.requests() == before
    record = only_call(wf)
    assert record["status"] == "refused" and record["cost_nanos"] == 0
    assert engine.execution(wf.execution_id)["execution"]["status"] == "budget_exceeded"


async def test_async_refusals_send_no_request(mock, engine, instrumented):
    api = async_client(mock, max_retries=3)
    before = mock.requests()

    async def create(_):
        await api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)

    async def helper(_):
        async with api.chat.completions.stream(model=MODEL, messages=MESSAGES):
            pass

    async def responses(_):
        await api.responses.create(model=MODEL, input="Summarise Hamlet.")

    for run in (create, helper, responses):
        wf = workflow(engine, budget="0.000001")
        with pytest.raises(wflo.BudgetExceededError):
            await wf.execute(run)
        assert only_call(wf)["status"] == "refused"
    assert mock.requests() == before


# -- streams that do not end well ------------------------------------------------------------------

def test_a_stream_cut_before_its_usage_is_estimated_not_free(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cut=usage,reply=20")

    chunks = wf.execute_sync(lambda _: list(api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)))

    assert all(c.usage is None for c in chunks)
    record = only_call(wf)
    assert record["status"] == "ok"
    assert record["estimated"] is True and record["usage_missing"] is True
    assert record["usage"]["input"] == engine.count_chat_tokens(MODEL, MESSAGES).tokens
    assert record["usage"]["output"] > 0
    assert record["cost_nanos"] == wflo.cost(MODEL, input=record["usage"]["input"], output=record["usage"]["output"])


def test_a_reset_stream_is_an_error_and_still_charged(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reset=3,reply=20")

    def run(_):
        seen = []
        # openai 3.x raises APIConnectionError; 2.x lets httpx's RemoteProtocolError through.
        with pytest.raises(Exception) as cut:
            for chunk in api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
                seen.append(chunk)
        assert not isinstance(cut.value, wflo.WfloError)
        return seen

    assert wf.execute_sync(run)
    record = only_call(wf)
    assert record["status"] == "error"
    assert record["estimated"] is True and record["cost_nanos"] > 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_a_stream_left_early_is_aborted_at_once(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=30")

    def run(_):
        stream = api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        for _chunk in stream:
            break
        stream.close()
        record = only_call(wf)  # settled by close(), while the stream object is still alive
        with api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as second:
            next(second)
        return record, stream

    closed, _stream = wf.execute_sync(run)
    assert closed["status"] == "aborted" and closed["estimated"] is True
    assert closed["usage"]["input"] > 0
    assert [c["status"] for c in wf.calls()] == ["aborted", "aborted"]
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


# -- the other ways to call ------------------------------------------------------------------------

def test_with_raw_response(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=6")

    def run(_):
        raw = api.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        assert raw.headers.get("content-type", "").startswith("application/json")
        completion = raw.parse()
        streamed = api.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=True)
        chunks = list(streamed.parse())
        return completion, chunks

    completion, chunks = wf.execute_sync(run)
    plain, stream = wf.calls()
    assert_billed(plain, chat_usage(completion.usage))
    assert_billed(stream, chat_usage(last_usage(chunks)), stream=True)


def test_the_stream_helper(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=8")

    def run(_):
        with api.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
            for _event in stream:
                pass
            completion = stream.get_final_completion()
        with api.chat.completions.stream(model=MODEL, messages=MESSAGES) as early:
            next(iter(early))
        # Settled when the block ended, though `early` is still referenced here.
        return completion, wf.calls()[-1], early

    completion, early, _ = wf.execute_sync(run)
    assert_billed(wf.calls()[0], chat_usage(completion.usage), stream=True)
    assert early["status"] == "aborted" and early["estimated"] is True


async def test_the_async_stream_helper(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, "reply=5")

    async def run(_):
        async with api.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
            async for _event in stream:
                pass
            return await stream.get_final_completion()

    completion = await wf.execute(run)
    assert_billed(only_call(wf), chat_usage(completion.usage), stream=True)


def test_parse(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=4")

    parsed = wf.execute_sync(lambda _: api.chat.completions.parse(model=MODEL, messages=MESSAGES))

    assert_billed(only_call(wf), chat_usage(parsed.usage))


def test_responses_create_and_stream(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cached=2,reply=10,reasoning=3")

    def run(_):
        response = api.responses.create(model=MODEL, input="Summarise Hamlet.", instructions="Be brief.")
        events = list(api.responses.create(model=MODEL, input="Summarise Hamlet.", stream=True))
        return response, events

    response, events = wf.execute_sync(run)
    completed = [e for e in events if e.type == "response.completed"][0]
    plain, stream = wf.calls()
    assert_billed(plain, responses_usage(response.usage))
    assert_billed(stream, responses_usage(completed.response.usage), stream=True)


async def test_async_responses_stream_helper(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, "reply=6")

    async def run(_):
        async with api.responses.stream(model=MODEL, input="Summarise Hamlet.") as stream:
            async for _event in stream:
                pass
            return await stream.get_final_response()

    response = await wf.execute(run)
    assert_billed(only_call(wf), responses_usage(response.usage), stream=True)


def test_an_sdk_error_releases_the_reservation(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "status=429")

    def run(_):
        with pytest.raises(openai.RateLimitError):
            api.chat.completions.create(model=MODEL, messages=MESSAGES)

    wf.execute_sync(run)
    record = only_call(wf)
    assert record["status"] == "error" and "RateLimitError" in record["error"]
    assert record["cost_nanos"] == 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_calls_in_a_step_are_charged_to_the_step(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=3")

    def run(_):
        with wf.step_sync("research"):
            api.chat.completions.create(model=MODEL, messages=MESSAGES)
        api.chat.completions.create(model=MODEL, messages=MESSAGES)

    wf.execute_sync(run)
    assert [c["step"] for c in wf.calls()] == ["research", ""]
    by_step = {s["step"]: s for s in wf.get_cost_breakdown_sync()["by_step"]}
    assert by_step["research"]["calls"] == 1


# -- installing and removing -----------------------------------------------------------------------

def test_outside_a_workflow_calls_pass_through(mock, default_engine, instrumented):
    api = client(mock, "reply=5")
    before = mock.stats().get("chat.completions", 0)

    response = api.chat.completions.create(model=MODEL, messages=MESSAGES)
    stream = api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)

    assert type(stream) is openai.Stream  # not wrapped
    assert all(c.usage is None for c in stream)  # and include_usage not added
    assert response.usage.completion_tokens == 5
    assert mock.stats()["chat.completions"] == before + 2
    assert default_engine.list_executions() == []


def test_instrument_is_idempotent_and_uninstrument_restores(mock, engine):
    original = Completions.__dict__["create"], AsyncCompletions.__dict__["create"]
    wflo.instrument()
    wflo.instrument()
    api = client(mock, "reply=3")
    wf = workflow(engine)

    wf.execute_sync(lambda _: api.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert len(wf.calls()) == 1  # once, though instrumented twice

    wflo.uninstrument()
    assert (Completions.__dict__["create"], AsyncCompletions.__dict__["create"]) == original
    wf2 = workflow(engine)
    wf2.execute_sync(lambda _: api.chat.completions.create(model=MODEL, messages=MESSAGES))
    wf2.execute_sync(lambda _: api.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES))
    assert wf2.calls() == []


def test_instrument_one_client_only(mock, engine):
    metered, other = client(mock, "reply=3"), client(mock, "reply=4")
    assert wflo.instrument(metered) is metered
    assert not hasattr(Completions.__dict__["create"], "__wflo_patch__")  # the class is untouched
    wf = workflow(engine)

    def run(_):
        metered.chat.completions.create(model=MODEL, messages=MESSAGES)
        other.chat.completions.create(model=MODEL, messages=MESSAGES)
        metered.with_options(timeout=30).chat.completions.create(model=MODEL, messages=MESSAGES)
        metered.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)

    wf.execute_sync(run)
    assert [c["usage"]["output"] for c in wf.calls()] == [3, 3, 3]

    wflo.uninstrument(metered)
    wf2 = workflow(engine)
    wf2.execute_sync(lambda _: metered.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert wf2.calls() == []
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.instrument(object())


def test_an_instrumented_client_can_still_be_collected(mock):
    api = wflo.instrument(client(mock))
    api.chat.completions.with_raw_response  # noqa: B018  (views built while instrumented)
    gone = weakref.ref(api)
    del api
    gc.collect()
    assert gone() is None  # wflo's registry holds no strong reference to it


# -- concurrent workflows never mix ---------------------------------------------------------------

async def test_20_concurrent_tasks_each_charge_their_own_workflow(mock, engine, instrumented):
    api = async_client(mock, "latency=30")  # the calls overlap

    async def agent(n: int) -> wflo.Usage:
        headers = {"x-mock": f"reply={2 * n}"}  # a different output for each workflow
        if n % 2:
            response = await api.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=headers)
            return chat_usage(response.usage)
        chunks = []
        async for chunk in await api.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                              extra_headers=headers):
            chunks.append(chunk)
            await asyncio.sleep(0)
        return chat_usage(last_usage(chunks))

    workflows = [workflow(engine, name=f"task-{n}") for n in range(1, 21)]
    usages = await asyncio.gather(*(wf.execute(agent, n) for n, wf in enumerate(workflows, 1)))
    assert [u.output for u in usages] == [2 * n for n in range(1, 21)]
    for n, (wf, usage) in enumerate(zip(workflows, usages), 1):
        record = only_call(wf)
        assert_billed(record, usage, stream=n % 2 == 0)
        assert wf.get_cost_breakdown_sync()["total_nanos"] == record["cost_nanos"]


def test_20_concurrent_threads_each_charge_their_own_workflow(mock, engine, instrumented):
    api = client(mock, "latency=30")
    workflows = [workflow(engine, name=f"thread-{n}") for n in range(1, 21)]
    errors = []

    usages = {}

    def agent(n: int) -> None:
        response = api.chat.completions.create(model=MODEL, messages=MESSAGES,
                                               extra_headers={"x-mock": f"reply={2 * n}"})
        usages[n] = chat_usage(response.usage)

    def worker(n: int, wf) -> None:
        try:
            wf.execute_sync(agent, n)
        except BaseException as e:  # reported below: a thread's exception is otherwise lost
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n, wf)) for n, wf in enumerate(workflows, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [usages[n].output for n in range(1, 21)] == [2 * n for n in range(1, 21)]
    for n, wf in enumerate(workflows, 1):
        assert_billed(only_call(wf), usages[n])
