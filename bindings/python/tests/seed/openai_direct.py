"""Seed: "Multi-Framework Support — OpenAI Direct"."""
import asyncio

import wflo
from openai import AsyncOpenAI
from wflo.sdk.workflow import WfloWorkflow

wflo.instrument()
client = AsyncOpenAI()


async def main():
    # -- the seed's lines --
    async def my_openai_workflow(inputs):
        # Your OpenAI calls...
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": inputs["prompt"]}], max_tokens=300, stream=True)
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

    workflow = WfloWorkflow(name="openai-workflow", budget_usd=1.0)
    result = await workflow.execute(my_openai_workflow, {"prompt": "..."})

    [call] = workflow.calls()
    assert result and call["stream"] and not call["estimated"] and call["cost_nanos"] > 0, call
    print(f"OK: streamed call metered from its usage: {call['usage']} = ${call['cost_nanos'] / 1e9:.6f}")


asyncio.run(main())
