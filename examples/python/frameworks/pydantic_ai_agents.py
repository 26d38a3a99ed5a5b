"""Pydantic AI under a wflo budget: the WfloCapability meters every model request of the
agents it is given to — reserved before the request is sent, settled from the usage the
response reports — and charges it to the agent by name, so each agent spends only its share.
(Not named pydantic_ai.py: run as a script, that name would shadow the package it imports.)

Run against a local mock (the Python tests do): start `wflo mock-llm --port 8787`, then
    WFLO_OPENAI_BASE_URL=http://127.0.0.1:8787/v1 python examples/python/frameworks/pydantic_ai_agents.py
"""
import asyncio
import os

# tour:start
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

import wflo
from wflo.integrations.pydantic_ai import WfloCapability


async def main(base_url: str) -> None:
    engine = wflo.Engine.open("memory://")
    workflow = wflo.WfloWorkflow("haiku-desk", budget_usd=0.05, engine=engine,
                                 per_agent_budgets={"critic": 0.00002})  # the critic's own share
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=base_url, api_key="sk-..."))
    writer = Agent(model, name="writer", instructions="Be brief.", capabilities=[WfloCapability()])
    critic = Agent(model, name="critic", capabilities=[WfloCapability()])

    async def desk(_):
        draft = await writer.run("A haiku about budgets.")
        try:  # its worst case does not fit its share: refused before anything is sent
            await critic.run(f"Critique: {draft.output}")
        except wflo.BudgetExceededError as e:
            print(f"critic refused: needs up to ${e.requested_usd:.6f}")
        async with writer.run_stream("One more line.") as streamed:  # settled once, at its end
            await streamed.get_output()

    await workflow.execute(desk)
    for call in workflow.calls():
        print(call["step"], call["status"], f"${call['cost_nanos'] / 1e9:.8f}")
# tour:end


if __name__ == "__main__":
    asyncio.run(main(os.environ["WFLO_OPENAI_BASE_URL"]))
