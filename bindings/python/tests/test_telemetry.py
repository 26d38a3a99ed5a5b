"""What the engine tells a Python host: budget alerts through ``on_threshold`` and engine
listeners, the trace an execution belongs to (the host's OpenTelemetry span joined), the
Prometheus metrics text, and the engine's events on the ``wflo`` logger."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider

import wflo

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def spend(wf: wflo.WfloWorkflow, calls: int, output: int = 200) -> None:
    """``calls`` gpt-4o calls of 100 input and ``output`` output tokens ($0.00225 each at 200)."""
    for _ in range(calls):
        wf.reserve(model="gpt-4o", input_tokens=100, max_output_tokens=output).settle(
            wflo.Usage(input=100, output=output))


@pytest.fixture
def quiet():
    """Routes the engine's events to nothing after the test (whatever it routed)."""
    yield
    wflo.log_events(None)


def test_on_threshold_gets_each_alert_of_its_execution_once_in_order(engine):
    got = []
    wf = wflo.WfloWorkflow("alerts", budget_usd="0.01", engine=engine, on_threshold=got.append,
                           soft_budget_usd="0.004")
    other = wflo.WfloWorkflow("other", budget_usd="0.01", engine=engine)
    wf.execute_sync(lambda _: spend(wf, 4))  # 22.5%, 45%, 67.5%, 90% of $0.01
    other.execute_sync(lambda _: spend(other, 4))  # another execution's alerts do not reach wf's callback
    assert [(a.kind, a.percent) for a in got] == [("soft_budget", 100), ("threshold", 50), ("threshold", 80)]
    soft, half = got[0], got[1]
    assert isinstance(half, wflo.Alert)
    assert (half.execution_id, half.workflow, half.scope) == (wf.execution_id, "alerts", "")
    assert (half.limit_nanos, half.spent_nanos, half.limit_usd) == (10_000_000, 6_750_000, 0.01)
    assert str(half) == half.summary and half.summary.startswith("budget 50% reached on alerts: $0.006")
    assert (soft.limit_nanos, soft.spent_nanos) == (4_000_000, 4_500_000)  # "0.004", parsed by the engine


def test_thresholds_are_the_callers_and_checked_by_the_engine(engine):
    got = []
    wf = wflo.WfloWorkflow("custom", budget_usd=0.01, engine=engine, on_threshold=got.append,
                           alert_thresholds=[25, 60])
    with wf.step_sync("draft", budget_usd="0.005") as step:
        spend(wf, 1)  # the step: 45% of its $0.005; the execution: 22.5%
        assert step.label == "draft"
    spend(wf, 1)  # the execution: 45%
    assert [(a.scope, a.percent) for a in got] == [("draft", 25), ("", 25)]
    none = []
    silent = wflo.WfloWorkflow("silent", budget_usd=0.01, engine=engine, on_threshold=none.append, alert_thresholds=[])
    silent.execute_sync(lambda _: spend(silent, 4))
    assert none == []
    for bad in ([80, 50], [0], [101], ["50"], "50", [True]):
        with pytest.raises(wflo.InvalidArgumentError):
            wflo.WfloWorkflow("bad", engine=engine, alert_thresholds=bad).start_sync()
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", engine=engine, soft_budget_usd="-1")
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", engine=engine, on_threshold="print")

    async def coroutine(alert):
        pass

    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", engine=engine, on_threshold=coroutine)


def test_an_engine_listener_hears_every_execution_until_removed(engine):
    got = []
    listener = engine.add_alert_listener(lambda a: got.append(a.workflow))
    for name in ("a", "b"):
        wf = wflo.WfloWorkflow(name, budget_usd="0.01", engine=engine)
        wf.execute_sync(lambda _, wf=wf: spend(wf, 3))
    assert got == ["a", "b"]
    assert engine.remove_alert_listener(listener) is True
    assert engine.remove_alert_listener(listener) is False
    wf = wflo.WfloWorkflow("c", budget_usd="0.01", engine=engine)
    wf.execute_sync(lambda _: spend(wf, 3))
    assert got == ["a", "b"]
    with pytest.raises(wflo.InvalidArgumentError):
        engine.remove_alert_listener(-1)


def test_a_raising_callback_is_logged_and_the_call_still_settles(engine, caplog):
    def boom(alert):
        raise RuntimeError("the callback's own bug")

    wf = wflo.WfloWorkflow("boom", budget_usd="0.01", engine=engine, on_threshold=boom)
    with caplog.at_level(logging.WARNING, logger="wflo"):
        wf.execute_sync(lambda _: spend(wf, 3))
    assert wf.breakdown_sync()["calls"] == 3 and wf.breakdown_sync()["status"] == "completed"
    raised = [r for r in caplog.records if r.name == "wflo" and r.exc_info]
    assert raised and "the callback's own bug" in caplog.text


def test_a_generated_listener_or_log_sink_that_raises_reaches_neither_the_engine_nor_the_caller(engine, quiet):
    from wflo import _ffi

    heard = []

    class Raising:  # UniFFI's AlertListener and LogSink, with nothing of wflo's around them
        def on_alert(self, alert):
            heard.append(alert.percent)
            raise RuntimeError("the listener's own bug")

        def log(self, level, line):
            raise RuntimeError("the sink's own bug")

    engine.native.add_alert_listener(Raising())
    _ffi.set_log_sink("debug", Raising())
    wf = wflo.WfloWorkflow("raw", budget_usd="0.01", engine=engine)
    wf.execute_sync(lambda _: spend(wf, 3))
    assert wf.breakdown_sync()["calls"] == 3 and heard == [50]


