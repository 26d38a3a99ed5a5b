"""Seed: "Budget Enforcement — set strict cost limits for workflows. Execution automatically
halts if budget is exceeded." Here it halts BEFORE the call that could overspend is sent."""
import asyncio
import urllib.request
import json
import os

import wflo
from openai import AsyncOpenAI

wflo.instrument()  # meter every openai / anthropic client in the process
client = AsyncOpenAI()


def requests_served():
    base = os.environ["OPENAI_BASE_URL"].split("/mock/")[0].removesuffix("/v1")
    return json.load(urllib.request.urlopen(f"{base}/__mock/stats")).get("total", 0)


async def my_agent_workflow(inputs):
    notes = []
    for question in inputs["questions"]:
        r = await client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": question}], max_tokens=4000)
        notes.append(r.choices[0].message.content)
    return notes


inputs = {"questions": [f"Question {i}: what changed in release {i}?" for i in range(20)]}


async def main():
    # -- the seed's lines --
    from wflo.sdk.workflow import WfloWorkflow, BudgetExceededError

    workflow = WfloWorkflow(
        name="my-workflow",
        budget_usd=2.0,  # $2 maximum
    )

    before = requests_served()
    try:
        result = await workflow.execute(my_agent_workflow, inputs)
    except BudgetExceededError as e:
        print(f"Budget exceeded: ${e.spent_usd:.4f} > ${e.budget_usd:.2f}")
        # -- checks --
        b = await workflow.get_cost_breakdown()
        sent = requests_served() - before
        assert b["total_usd"] <= 2.0, b  # never over budget
        assert sent == b["calls"] and 0 < sent < 20, (sent, b)  # the refused call was never sent
        assert e.spent_usd + e.requested_usd > e.budget_usd
        print(f"OK: {sent} calls made for ${b['total_usd']:.4f}, call {sent + 1} refused before it was sent")
        return
    raise AssertionError(f"the budget should have stopped the workflow: {result!r}")


asyncio.run(main())
