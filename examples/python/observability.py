"""What wflo tells a Python host while it runs: budget alerts, the trace an execution belongs
to, the Prometheus metrics text and the engine's events on the ``wflo`` logger. The README's
snippet is the part between the tour markers; the Python tests run this file.

Run: python examples/python/observability.py
"""
# tour:start
import logging

import wflo


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    wflo.log_events("info")  # or WFLO_LOG=info in the environment; silent by default
    engine = wflo.Engine.open("memory://")
    workflow = wflo.WfloWorkflow(
        name="research-agent", budget_usd="0.01", engine=engine,
        alert_thresholds=[50, 80], soft_budget_usd="0.006",  # default thresholds: 50, 80, 95
        on_threshold=lambda alert: print(f"alert: {alert}"),
        # traceparent="00-…": join a given trace; by default the current OpenTelemetry span's
    )

    def agent(_):
        for _ in range(4):  # $0.00225 a call: 22.5%, 45%, 67.5% (50% and the soft budget), 90%
            with workflow.reserve(model="gpt-4o", input_tokens=100, max_output_tokens=200) as call:
                call.settle(wflo.Usage(input=100, output=200))

    workflow.execute_sync(agent)
    print(f"trace {workflow.get_trace_id()}")
    for line in engine.metrics_text().splitlines():  # serve it on your own /metrics
        if line.startswith(("wflo_cost_usd_total{", "wflo_alerts_total{")):
            print(line)
# tour:end
    engine.close()


if __name__ == "__main__":
    main()
