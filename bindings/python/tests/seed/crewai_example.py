"""Seed: "Multi-Framework Support — CrewAI ... Automatically detects CrewAI crew, tracks costs"."""
import asyncio
import os

from wflo.sdk.workflow import WfloWorkflow


async def main():
    # -- the seed's lines --
    from crewai import Agent, Task, Crew, LLM

    llm = LLM(model="openai/gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], api_key="mock", max_tokens=300)
    writer = Agent(role="Writer", goal="Write one crisp sentence", backstory="A terse technical writer.", llm=llm)
    task = Task(description="Describe what a token budget is.", expected_output="One sentence.", agent=writer)
    crew = Crew(agents=[writer], tasks=[task])

    workflow = WfloWorkflow(name="crewai-workflow", budget_usd=10.0)
    result = await workflow.execute(crew, {})
    # Automatically detects CrewAI crew, tracks costs

    b = await workflow.get_cost_breakdown()
    assert str(result) and b["calls"] >= 1 and b["total_usd"] > 0, b
    print(f"OK: crew made {b['calls']} call(s) for ${b['total_usd']:.6f}")


asyncio.run(main())
