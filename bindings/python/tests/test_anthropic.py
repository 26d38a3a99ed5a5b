"""wflo.instrument() on the official anthropic SDK, against `wflo mock-llm`.

The cost recorded must equal wflo.cost() of the usage the response reported — cache reads
and 5-minute and 1-hour cache writes included, mapped here by hand — a refused call (create,
stream=True, messages.stream(), beta, raw) must leave the mock's request counter where it
was, and concurrent workflows must each see only their own calls.
"""
from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import anthropic
import pytest
from anthropic.resources.messages import Messages

import wflo

MODEL = "claude-haiku-4-5"
TEXT = "Summarise the plot of Hamlet, act by act, in plain words. " * 8
MESSAGES = [{"role": "user", "content": TEXT}]
CACHE = "cached=7,cache_write=4,cache_write_1h=2"


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def client(mock, directives: str = "", **options) -> anthropic.Anthropic:
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=mock.anthropic_base(directives), api_key="test-key", **options)


def async_client(mock, directives: str = "", **options) -> anthropic.AsyncAnthropic:
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=mock.anthropic_base(directives), api_key="test-key", **options)


def workflow(engine, budget="1.00", name="anthropic-test") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow(name, budget_usd=budget, engine=engine)


def usage_of(u, output=None) -> wflo.Usage:
    """wflo's fields from an Anthropic usage: input already excludes cache reads and writes."""
    creation = getattr(u, "cache_creation", None)
    write_5m = creation.ephemeral_5m_input_tokens if creation else (u.cache_creation_input_tokens or 0)
    write_1h = creation.ephemeral_1h_input_tokens if creation else 0
    return wflo.Usage(input=u.input_tokens, output=u.output_tokens if output is None else output,
                      cache_read=u.cache_read_input_tokens or 0, cache_write_5m=write_5m, cache_write_1h=write_1h)


def streamed_usage(events) -> wflo.Usage:
    """The prompt's usage arrives in message_start, the output's in the last message_delta."""
    start = next(e for e in events if e.type == "message_start").message.usage
    delta = [e for e in events if e.type == "message_delta"][-1].usage
    return usage_of(start, output=delta.output_tokens)


def only_call(wf) -> dict:
    calls = wf.calls()
    assert len(calls) == 1, calls
    return calls[0]


def assert_billed(record: dict, usage: wflo.Usage, *, stream: bool = False) -> None:
    assert record["status"] == "ok"
    assert record["provider"] == "anthropic"
    assert record["estimated"] is False
    assert record["stream"] is stream
    assert record["usage"] == {"input": usage.input, "output": usage.output, "cache_read": usage.cache_read,
                               "cache_write_5m": usage.cache_write_5m, "cache_write_1h": usage.cache_write_1h,
                               "reasoning": 0}
    assert record["cost_nanos"] == wflo.cost(MODEL, usage) > 0


# -- settled from the usage the response reports, cache tokens included ---------------------------

def test_create_with_cache_tokens(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, CACHE + ",reply=6")
    before = mock.stats().get("messages", 0)

    message = wf.execute_sync(lambda _: api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES))

    usage = usage_of(message.usage)
    assert (usage.cache_read, usage.cache_write_5m, usage.cache_write_1h) == (7, 4, 2)
    assert_billed(only_call(wf), usage)
    assert wf.get_cost_breakdown_sync()["total_nanos"] == wflo.cost(MODEL, usage)
    assert mock.stats()["messages"] == before + 1


async def test_async_create(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, CACHE + ",reply=8")

    async def run(_):
        return await api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES)

    message = await wf.execute(run)
    assert message.usage.output_tokens == 8
    assert_billed(only_call(wf), usage_of(message.usage))


def test_stream_true(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, CACHE + ",reply=10")

    def run(_):
        with api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES, stream=True) as stream:
            return list(stream)

    events = wf.execute_sync(run)
    usage = streamed_usage(events)
    assert usage.cache_write_1h == 2
    assert_billed(only_call(wf), usage, stream=True)


async def test_async_stream_true(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, CACHE + ",reply=12")

    async def run(_):
        return [event async for event in await api.messages.create(model=MODEL, max_tokens=200,
                                                                   messages=MESSAGES, stream=True)]

    events = await wf.execute(run)
    assert_billed(only_call(wf), streamed_usage(events), stream=True)


