"""Seed: "LLM Call Tracking — automatic token counting and cost calculation"."""
import asyncio

import wflo
from openai import AsyncOpenAI
from wflo.sdk.workflow import WfloWorkflow

client = AsyncOpenAI()

# -- the seed's lines --
from wflo.sdk.decorators.track_llm import track_llm_call

@track_llm_call(model="gpt-4")
async def my_llm_function(prompt: str):
    response = await client.chat.completions.create(
        model="gpt-4",
        messages=[{"role": "user", "content": prompt}],
    )
    return response
# Tokens and cost automatically tracked!


async def main():
    workflow = WfloWorkflow(name="tracking", budget_usd=5.0)
    response = await workflow.execute(my_llm_function, "Explain BPE tokenization in two sentences.")
    b = await workflow.get_cost_breakdown()
    u = response.usage
    want = wflo.cost_usd("gpt-4", input=u.prompt_tokens, output=u.completion_tokens)
    assert b["calls"] == 1 and abs(b["total_usd"] - want) < 1e-12, (b, want)
    print(f"OK: {u.prompt_tokens} + {u.completion_tokens} tokens on gpt-4 = ${b['total_usd']:.6f}")


asyncio.run(main())
