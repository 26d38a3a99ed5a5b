"""WfloCheckpointSaver: LangGraph's checkpointer conformance suite (async methods), the sync
methods it does not exercise, and real graphs — interrupted and resumed, resumed from another
engine, and rolled back with `workflow.rollback_to_checkpoint`."""
from __future__ import annotations

import tempfile
import uuid

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

import wflo
from lc_support import chat, completions, graph_of
from wflo import WfloWorkflow
from wflo.integrations.langgraph import WfloCheckpointSaver


@checkpointer_test(name="WfloCheckpointSaver")
async def fresh_saver():
    with tempfile.TemporaryDirectory() as tmp:
        engine = wflo.Engine.open(f"{tmp}/wflo.db")
        yield WfloCheckpointSaver(engine=engine)
        engine.close()


async def test_conformance_every_capability_passes():
    report = await validate(fresh_saver)
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert failures == {}
    assert report.passed_all_base() and report.passed_all()
    assert set(report.results) == {c.value for c in ALL_CAPABILITIES}
    assert all(r.detected and r.passed and r.tests_skipped == 0 for r in report.results.values())
    assert sum(r.tests_passed for r in report.results.values()) >= 80


def config(thread, checkpoint_id=None, ns=""):
    c = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
    if checkpoint_id:
        c["configurable"]["checkpoint_id"] = checkpoint_id
    return c


def checkpoint(n, values=None, versions=None):
    return {"v": 1, "id": str(uuid.UUID(int=n)), "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": values or {}, "channel_versions": versions or {}, "versions_seen": {},
            "updated_channels": None}


def test_the_sync_methods(engine):
    saver = WfloCheckpointSaver(WfloWorkflow("sync", engine=engine))
    first = saver.put(config("t"), checkpoint(1, {"a": 1, "b": [2]}, {"a": 1, "b": 1}),
                      {"source": "input", "step": -1, "run_id": "r1"}, {"a": 1, "b": 1})
    second = saver.put(config("t", first["configurable"]["checkpoint_id"]), checkpoint(2, {"a": 5, "b": [2]},
                       {"a": 2, "b": 1}), {"source": "loop", "step": 0, "run_id": "r2"}, {"a": 2})
    saver.put_writes(second, [("a", 6), ("b", [7])], "task-1", "p")
    saver.put_writes(second, [("a", 6)], "task-1", "p")  # the same (task, idx): kept once

    latest = saver.get_tuple(config("t"))
    assert latest.config == second and latest.parent_config["configurable"]["checkpoint_id"] == str(uuid.UUID(int=1))
    assert latest.checkpoint["channel_values"] == {"a": 5, "b": [2]}  # b from the parent
    assert latest.pending_writes == [("task-1", "a", 6), ("task-1", "b", [7])]
    assert saver.get_tuple(first).checkpoint["channel_values"] == {"a": 1, "b": [2]}
    assert [t.metadata["step"] for t in saver.list(config("t"))] == [0, -1]
    assert [t.metadata["step"] for t in saver.list(None, filter={"source": "input"})] == [-1]
    assert [t.metadata["step"] for t in saver.list(config("t"), before=second)] == [-1]
    assert len(list(saver.list(config("t"), limit=1))) == 1

    saver.copy_thread("t", "copy")
    assert saver.get_tuple(config("copy")).checkpoint["channel_values"] == {"a": 5, "b": [2]}
    saver.prune(["copy"], strategy="keep_latest")
    assert [t.checkpoint["channel_values"] for t in saver.list(config("copy"))] == [{"a": 5, "b": [2]}]
    saver.delete_for_runs(["r2"])  # in every thread: the copy's checkpoint came from run r2 too
    assert [t.metadata["run_id"] for t in saver.list(config("t"))] == ["r1"]
    assert list(saver.list(config("copy"))) == []
    saver.copy_thread("t", "other")
    saver.delete_thread("t")
    assert saver.get_tuple(config("t")) is None and list(saver.list(config("t"))) == []
    assert saver.get_tuple(config("other")).checkpoint["channel_values"] == {"a": 1, "b": [2]}  # untouched

    names = [c["name"] for c in saver.workflow.checkpoints()]
    assert names[0] == f"langgraph/t//{uuid.UUID(int=1)}" and "langgraph-delete/t" in names


