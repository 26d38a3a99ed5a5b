"""Seed: "Checkpointing & Rollback — save workflow state at any point and rollback if needed"."""
import asyncio

from wflo.sdk.workflow import WfloWorkflow

# -- the seed's lines --
from wflo.sdk.decorators.checkpoint import checkpoint

@checkpoint(name="data_processed")
async def process_data(data):
    # Process data...
    processed_data = {"rows": [r.strip().lower() for r in data], "count": len(data)}
    return processed_data

@checkpoint(name="analysis_complete")
async def analyze_data(processed_data):
    # Analyze...
    analysis = {"longest": max(processed_data["rows"], key=len)}
    return analysis


async def pipeline(data):
    return await analyze_data(await process_data(data))


async def main():
    workflow = WfloWorkflow(name="checkpoints", budget_usd=1.0)
    analysis = await workflow.execute(pipeline, ["  Alpha", "BETA ", "Gamma-Delta"])
    assert analysis == {"longest": "gamma-delta"}

    # If analysis has issues, rollback to previous state
    previous_state = await workflow.rollback_to_checkpoint("data_processed")

    assert previous_state == {"rows": ["alpha", "beta", "gamma-delta"], "count": 3}, previous_state
    live = [c["name"] for c in workflow.checkpoints() if not c["superseded"]]
    assert live == ["data_processed"], live
    print(f"OK: rolled back to data_processed: {previous_state}")


asyncio.run(main())
