"""``@track_llm_call`` budgets a call from its actual request when it can see it, and up front
only when it cannot — the seed's decorator made exact: a $0.01 workflow of 50-token gpt-4o
calls spends nearly all of its budget, never more, and a function whose call the decorator
cannot see is still reserved before it sends. The real openai SDK and plain urllib against
`wflo mock-llm`; the mock's request counter says what went out."""
from __future__ import annotations

import json
import urllib.request

import openai
import pytest

import wflo
from wflo.sdk import BudgetExceededError, WfloWorkflow, track_llm_call


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def ok_calls(wf):
    return [c for c in wf.calls() if c["status"] == "ok"]


def test_a_small_budget_is_spent_nearly_whole_and_never_overspent(engine, mock):
    client = openai.OpenAI(base_url=mock.openai_base("reply=40"), api_key="x", max_retries=0)

    @track_llm_call(model="gpt-4o")  # the seed's form: no max_tokens on the decorator
    def ask(prompt: str):
        return client.chat.completions.create(model="gpt-4o", max_tokens=50,
                                              messages=[{"role": "user", "content": prompt}])

    wf = WfloWorkflow(name="small-budget", budget_usd="0.01", engine=engine)
    before = mock.requests()

    def agent(_):
        answered = 0
        while True:
            try:
                ask("Give one short fact about otters.")
            except BudgetExceededError as refused:
                return answered, refused
            answered += 1

    answered, refused = wf.execute_sync(agent)
    spent = wf.breakdown_sync()["total_nanos"]
    assert answered >= 10, answered  # each call reserved ~$0.0005, not gpt-4o's $0.164 maximum
    assert spent >= 0.9 * 10_000_000, spent  # at least 90% of the $0.01 used
    assert spent <= 10_000_000  # never over
    assert mock.requests() - before == answered  # the refused call sent nothing
    assert len(ok_calls(wf)) == answered
    assert "reserved up front" not in str(refused)  # refused from the real request, nothing to explain
    assert all(c["reserved_nanos"] < 1_000_000 for c in ok_calls(wf))


def test_a_call_the_decorator_cannot_see_is_reserved_up_front_and_says_how_to_be_precise(engine, mock):
    url = mock.openai_base("reply=5") + "/chat/completions"

    @track_llm_call(model="gpt-4o")
    def ask(prompt: str):
        body = json.dumps({"model": "gpt-4o", "max_tokens": 50, "messages": [{"role": "user", "content": prompt}]})
        req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    small = WfloWorkflow(name="blind-small", budget_usd="0.01", engine=engine)
    before = mock.requests()
    with pytest.raises(BudgetExceededError) as refused:
        small.execute_sync(ask, "hello")
    assert mock.requests() == before  # nothing sent: the model's maximum did not fit
    # The engine's one wording (every face's tracker gets it): how it was sized, how to do better.
    assert "the model's maximum output (16384 tokens), as no max_tokens was given" in str(refused.value)
    assert "make the call through a client wflo meters" in str(refused.value)

    roomy = WfloWorkflow(name="blind-roomy", budget_usd="1", engine=engine)
    reply = roomy.execute_sync(ask, "hello")
    [call] = ok_calls(roomy)
    assert call["reserved_nanos"] > 100_000_000  # gpt-4o's maximum output, reserved before sending
    assert call["usage"]["output"] == reply["usage"]["completion_tokens"] == 5


def test_a_client_reached_through_another_function_is_reserved_once_not_twice(engine, mock):
    client = openai.OpenAI(base_url=mock.openai_base("reply=6"), api_key="x", max_retries=0)

    def send(prompt: str):  # the decorated function does not hold the client itself
        return client.chat.completions.create(model="gpt-4o-mini", max_tokens=20,
                                              messages=[{"role": "user", "content": prompt}])

    @track_llm_call(model="gpt-4o-mini", max_tokens=20)
    def ask(prompt: str):
        return send(prompt)

    wf = WfloWorkflow(name="indirect", budget_usd="1", engine=engine)
    response = wf.execute_sync(ask, "hi")
    [call] = ok_calls(wf)  # reserved up front by the decorator; the SDK call inside not again
    assert call["usage"]["output"] == response.usage.completion_tokens == 6
    assert call["reserved_nanos"] >= wflo.cost("gpt-4o-mini", output=20)  # the decorator's max_tokens


def test_opting_out_of_instrumentation_reserves_up_front(engine, mock, monkeypatch):
    monkeypatch.setenv("WFLO_AUTO_INSTRUMENT", "0")
    client = openai.OpenAI(base_url=mock.openai_base(), api_key="x", max_retries=0)

    @track_llm_call(model="gpt-4o")
    def ask(prompt: str):
        return client.chat.completions.create(model="gpt-4o", max_tokens=50,
                                              messages=[{"role": "user", "content": prompt}])

    wf = WfloWorkflow(name="opted-out", budget_usd="0.01", engine=engine)
    before = mock.requests()
    with pytest.raises(BudgetExceededError) as refused:
        wf.execute_sync(ask, "hello")
    assert mock.requests() == before
    assert "up front" in str(refused.value)


async def test_an_async_client_in_a_method_is_seen_through_self(engine, mock):
    class Agent:
        def __init__(self) -> None:
            self.llm = openai.AsyncOpenAI(base_url=mock.openai_base("reply=3"), api_key="x", max_retries=0)

        @track_llm_call(model="gpt-4o")
        async def ask(self, prompt: str):
            return await self.llm.chat.completions.create(model="gpt-4o", max_tokens=50,
                                                          messages=[{"role": "user", "content": prompt}])

    agent = Agent()
    wf = WfloWorkflow(name="method", budget_usd="0.01", engine=engine)
    response = await wf.execute(lambda _: agent.ask("hello"))
    [call] = ok_calls(wf)
    assert call["usage"]["output"] == response.usage.completion_tokens == 3
    assert call["reserved_nanos"] < 1_000_000
    await agent.llm.close()