def test_a_rollback_undoes_the_writes_of_the_checkpoint_rolled_back_to(engine):
    wf = WfloWorkflow("undo", engine=engine)
    saver = WfloCheckpointSaver(wf)
    first = saver.put(config("t"), checkpoint(1), {"step": 0}, {})
    # LangGraph saves a checkpoint in the background while its tasks already write to it.
    saver.put_writes(config("t", str(uuid.UUID(int=2))), [("x", 1)], "early")
    second = saver.put(first, checkpoint(2), {"step": 1}, {})
    saver.put_writes(second, [("y", 2)], "late")
    assert [w[0] for w in saver.get_tuple(second).pending_writes] == ["early", "late"]  # as on a resume

    wf.rollback_to_checkpoint_sync(saver.checkpoint_name(second))
    assert saver.get_tuple(config("t")).pending_writes == []  # its tasks run again
    saver.put_writes(second, [("z", 3)], "again")
    assert saver.get_tuple(config("t")).pending_writes == [("again", "z", 3)]

    wf.rollback_to_checkpoint_sync(saver.checkpoint_name(first))
    assert saver.get_tuple(config("t")).config == first
    assert [t.config for t in saver.list(config("t"))] == [first]
    assert saver.get_tuple(second).config == second  # history, fetched by its id


def test_without_a_workflow_the_saver_says_so():
    with pytest.raises(wflo.InvalidArgumentError, match="no workflow"):
        WfloCheckpointSaver().put(config("t"), checkpoint(1), {}, {})


def test_a_sync_graph_is_interrupted_and_resumed(engine, mock):
    wf = WfloWorkflow("interrupt", budget_usd=1, engine=engine)
    graph = graph_of(chat(mock, "reply=2"), chat(mock, "reply=3"), checkpointer=WfloCheckpointSaver(wf),
                     interrupt_before=["ask1"])
    thread = config("interrupted")

    def agent(question):
        graph.invoke({"question": question}, thread)
        paused = graph.get_state(thread)
        assert paused.next == ("ask1",) and len(paused.values["answers"]) == 1
        return graph.invoke(None, thread)

    state = wf.execute_sync(agent, "hello")
    assert [len(a.split()) for a in state["answers"]] == [2, 3]
    assert len(wf.calls()) == 2
    assert all(c["name"].startswith("langgraph") for c in wf.checkpoints())
    history = list(graph.get_state_history(thread))  # after the execution: its checkpoints are kept
    assert len(history) >= 4 and history[0].values["answers"] == state["answers"]


async def test_rollback_continues_the_graph_from_the_checkpoint_rolled_back_to(engine, mock):
    wf = WfloWorkflow("rollback", budget_usd=1, engine=engine)
    saver = WfloCheckpointSaver()
    graph = graph_of(chat(mock, "reply=2"), chat(mock, "reply=4"), checkpointer=saver)
    thread = config("rolled")

    async def agent(question):
        await graph.ainvoke({"question": question}, thread)
        history = [s async for s in graph.aget_state_history(thread)]
        after_first = next(s for s in history if s.next == ("ask1",))
        state = await wf.rollback_to_checkpoint(saver.checkpoint_name(after_first.config))
        assert WfloCheckpointSaver.config_of(state) == after_first.config

        rolled = await graph.aget_state(thread)
        assert rolled.config == after_first.config and rolled.next == ("ask1",)
        assert len(rolled.values["answers"]) == 1
        assert [s.config for s in [x async for x in graph.aget_state_history(thread)]] == \
            [s.config for s in history if s.config["configurable"]["checkpoint_id"]
             <= after_first.config["configurable"]["checkpoint_id"]]
        superseded = await saver.aget_tuple(history[0].config)  # fetched by id: still there
        assert len(superseded.checkpoint["channel_values"]["answers"]) == 2

        before = completions(mock)
        final = await graph.ainvoke(None, thread)  # runs ask1 again, not ask0
        assert completions(mock) == before + 1
        return final

    final = await wf.execute(agent, "hello")
    assert [len(a.split()) for a in final["answers"]] == [2, 4]
    assert len(wf.calls()) == 3 and len(engine.execution(wf.execution_id)["rollbacks"]) == 1