def test_alerts_fire_on_the_thread_that_settled(engine):
    threads = []
    wf = wflo.WfloWorkflow("threads", budget_usd="0.01", engine=engine,
                           on_threshold=lambda a: threads.append(threading.get_ident()))
    wf.start_sync()
    worker = threading.Thread(target=spend, args=(wf, 3))
    worker.start()
    worker.join()
    assert threads == [worker.ident]


def test_the_trace_id_is_the_host_spans_when_one_is_current(engine):
    tracer = TracerProvider().get_tracer("host")
    with tracer.start_as_current_span("request") as span:
        wf = wflo.WfloWorkflow("traced", engine=engine)
        wf.start_sync()
    assert wf.get_trace_id() == format(span.get_span_context().trace_id, "032x")
    assert wf.trace_id == wf.get_trace_id()

    own = wflo.WfloWorkflow("untraced", engine=engine)
    assert own.get_trace_id() is None  # not started
    own.start_sync()
    assert len(own.get_trace_id()) == 32 and own.get_trace_id() != wf.get_trace_id()

    with tracer.start_as_current_span("request"):
        given = wflo.WfloWorkflow("given", engine=engine, traceparent=TRACEPARENT)
        given.start_sync()
    assert given.get_trace_id() == "4bf92f3577b34da6a3ce929d0e0e4736"  # an explicit traceparent wins
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", engine=engine, traceparent="00-nonsense").start_sync()


async def test_an_async_start_joins_the_span_current_in_the_coroutine(engine):
    tracer = TracerProvider().get_tracer("host")
    with tracer.start_as_current_span("async request") as span:
        wf = wflo.WfloWorkflow("async-traced", engine=engine)
        await wf.start()
    assert wf.get_trace_id() == format(span.get_span_context().trace_id, "032x")


def test_metrics_text_counts_money_calls_and_refusals(engine):
    wf = wflo.WfloWorkflow("metered", budget_usd="0.005", engine=engine)

    def body(_):
        spend(wf, 2)
        wf.reserve(model="gpt-4o", input_tokens=100, max_output_tokens=200)

    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(body)
    text = engine.metrics_text()
    lines = text.splitlines()
    assert 'wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.004500000' in lines
    assert 'wflo_calls_total{model="gpt-4o",provider="openai",status="ok"} 2' in lines
    assert any(line.startswith('wflo_refusals_total{model="gpt-4o"') for line in lines)
    assert "exec-" not in text  # labels are bounded: never an execution id


def test_events_reach_the_wflo_logger_at_the_level_routed(engine, caplog, quiet):
    caplog.set_level(logging.DEBUG, logger="wflo")
    assert wflo.log_events("info") == "info"
    wf = wflo.WfloWorkflow("logged", budget_usd="0.003", engine=engine)
    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(lambda _: spend(wf, 2))
    records = [r for r in caplog.records if r.name == "wflo"]
    assert [r.levelno for r in records if r.getMessage().startswith("refused:")] == [logging.INFO]
    assert not any(r.getMessage().startswith(("reserved:", "settled:")) for r in records)  # DEBUG: not routed
    caplog.clear()
    assert wflo.log_events(logging.DEBUG) == "debug"
    spend(wflo.WfloWorkflow("debug", engine=engine), 1)
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.name == "wflo"] == ["reserved", "settled"]
    caplog.clear()
    assert wflo.log_events(None) is None
    spend(wflo.WfloWorkflow("off", engine=engine), 1)
    assert [r for r in caplog.records if r.name == "wflo"] == []
    for bad in ("loud", 7, True, 1.5):
        with pytest.raises(wflo.InvalidArgumentError):
            wflo.log_events(bad)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "WFLO_LOG"}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True,
                          timeout=60)


REFUSAL = """
import logging, wflo
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
wf = wflo.WfloWorkflow("env", budget_usd="0.001", engine=wflo.Engine.open("memory://"))
try:
    wf.reserve(model="gpt-4o", input_tokens=100, max_output_tokens=200)
except wflo.BudgetExceededError:
    print("refused")
"""


def test_wflo_log_sets_the_level_at_import_and_wflo_is_silent_without_it():
    loud = run_python(REFUSAL, WFLO_LOG="info")
    assert loud.stdout.strip() == "refused"
    assert "INFO wflo refused: call refused before sending" in loud.stderr, loud.stderr
    silent = run_python(REFUSAL)
    assert silent.stdout.strip() == "refused" and "wflo" not in silent.stderr, silent.stderr
    bad = run_python(REFUSAL, WFLO_LOG="loud")
    assert bad.returncode == 0 and bad.stdout.strip() == "refused"
    assert "WFLO_LOG must be off, error, warn, info, debug or trace, not 'loud'" in bad.stderr, bad.stderr
    assert "refused: call refused" not in bad.stderr


def test_the_observability_example_runs_as_the_readme_shows():
    from conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "observability.py")], capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "WFLO_LOG"})
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert [line.split(" on ")[0] for line in out[:3]] == [
        "alert: budget 50% reached", "alert: soft budget reached", "alert: budget 80% reached"]
    assert out[3].startswith("trace ") and len(out[3].split()[1]) == 32
    assert 'wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.009000000' in out
    assert "WARNING wflo: alert: budget 80% reached on research-agent" in done.stderr