def test_the_stream_helper(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, CACHE + ",reply=10")

    def run(_):
        with api.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
            text = "".join(stream.text_stream)
            message = stream.get_final_message()
        with api.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as early:
            next(iter(early))
        # Settled when the block ended, though `early` is still referenced here.
        return text, message, wf.calls()[-1], early

    text, message, early, _ = wf.execute_sync(run)
    assert text
    assert_billed(wf.calls()[0], usage_of(message.usage), stream=True)
    assert early["status"] == "aborted"


async def test_the_async_stream_helper(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, CACHE + ",reply=6")

    async def run(_):
        async with api.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
            async for _event in stream:
                pass
            return await stream.get_final_message()

    message = await wf.execute(run)
    assert_billed(only_call(wf), usage_of(message.usage), stream=True)


def test_beta_parse_and_raw_responses(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=4")

    def run(_):
        beta = api.beta.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        parsed = api.messages.parse(model=MODEL, max_tokens=100, messages=MESSAGES)
        raw = api.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        with api.beta.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            streamed = stream.get_final_message()
        return [beta.usage, parsed.usage, raw.parse().usage, streamed.usage]

    usages = wf.execute_sync(run)
    records = wf.calls()
    assert len(records) == 4
    for record, usage, stream in zip(records, usages, (False, False, False, True)):
        assert_billed(record, usage_of(usage), stream=stream)


async def test_async_raw_response(mock, engine, instrumented):
    wf = workflow(engine)
    api = async_client(mock, "reply=4")

    async def run(_):
        raw = await api.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        return await raw.parse()

    message = await wf.execute(run)
    assert_billed(only_call(wf), usage_of(message.usage))


# -- what the reservation holds --------------------------------------------------------------------

def test_cache_control_prices_the_prompt_as_a_cache_write(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=4")

    def block(**cache):
        return [{"role": "user", "content": [{"type": "text", "text": TEXT, **cache}]}]

    def run(_):
        api.messages.create(model=MODEL, max_tokens=100, messages=block())
        api.messages.create(model=MODEL, max_tokens=100, messages=block(cache_control={"type": "ephemeral"}))
        api.messages.create(model=MODEL, max_tokens=100,
                            messages=block(cache_control={"type": "ephemeral", "ttl": "1h"}))

    wf.execute_sync(run)
    plain, five, hour = (c["reserved_nanos"] for c in wf.calls())
    output = wflo.cost(MODEL, output=100)
    prompt = (plain - output) // wflo.cost(MODEL, input=1)  # the counted prompt, with its margin
    assert plain == wflo.cost(MODEL, input=prompt, output=100)
    assert five == wflo.cost(MODEL, cache_write_5m=prompt, output=100)
    assert hour == wflo.cost(MODEL, cache_write_1h=prompt, output=100)
    assert plain < five < hour


def test_system_and_tools_are_counted(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=4")
    tools = [{"name": "lookup", "description": "Looks a play up by title. " * 10,
              "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}}}]

    def run(_):
        api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, system="Answer as a critic. " * 20)
        api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, tools=tools)

    wf.execute_sync(run)
    plain, system, with_tools = (c["reserved_nanos"] for c in wf.calls())
    assert system > plain and with_tools > plain


# -- refused before the request --------------------------------------------------------------------

SYNC_CALLS = {
    "create": lambda api: api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES),
    "stream-true": lambda api: list(api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)),
    "stream-helper": lambda api: api.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES).__enter__(),
    "parse": lambda api: api.messages.parse(model=MODEL, max_tokens=100, messages=MESSAGES),
    "raw-response": lambda api: api.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=MESSAGES),
    "beta": lambda api: api.beta.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES),
    "beta-stream-helper": lambda api: api.beta.messages.stream(model=MODEL, max_tokens=100,
                                                               messages=MESSAGES).__enter__(),
}


@pytest.mark.parametrize("call", sorted(SYNC_CALLS))
def test_a_refused_call_sends_no_request(mock, engine, instrumented, call):
    wf = workflow(engine, budget="0.000001")
    api = client(mock, max_retries=3)  # a retrying client: the refusal must not be retried
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError) as refused:
        wf.execute_sync(lambda _: SYNC_CALLS[call](api))

    assert type(refused.value) is wflo.BudgetExceededError  # not wrapped in an anthropic error
    assert mock.requests() == before
    assert only_call(wf)["status"] == "refused"


