"""Resource locks and approval gates from Python: three agents share a rate-limited tool two at a
time, and a workflow waits for a person before it publishes. Both live in the engine's store,
so other processes on it share the tool's slots and can decide the gate (`wflo approve ID`).
The README's snippet is the part between the tour markers; the Python tests run this file.

Run: python examples/python/gates.py
"""
# tour:start
import asyncio

import wflo
from wflo.resilience import ResourceLock


async def main():
    engine = wflo.Engine.open("memory://")  # a SQLite or PostgreSQL store shares across processes
    tool = ResourceLock("search-tool", max_concurrent=2, timeout=5.0, engine=engine)

    async def agent(name):
        async with tool.acquire(workflow_id=name):  # the wait leaves the event loop free
            await asyncio.sleep(0.02)

    await asyncio.gather(*(agent(f"agent-{n}") for n in range(3)))
    stats = tool.get_stats()
    print(f"{stats['total_acquisitions']} acquisitions, holders now {stats['current_holders']}")

    wf = wflo.WfloWorkflow("newsletter", budget_usd="1.00", engine=engine)

    async def reviewer():  # a person, here another task; `wflo approve ID` from a shell does the same
        while not (pending := wflo.approvals(engine=engine)):
            await asyncio.sleep(0.01)
        print(f"asked: {pending[0].what} ({pending[0].why}, up to ${pending[0].worst_case_usd})")
        wflo.approve(pending[0].id, note="copy checked", by="ana", engine=engine)

    review = asyncio.create_task(reviewer())
    approval = await wf.require_approval("publish", why="emails customers", worst_case_usd="0.25")
    await review
    print(f"{approval.gate}: {approval.status} by {approval.decided_by} ({approval.note})")
    # tour:end
    engine.close()


if __name__ == "__main__":
    asyncio.run(main())
