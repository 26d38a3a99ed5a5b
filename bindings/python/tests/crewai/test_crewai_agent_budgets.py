"""CrewAI agents and ``per_agent_budgets``, against `wflo mock-llm`: each call is charged to the
agent CrewAI names (its role), one agent whose share is spent is refused BEFORE its request while
another goes on; and the seed SDK's ``checkpoint_after_agent`` on a real Task saves the agent's
output when the task finishes."""
from __future__ import annotations

import pytest
from crewai import LLM, Agent, Crew, Task

import wflo

MODEL = "gpt-4o-mini"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def crew_of(mock, *roles: str) -> Crew:
    """One agent per role, one task each, in order: one LLM call per task."""
    llm = LLM(model=f"openai/{MODEL}", base_url=mock.openai_base("reply=8"), api_key="x", max_retries=0,
              max_tokens=50)
    agents = [Agent(role=role, goal="Write one sentence", backstory="Terse.", llm=llm, max_iter=1) for role in roles]
    tasks = [Task(description=f"Describe {{topic}} as the {a.role}.", expected_output="One sentence.", agent=a)
             for a in agents]
    return Crew(agents=agents, tasks=tasks)


async def test_one_agent_spent_its_share_another_goes_on(mock, engine):
    wf = wflo.WfloWorkflow("crew-agents", budget_usd=1, engine=engine, per_agent_budgets={"Critic": 0})
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError) as refused:
        await wf.execute(crew_of(mock, "Writer", "Critic"), {"topic": "budgets"})
    assert refused.value.scope == "agent:Critic" and refused.value.limit_nanos == 0
    assert mock.requests() - before == 1  # the writer's call only
    # The writer goes on in the same execution; the critic's share stays spent.
    await wf.execute(crew_of(mock, "Writer"), {"topic": "more budgets"})
    assert [(c["step"], c["status"]) for c in wf.calls()] == [
        ("agent:Writer", "ok"), ("agent:Critic", "refused"), ("agent:Writer", "ok")]
    steps = {s["step"]: s for s in wf.breakdown_sync()["by_step"]}
    assert steps["agent:Critic"]["budget_nanos"] == 0 and steps["agent:Writer"]["cost_nanos"] > 0
    assert wf.breakdown_sync()["reserved_nanos"] == 0


async def test_checkpoint_after_agent_on_a_crewai_task(mock, engine):
    crew = crew_of(mock, "Researcher")
    seen = []
    crew.tasks[0].callback = seen.append
    wflo.checkpoint_after_agent(crew.tasks[0], agent_name="researcher")
    wf = wflo.WfloWorkflow("crew-checkpoint", budget_usd=1, engine=engine)
    result = await wf.execute(crew, {"topic": "checkpoints"})
    assert [c["name"] for c in wf.list_checkpoints()] == ["agent_researcher"]
    state = await wf.rollback_to_last_checkpoint()
    assert state["agent"] == "researcher" and state["output"] == str(result) and "mock" in state["output"]
    assert len(seen) == 1