async def test_async_refusals_send_no_request_and_leave_no_coroutine(mock, engine, instrumented):
    api = async_client(mock, max_retries=3)
    before = mock.requests()

    async def create(_):
        await api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)

    async def helper(_):
        async with api.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES):
            pass

    async def beta_helper(_):
        async with api.beta.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES):
            pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for run in (create, helper, beta_helper):
            wf = workflow(engine, budget="0.000001")
            with pytest.raises(wflo.BudgetExceededError):
                await wf.execute(run)
            assert only_call(wf)["status"] == "refused"
        gc.collect()
    assert mock.requests() == before
    # The async helper builds its request coroutine when called: refused first, none is left.
    assert not [w for w in caught if "never awaited" in str(w.message)]


# -- streams and calls that do not end well --------------------------------------------------------

def test_a_stream_cut_before_its_usage_is_estimated_not_free(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cut=usage,reply=20")

    events = wf.execute_sync(lambda _: list(api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES,
                                                                 stream=True)))

    assert not [e for e in events if e.type == "message_delta"]
    record = only_call(wf)
    assert record["status"] == "ok"
    assert record["estimated"] is True and record["usage_missing"] is True
    assert record["usage"]["input"] > 0 and record["usage"]["output"] > 0
    assert record["cost_nanos"] > 0


def test_a_reset_stream_is_an_error_and_still_charged(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reset=3,reply=20")

    def run(_):
        with pytest.raises(Exception) as cut:
            for _event in api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES, stream=True):
                pass
        assert not isinstance(cut.value, wflo.WfloError)

    wf.execute_sync(run)
    record = only_call(wf)
    assert record["status"] == "error" and record["estimated"] is True and record["cost_nanos"] > 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


def test_an_sdk_error_releases_the_reservation(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "status=429")

    def run(_):
        with pytest.raises(anthropic.RateLimitError):
            api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)

    wf.execute_sync(run)
    record = only_call(wf)
    assert record["status"] == "error" and record["cost_nanos"] == 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


# -- installing and removing -----------------------------------------------------------------------

def test_instrument_one_client_only_then_uninstrument(mock, engine):
    metered, other = client(mock, "reply=4"), client(mock, "reply=6")
    wflo.instrument(metered)
    wflo.instrument(metered)  # idempotent
    assert not hasattr(Messages.__dict__["create"], "__wflo_patch__")  # the class is untouched
    wf = workflow(engine)

    def run(_):
        metered.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        other.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        metered.beta.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        with metered.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            stream.until_done()

    wf.execute_sync(run)
    assert [(c["usage"]["output"], c["stream"]) for c in wf.calls()] == [(4, False), (4, False), (4, True)]

    wflo.uninstrument()
    wf2 = workflow(engine)
    wf2.execute_sync(lambda _: metered.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES))
    assert wf2.calls() == []
    assert "create" not in vars(metered.messages)


def test_outside_a_workflow_calls_pass_through(mock, default_engine, instrumented):
    api = client(mock, "reply=5")
    stream = api.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.Stream
    assert list(stream)
    with api.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as helper:
        assert helper.get_final_message().usage.output_tokens == 5
    assert default_engine.list_executions() == []


# -- concurrent workflows never mix ---------------------------------------------------------------

async def test_20_concurrent_tasks_each_charge_their_own_workflow(mock, engine, instrumented):
    api = async_client(mock, "latency=30")  # the calls overlap

    async def agent(n: int) -> wflo.Usage:
        headers = {"x-mock": f"reply={2 * n}"}  # a different output for each workflow
        if n % 2:
            message = await api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES,
                                                extra_headers=headers)
            return usage_of(message.usage)
        async with api.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES,
                                       extra_headers=headers) as stream:
            async for _event in stream:
                await asyncio.sleep(0)
            return usage_of((await stream.get_final_message()).usage)

    workflows = [workflow(engine, name=f"task-{n}") for n in range(1, 21)]
    usages = await asyncio.gather(*(wf.execute(agent, n) for n, wf in enumerate(workflows, 1)))
    assert len({u.output for u in usages}) == 20
    for n, (wf, usage) in enumerate(zip(workflows, usages), 1):
        assert_billed(only_call(wf), usage, stream=n % 2 == 0)


def test_20_concurrent_threads_each_charge_their_own_workflow(mock, engine, instrumented):
    api = client(mock, "latency=30")
    workflows = [workflow(engine, name=f"thread-{n}") for n in range(1, 21)]
    usages, errors = {}, []

    def agent(n: int) -> None:
        message = api.messages.create(model=MODEL, max_tokens=200, messages=MESSAGES,
                                      extra_headers={"x-mock": f"reply={2 * n}"})
        usages[n] = usage_of(message.usage)

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
    assert len({u.output for u in usages.values()}) == 20
    for n, wf in enumerate(workflows, 1):
        assert_billed(only_call(wf), usages[n])
