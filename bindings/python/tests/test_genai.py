"""wflo.instrument() on the real Google Gen AI SDK (google-genai), against `wflo mock-llm`'s
Gemini wire format (`:generateContent`, `:streamGenerateContent?alt=sse`).

Each call's recorded cost must equal wflo.cost() of the usage_metadata the SDK reported
(mapped here by hand: promptTokenCount includes the cached tokens), a stream must be settled
once from its last chunk, a stream cut before its usage estimated, and a call that could
overspend refused with no request reaching the mock. A prompt over gemini-2.5-pro's 200k-token
tier is billed and reserved at the tier's prices (checked against the price table by hand), and
the README's example (examples/python/frameworks/genai.py) runs against the mock.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from google import genai
from google.genai import types

import wflo

MODEL = "gemini-2.5-flash"
PROMPT = "Summarise the plot of Hamlet, act by act, in plain words. " * 4


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def client(mock, directives: str = "") -> genai.Client:
    base = f"{mock.url}/mock/{directives}" if directives else mock.url
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=base))


def workflow(engine, budget="1.00") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow("genai-test", budget_usd=budget, engine=engine)


def config(**kw) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(system_instruction="Be terse.", max_output_tokens=200, **kw)


def usage_of(m: types.GenerateContentResponseUsageMetadata) -> wflo.Usage:
    cached = m.cached_content_token_count or 0
    return wflo.Usage(input=m.prompt_token_count - cached, output=m.candidates_token_count or 0,
                      cache_read=cached, reasoning=m.thoughts_token_count or 0)


def only_call(wf) -> dict:
    calls = wf.calls()
    assert len(calls) == 1, calls
    return calls[0]


def assert_billed(record: dict, usage: wflo.Usage, *, stream: bool = False) -> None:
    assert record["status"] == "ok"
    assert record["provider"] == "gemini"
    assert record["model"] == MODEL
    assert record["estimated"] is False
    assert record["stream"] is stream
    assert record["usage"] == {"input": usage.input, "output": usage.output, "cache_read": usage.cache_read,
                               "cache_write_5m": 0, "cache_write_1h": 0, "reasoning": usage.reasoning}
    assert record["cost_nanos"] == wflo.cost(MODEL, usage) > 0


def generated(mock) -> int:
    return mock.stats().get("generateContent", 0)


# -- settled from usage_metadata -------------------------------------------------------------------

def test_generate_content(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cached=5,reasoning=7,reply=9")
    before = generated(mock)

    r = wf.execute_sync(lambda _: api.models.generate_content(model=MODEL, contents=PROMPT, config=config()))

    usage = usage_of(r.usage_metadata)
    assert (usage.cache_read, usage.reasoning, usage.output) == (5, 7, 9)
    assert_billed(only_call(wf), usage)
    assert wf.get_cost_breakdown_sync()["total_nanos"] == wflo.cost(MODEL, usage)
    assert generated(mock) == before + 1


async def test_async_generate_content(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=11")

    async def run(_):
        return await api.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config())

    r = await wf.execute(run)
    assert r.usage_metadata.candidates_token_count == 11
    assert_billed(only_call(wf), usage_of(r.usage_metadata))


def test_stream_settles_once_from_its_last_chunk(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cached=2,reply=14")
    before = mock.stats().get("generateContent.stream", 0)

    chunks = wf.execute_sync(lambda _: list(api.models.generate_content_stream(model=MODEL, contents=PROMPT,
                                                                                config=config())))

    assert len(chunks) > 2
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert_billed(only_call(wf), usage_of(chunks[-1].usage_metadata), stream=True)
    assert mock.stats()["generateContent.stream"] == before + 1


async def test_async_stream(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=10")

    async def run(_):
        return [c async for c in await api.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)]

    chunks = await wf.execute(run)
    assert_billed(only_call(wf), usage_of(chunks[-1].usage_metadata), stream=True)


def test_a_stream_cut_before_its_usage_is_estimated(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "cut=usage,reply=12")

    chunks = wf.execute_sync(lambda _: list(api.models.generate_content_stream(model=MODEL, contents=PROMPT)))

    text = "".join(c.text or "" for c in chunks)
    assert text and all(c.usage_metadata is None for c in chunks)
    record = only_call(wf)
    assert record["estimated"] is True
    assert record["usage"]["output"] > 0 and record["cost_nanos"] > 0


def test_a_stream_left_early_is_settled_once(mock, engine, instrumented):
    wf = workflow(engine)
    api = client(mock, "reply=30")

    def run(_):
        stream = api.models.generate_content_stream(model=MODEL, contents=PROMPT)
        first = next(stream)
        stream.close()
        return first

    wf.execute_sync(run)
    record = only_call(wf)
    assert record["status"] == "aborted"
    assert record["cost_nanos"] > 0


# -- refused before the request ---------------------------------------------------------------------

def test_a_call_that_could_overspend_never_reaches_the_mock(mock, engine, instrumented):
    wf = workflow(engine, budget="0.0001")  # less than 200 output tokens of gemini-2.5-flash
    api = client(mock)
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(lambda _: api.models.generate_content(model=MODEL, contents=PROMPT, config=config()))
    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(lambda _: list(api.models.generate_content_stream(model=MODEL, contents=PROMPT,
                                                                           config=config())))
    assert mock.requests() == before
    assert [(c["status"], c["stream"], c["cost_nanos"]) for c in wf.calls()] == [("refused", False, 0),
                                                                                 ("refused", True, 0)]


async def test_async_refusals_never_reach_the_mock(mock, engine, instrumented):
    wf = workflow(engine, budget="0.0001")
    api = client(mock)
    before = mock.requests()

    async def plain(_):
        return await api.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config())

    async def streamed(_):
        return [c async for c in await api.aio.models.generate_content_stream(model=MODEL, contents=PROMPT,
                                                                               config=config())]

    for run in (plain, streamed):
        with pytest.raises(wflo.BudgetExceededError):
            await wf.execute(run)
    assert mock.requests() == before


def test_no_output_limit_reserves_the_models_maximum_and_sends_it(mock, engine, instrumented):
    """Without max_output_tokens the worst case is the model's maximum output: the engine
    writes that limit into the request it returns, so what is reserved bounds what is sent."""
    wf = workflow(engine)
    api = client(mock, "reply=5")
    wf.execute_sync(lambda _: api.models.generate_content(model=MODEL, contents="hi"))
    limited = workflow(engine)
    limited.execute_sync(lambda _: api.models.generate_content(
        model=MODEL, contents="hi", config=types.GenerateContentConfig(max_output_tokens=10)))
    assert only_call(wf)["reserved_nanos"] > only_call(limited)["reserved_nanos"] * 100


# -- Gemini's long-context tier --------------------------------------------------------------------

TIERED = "gemini-2.5-pro"  # its price table has a tier above 200k prompt tokens
LONG_PROMPT = "word " * 200_100  # wflo counts a token a word: over the tier, as the mock reports it


def tier_of(model: str) -> tuple:
    """(base prices, the long-context tier) from wflo's price table."""
    price = wflo.price(model)["price"]
    (tier,) = price["tiers"]
    return price, tier


