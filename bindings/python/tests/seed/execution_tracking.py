"""Seed: "Execution Tracking — every workflow execution gets a unique ID"."""
import asyncio
import os
import re
import sqlite3

import wflo
from openai import AsyncOpenAI
from wflo.sdk.workflow import WfloWorkflow

wflo.instrument()
client = AsyncOpenAI()


async def my_workflow(inputs):
    for topic in inputs["topics"]:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"One fact about {topic}."}], max_tokens=100)


inputs = {"topics": ["tokenizers", "budgets", "checkpoints"]}


async def main():
    workflow = WfloWorkflow(name="tracked", budget_usd=0.5)
    # -- the seed's lines --
    result = await workflow.execute(my_workflow, inputs)

    # Get execution ID
    execution_id = workflow.execution_id  # e.g., "exec-a1b2c3d4e5f6"

    # Get cost breakdown
    breakdown = await workflow.get_cost_breakdown()
    print(f"Total: ${breakdown['total_usd']:.4f}")
    print(f"Budget: ${breakdown['budget_usd']:.2f}")
    print(f"Remaining: ${breakdown['remaining_usd']:.4f}")

    # Query database for full execution details
    # SELECT * FROM workflow_executions WHERE id = execution_id;
    assert re.fullmatch(r"exec-[0-9a-f]{12}", execution_id), execution_id
    assert breakdown["calls"] == 3 and breakdown["total_usd"] > 0
    path = os.environ["WFLO_DATABASE_URL"].removeprefix("sqlite://")
    wflo.get_default_engine().flush()
    row = sqlite3.connect(path).execute(
        "SELECT name, status FROM workflow_executions WHERE id = ?", (execution_id,)).fetchone()
    assert row == ("tracked", "completed"), row
    print(f"OK: {execution_id} is in workflow_executions: {row}")


asyncio.run(main())
