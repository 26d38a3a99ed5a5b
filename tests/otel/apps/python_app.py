"""The Python workload of tests/otel/run.py: an application with the OpenTelemetry SDK active
calls `wflo mock-llm` through the real openai and anthropic SDKs, wflo.instrument() metering
them, inside a span of its own. Prints one line "OTEL-RESULT {json}" for run.py to check.

Environment: MOCK_URL (the mock's base URL), WFLO_DB (a SQLite file), OTEL_* (as run.py sets
them). A planted secret is in the prompt, the checkpoint state and the API key: run.py checks
that no telemetry body carries any of them.
"""
from __future__ import annotations

import json
import os
import time

import anthropic
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import wflo

SECRET = "sk-SECRET-PLANTED-OTEL"
API_KEY = "sk-otel-PLANTED-API-KEY-0123456789"

mock = os.environ["MOCK_URL"]
provider = TracerProvider()
app_spans = InMemorySpanExporter()
provider.add_span_processor(SimpleSpanProcessor(app_spans))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("otel-test-app")

wflo.instrument()
engine = wflo.Engine.open(os.environ["WFLO_DB"])
oa = openai.OpenAI(base_url=f"{mock}/mock/cached=5,reasoning=3/v1", api_key=API_KEY, max_retries=0)
an = anthropic.Anthropic(base_url=f"{mock}/mock/cache_write=7,cached=4", api_key=API_KEY, max_retries=0)
alerts = []
asked = []  # (step, max_tokens) of each call, in order
refused = []


def agent(_):
    prompt = [{"role": "user", "content": f"Keep {SECRET} to yourself and draft a plan."}]
    with wf.step_sync("draft"):
        asked.append(("draft", 60))
        oa.chat.completions.create(model="gpt-4o-mini", messages=prompt, max_tokens=60)
    wf.checkpoint_sync("drafted", {"note": SECRET})
    with wf.step_sync("review"):
        asked.append(("review", 80))
        an.messages.create(model="claude-sonnet-4-6", max_tokens=80, messages=prompt)
    with wf.step_sync("expand"):
        asked.append(("expand", 4000))
        try:
            oa.chat.completions.create(model="gpt-4o", messages=prompt, max_tokens=4000)
        except wflo.BudgetExceededError as e:
            refused.append(e.requested_usd)
    wf.rollback_to_checkpoint_sync("drafted")


with tracer.start_as_current_span("handle-request") as span:
    ctx = span.get_span_context()
    wf = wflo.WfloWorkflow("otel-python", budget_usd="0.01", engine=engine, on_threshold=alerts.append,
                           alert_thresholds=[1, 5])
    wf.execute_sync(agent)

dropped = None
metrics = engine.metrics_text()
if os.environ.get("OTEL_TEST_WAIT_DROPPED"):
    # The endpoint is down: wait for the exporter's failures to be counted.
    deadline = time.monotonic() + 15
    while "wflo_telemetry_dropped_total" not in metrics or metrics.split("wflo_telemetry_dropped_total ")[-1].split()[0] == "0":
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
        metrics = engine.metrics_text()
engine.close()
print("OTEL-RESULT " + json.dumps({
    "face": "python",
    "package": wflo.__file__,
    "execution_id": wf.execution_id,
    "workflow": "otel-python",
    "trace_id": wf.get_trace_id(),
    "app_trace_id": format(ctx.trace_id, "032x"),
    "app_span_id": format(ctx.span_id, "016x"),
    "app_spans": [s.name for s in app_spans.get_finished_spans()],
    "asked": asked,
    "refused": len(refused),
    "alerts": [{"scope": a.scope, "kind": a.kind, "percent": a.percent, "limit_nanos": a.limit_nanos,
                "spent_nanos": a.spent_nanos} for a in alerts],
    "metrics_text": metrics,
}), flush=True)
