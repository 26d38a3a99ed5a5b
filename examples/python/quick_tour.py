"""The quick tour from Python: start an execution, track a call, hit the budget, checkpoint,
roll back, print the breakdown. The README's Python snippet is the part between the tour
markers; the Python tests run this file against the installed wheel.

Run: python examples/python/quick_tour.py
"""
import asyncio

# tour:start
import wflo
from wflo import BudgetExceededError, WfloWorkflow


async def main():
    engine = wflo.Engine.open("memory://")
    workflow = WfloWorkflow(name="research-agent", budget_usd=0.01, engine=engine)

    async def agent(inputs):
        # Count the prompt, reserve the worst case BEFORE the request leaves the process…
        messages = [{"role": "user", "content": inputs["task"]}]
        prompt = engine.count_chat_tokens("gpt-4o-mini", messages)
        async with workflow.step("search") as search:
            with search.reserve(model="gpt-4o-mini", input_tokens=prompt.tokens, max_output_tokens=400) as call:
                # …send it, then settle with the usage the provider reported.
                settled = call.settle_json("openai_chat", '{"usage":{"prompt_tokens":21,"completion_tokens":180}}')
        print(f"call cost ${settled.cost_usd:.8f}")
        await workflow.checkpoint("searched", {"papers": ["a", "b", "c"]})

        # A call that could overspend is refused before anything is sent.
        try:
            async with workflow.step("write") as write:
                write.reserve(model="gpt-4o", input_tokens=3000, max_output_tokens=4000)
            raise AssertionError("expected a refusal")
        except BudgetExceededError as e:
            print(f"refused: needs up to ${e.requested_usd:.4f} of a ${e.budget_usd:.2f} budget")

        # Roll back to the last good state and look at where the money went.
        state = await workflow.rollback_to_checkpoint("searched")
        print(f"rolled back to {state}")
        return settled

    settled = await workflow.execute(agent, {"task": "Find three papers on BPE tokenizers."})
    b = await workflow.breakdown()
    print(f"total ${b['total_usd']:.8f} of ${b['budget_usd']}, {b['calls']} call(s), {b['refused_calls']} refused")
    # tour:end
    assert b["calls"] == 1 and b["refused_calls"] == 1 and b["reserved_nanos"] == 0, b
    assert b["total_nanos"] == settled.cost_nanos and b["status"] == "completed", b
    assert sorted(s["step"] for s in b["by_step"]) == ["search", "write"], b
    engine.close()


if __name__ == "__main__":
    asyncio.run(main())
