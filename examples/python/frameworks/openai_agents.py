"""The OpenAI Agents SDK (``openai-agents``) under a wflo budget: each model call of an agent run
is reserved before it is sent and charged to the agent that makes it (after a handoff, the agent
handed to), and an agent with a share of its own (``per_agent_budgets``) is refused, before its
request leaves, once a call could take it past that share. The README's snippet is the part
between the tour markers; bindings/python/tests/test_openai_agents.py runs this file against
``wflo mock-llm`` and checks the ledger it prints with the mock's own counts.

Run: python examples/python/frameworks/openai_agents.py
(the SDK's OpenAI client reads OPENAI_API_KEY, and OPENAI_BASE_URL if set)
"""
import asyncio
import json

from agents import set_default_openai_api

# Chat Completions, where `wflo mock-llm` can answer with the handoff (either API is metered).
set_default_openai_api("chat_completions")

# tour:start
from agents import Agent, ModelSettings, RunConfig, Runner, set_tracing_disabled

import wflo
from wflo.integrations.openai_agents import wflo_provider

set_tracing_disabled(True)  # the SDK exports traces to OpenAI unless told not to


async def main():
    billing = Agent(name="Billing", instructions="You handle refunds.", model="gpt-4o",
                    model_settings=ModelSettings(max_tokens=500))  # up to $0.005 a turn
    triage = Agent(name="Triage", instructions="Route the user.", model="gpt-4o-mini", handoffs=[billing])

    workflow = wflo.WfloWorkflow(
        "support", budget_usd="0.05", engine=wflo.Engine.open("memory://"),
        per_agent_budgets={"Billing": "0.001"},  # Billing's own share; Triage draws on the whole $0.05
    )
    config = RunConfig(model_provider=wflo_provider())  # the SDK's default provider, metered
    try:
        await workflow.execute(lambda _: Runner.run(triage, "I was charged twice, please refund me.",
                                                    run_config=config))
    except wflo.BudgetExceededError as e:
        print(f"refused before sending: {e.scope}, limit ${e.budget_usd}")
    for call in workflow.calls():
        print(call["step"], call["requested_model"], call["status"], f"${call['cost_nanos'] / 1e9:.7f}")
    # tour:end
    print(json.dumps(workflow.calls()))  # for the test


if __name__ == "__main__":
    asyncio.run(main())
