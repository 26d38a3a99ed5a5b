"""The shared vectors (tests/vectors/*.json) from Python, exactly as the Rust, Go and Node tests
run them: the same engine must give the same answers through every door."""
from __future__ import annotations

import json

import pytest

import wflo
from conftest import VECTORS


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def code_of(e: BaseException) -> str:
    return e.code if isinstance(e, wflo.WfloError) else f"not a wflo error: {e!r}"


@pytest.fixture(scope="module")
def memory():
    eng = wflo.Engine.open("memory://")
    yield eng
    eng.close()


PRICING = load("pricing.json")["cases"]


@pytest.mark.parametrize("case", PRICING, ids=[c["name"] for c in PRICING])
def test_pricing(case, memory):
    usage = wflo.Usage(**case["usage"])
    if case.get("error"):
        with pytest.raises(wflo.WfloError) as err:
            memory.cost(case["model"], usage)
        assert err.value.code == case["error"]
        return
    assert memory.cost(case["model"], usage) == case["expected_nanos"]
    assert memory.price(case["model"])["resolved"] == case["resolved"]


USAGE = load("usage.json")["cases"]


def test_usage_vectors_are_there():
    assert len(USAGE) >= 45


@pytest.mark.parametrize("case", USAGE, ids=[c["name"] for c in USAGE])
def test_usage(case):
    fmt = case["format"]
    state = None
    try:
        if fmt.endswith("_stream"):
            stream = wflo.Stream(fmt[: -len("_stream")])
            for event in case["events"]:
                stream.push(json.dumps(event))
            state = stream.state()
            got = wflo.Usage(**state["usage"]) if state["usage"] else None
        else:
            payload = case["payload_text"] if "payload_text" in case else json.dumps(case["payload"])
            got = wflo.parse_usage(payload, fmt)
    except wflo.WfloError as e:
        assert case.get("error") == e.code, f"unexpected {e!r}"
        return
    assert not case.get("error"), f"expected {case['error']}, got {got}"
    if case.get("usage_missing"):
        assert state is not None and not (state["usage"] and state["complete"])
        assert state["text"] == case["text"]
    elif case.get("expected") is not None:
        assert got == wflo.Usage(**case["expected"])


TOKENS = load("tokens.json")


@pytest.mark.parametrize("case", TOKENS["texts"], ids=[c["name"] for c in TOKENS["texts"]])
def test_token_texts(case, memory):
    for model, key in (("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")):
        count = memory.count_tokens(model, case["text"])
        assert (count.tokens, count.estimated) == (case[key], False), model


@pytest.mark.parametrize("case", TOKENS["chat"], ids=[c["name"] for c in TOKENS["chat"]])
def test_token_chat(case, memory):
    model = "gpt-4o" if case["encoding"] == "o200k_base" else "gpt-4"
    assert memory.count_chat_tokens(model, case["messages"]).tokens == case["expected"]


BUDGET = load("budget.json")
CACHE_WRITE = {None: None, "none": None, "five_minutes": "5m", "one_hour": "1h"}


@pytest.mark.parametrize("case", BUDGET["cases"], ids=[c["name"] for c in BUDGET["cases"]])
def test_budget(case):
    eng = wflo.Engine.open("memory://")
    eng.set_prices(BUDGET["prices"])
    wf = wflo.WfloWorkflow(case["name"], case.get("budget_usd"), engine=eng).start_sync()
    held = {}
    for i, step in enumerate(case["steps"]):
        actual: dict = {}

        def from_error(e: wflo.WfloError) -> None:
            actual["error"] = code_of(e)
            if isinstance(e, wflo.BudgetExceededError):
                actual.update(scope=e.scope, limit_nanos=e.limit_nanos, spent_nanos=e.spent_nanos,
                              reserved_nanos=e.reserved_nanos, requested_nanos=e.requested_nanos)

        def from_settled(fn):
            try:
                s = fn()
            except wflo.WfloError as e:
                from_error(e)
                return
            actual.update(cost_nanos=s.cost_nanos, overrun_nanos=s.overrun_nanos)

        op = step["op"]
        if op == "scope":
            with wf.step_sync(step["label"], step.get("budget_usd")):
                pass
        elif op == "reserve":
            request = wflo.CallRequest(model=step["model"], input_tokens=step.get("input_tokens", 0),
                                       input_estimated=step.get("estimated", False),
                                       max_output_tokens=step.get("max_output_tokens") or None,
                                       cache_write=CACHE_WRITE[step.get("cache_write")],
                                       clamp_max_tokens=step.get("clamp", False))
            try:
                if step.get("scope"):
                    with wf.step_sync(step["scope"]):
                        r = wf.reserve(request)
                else:
                    r = wf.reserve(request)
            except wflo.WfloError as e:
                from_error(e)
            else:
                held[step["id"]] = r
                asked = step.get("max_output_tokens") or 0
                actual.update(amount_nanos=r.amount_nanos, max_output_tokens=r.max_output_tokens,
                              clamped=asked > 0 and r.max_output_tokens < asked)
        elif op == "settle":
            from_settled(lambda: held[step["id"]].settle(wflo.Usage(**step.get("usage", {}))))
        elif op == "settle_raw":
            from_settled(lambda: held[step["id"]].settle_json(step["format"], json.dumps(step["payload"])))
        elif op == "release":
            try:
                held[step["id"]].release("error", "vector")
            except wflo.WfloError as e:
                from_error(e)
        elif op == "record":
            from_settled(lambda: wf.record_call(step["model"], json.dumps(step.get("usage", {})), "wflo"))
        elif op == "breakdown":
            actual.update(wf.get_cost_breakdown_sync())
        else:
            pytest.fail(f"unknown op {op}")
        for key, want in step.get("expect", {}).items():
            assert actual.get(key) == want, f"step {i} ({op}): {key} = {actual.get(key)!r}, want {want!r}"
    eng.close()