def nanos(picos: int) -> int:
    return -(-picos // 1000)  # the engine rounds up to a whole nano-USD


@pytest.mark.parametrize("stream", [False, True], ids=["generate_content", "stream"])
def test_a_prompt_over_the_tier_is_billed_and_reserved_at_the_tier_prices(mock, engine, instrumented, stream):
    base, tier = tier_of(TIERED)
    assert tier["above"] == 200_000 and tier["input"] > base["input"] and tier["output"] > base["output"]
    wf = workflow(engine, budget="2.00")
    api = client(mock, "cached=1000,reasoning=7,reply=9")

    def run(_):
        if stream:
            return list(api.models.generate_content_stream(model=TIERED, contents=LONG_PROMPT, config=config()))[-1]
        return api.models.generate_content(model=TIERED, contents=LONG_PROMPT, config=config())

    meta = wf.execute_sync(run).usage_metadata
    assert meta.prompt_token_count > tier["above"], meta
    usage = usage_of(meta)
    record = only_call(wf)
    assert record["model"] == TIERED and record["estimated"] is False and record["stream"] is stream
    assert record["usage"]["input"] == usage.input and record["usage"]["cache_read"] == 1000
    # Every token at the tier's rate (cache reads included; thoughts at the output rate) —
    # equal to the ledger to the nano-USD, and well above the base-price cost.
    at_tier = nanos(usage.input * tier["input"] + usage.cache_read * tier["cache_read"]
                    + (usage.output + usage.reasoning) * tier["output"])
    at_base = nanos(usage.input * base["input"] + usage.cache_read * base["cache_read"]
                    + (usage.output + usage.reasoning) * base["output"])
    assert record["cost_nanos"] == wflo.cost(TIERED, usage) == at_tier > at_base * 1.5
    assert wf.get_cost_breakdown_sync()["total_nanos"] == at_tier
    # The reservation covered the tier: the whole prompt and the output limit at its prices.
    assert record["reserved_nanos"] >= nanos(meta.prompt_token_count * tier["input"] + 200 * tier["output"])


def test_a_budget_that_base_prices_would_fit_refuses_a_prompt_over_the_tier(mock, engine, instrumented):
    base, tier = tier_of(TIERED)
    prompt = 200_100  # at least: a token a word
    fits_base = nanos(prompt * base["input"] + 200 * base["output"])
    needs = nanos(prompt * tier["input"] + 200 * tier["output"])
    budget = fits_base * 3 // 2  # half as much again as base prices need, far less than the tier
    assert budget < needs
    wf = workflow(engine, budget=f"{budget / 1e9:.9f}")
    api = client(mock)
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(lambda _: api.models.generate_content(model=TIERED, contents=LONG_PROMPT, config=config()))
    assert mock.requests() == before
    (refused,) = wf.calls()
    assert (refused["status"], refused["cost_nanos"]) == ("refused", 0)
    assert refused["reserved_nanos"] >= needs  # what it needed: the tier's prices
    # Under the tier the same budget goes through.
    ok = workflow(engine, budget=f"{budget / 1e9:.9f}")
    ok.execute_sync(lambda _: api.models.generate_content(model=TIERED, contents="word " * 1000, config=config()))
    assert only_call(ok)["status"] == "ok"


# -- what is metered ------------------------------------------------------------------------------

def test_outside_a_workflow_and_after_uninstrument_calls_pass_through(mock, engine, instrumented):
    api = client(mock, "reply=3")
    before = generated(mock)
    assert api.models.generate_content(model=MODEL, contents="hi").usage_metadata.candidates_token_count == 3
    wflo.uninstrument()
    wf = workflow(engine)
    wf.execute_sync(lambda _: api.models.generate_content(model=MODEL, contents="hi"))
    assert wf.calls() == []
    assert generated(mock) == before + 2


def test_instrument_one_client(mock, engine):
    metered, other = client(mock, "reply=4"), client(mock, "reply=4")
    assert wflo.instrument(metered) is metered
    wf = workflow(engine)
    wf.execute_sync(lambda _: (metered.models.generate_content(model=MODEL, contents="hi"),
                               other.models.generate_content(model=MODEL, contents="hi")))
    assert len(wf.calls()) == 1
    wflo.uninstrument(metered)
    again = workflow(engine)
    again.execute_sync(lambda _: metered.models.generate_content(model=MODEL, contents="hi"))
    assert again.calls() == []


# -- the README's example -------------------------------------------------------------------------

def test_the_example_runs_against_the_mock(mock):
    from conftest import ROOT

    before = mock.stats()
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "frameworks" / "genai.py")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "WFLO_GEMINI_BASE_URL": mock.url})
    assert done.returncode == 0, done.stderr
    refusal, *calls = done.stdout.splitlines()
    # The ~210k-token report is refused at gemini-2.5-pro's tier prices, over the $0.50 budget
    # (at base prices its worst case would have fitted).
    needed = float(re.fullmatch(r"long report refused: needs up to \$(\d+\.\d\d)", refusal).group(1))
    base, tier = tier_of(TIERED)
    assert needed > 0.50 and needed >= 200_000 * tier["input"] / 1e12
    assert (needed + 0.005) * max(base["input"] / tier["input"], base["output"] / tier["output"]) < 0.50
    assert [line.split()[:2] for line in calls] == [["gemini-2.5-flash", "ok"], ["gemini-2.5-flash", "ok"],
                                                     ["gemini-2.5-pro", "refused"]]
    assert [float(line.split()[2].lstrip("$")) > 0 for line in calls] == [True, True, False]
    after = mock.stats()
    assert after["generateContent"] - before.get("generateContent", 0) == 2  # the refused call never left
    assert after["generateContent.stream"] - before.get("generateContent.stream", 0) == 1