async def test_a_resumed_execution_sees_the_graph_where_it_was(tmp_path, mock):
    url = str(tmp_path / "resume.db")
    with wflo.Engine.open(url) as first_engine:
        wf = WfloWorkflow("before-crash", budget_usd=1, engine=first_engine)
        graph = graph_of(chat(mock, "reply=2"), chat(mock, "reply=3"), checkpointer=WfloCheckpointSaver(),
                         interrupt_before=["ask1"])  # the saver uses the running workflow
        await wf.execute(graph, {"question": "hello"}, config=config("resumed"))
        execution_id = wf.execution_id

    with wflo.Engine.open(url) as engine:  # as another process would
        resumed = WfloWorkflow.resume(execution_id, engine=engine)
        graph = graph_of(chat(mock, "reply=2"), chat(mock, "reply=3"), checkpointer=WfloCheckpointSaver(resumed))
        assert (await graph.aget_state(config("resumed"))).next == ("ask1",)
        final = await resumed.execute(graph, None, config=config("resumed"))
        assert [len(a.split()) for a in final["answers"]] == [2, 3]
        assert [c["usage"]["output"] for c in resumed.calls()] == [2, 3]  # one bill


def test_the_kept_index_follows_saves_rollbacks_and_prunes_made_elsewhere(engine):
    """The saver brings its index up to date with what was saved since it last looked; a
    rollback made by someone else is seen too."""
    wf = WfloWorkflow("kept", engine=engine)
    saver, other = WfloCheckpointSaver(wf), WfloCheckpointSaver(wf)
    first = saver.put(config("t"), checkpoint(1, {"a": 1}, {"a": 1}), {"step": 0}, {"a": 1})
    assert saver.get_tuple(config("t")).config == first
    second = other.put(first, checkpoint(2, {"a": 2}, {"a": 2}), {"step": 1}, {"a": 2})
    assert saver.get_tuple(config("t")).config == second  # saved by another saver, seen
    wf.rollback_to_checkpoint_sync(WfloCheckpointSaver.checkpoint_name(first))
    assert saver.get_tuple(config("t")).config == first  # the rollback made the second history
    third = other.put(first, checkpoint(3, {"a": 3}, {"a": 3}), {"step": 1}, {"a": 3})
    assert [t.config for t in saver.list(config("t"))] == [third, first]
    assert saver.get_tuple(config("t")).checkpoint["channel_values"] == {"a": 3}
    assert saver.get_tuple(second).config == second  # history, still fetched by its id


def test_a_load_through_an_out_of_date_index_returns_what_is_current(engine):
    """A reader reads the record its kept index names in the call that also tells it what was
    saved since; when its index was out of date it picks again and returns the current record,
    not the one read along."""
    wf = WfloWorkflow("stale", engine=engine)
    writer, reader = WfloCheckpointSaver(wf), WfloCheckpointSaver(wf)
    first = writer.put(config("t"), checkpoint(1, {"a": 1}, {"a": 1}), {"step": 0}, {"a": 1})
    assert reader.get_tuple(config("other")) is None  # the reader's index now knows `first`, unread
    second = writer.put(first, checkpoint(2, {"a": 2}, {"a": 2}), {"step": 1}, {"a": 2})
    latest = reader.get_tuple(config("t"))  # its index said `first` is the latest
    assert latest.config == second and latest.checkpoint["channel_values"] == {"a": 2}
    assert latest.parent_config == first
    # The same checkpoint put again: its newest record stands for it.
    writer.put(config("t"), checkpoint(1, {"a": 10}, {"a": 1}), {"step": 7}, {"a": 1})
    again = reader.get_tuple(first)  # its index named the first record of `first`
    assert again.metadata["step"] == 7 and again.checkpoint["channel_values"] == {"a": 10}
    assert reader.get_tuple(first).metadata["step"] == 7  # and now from what it kept
