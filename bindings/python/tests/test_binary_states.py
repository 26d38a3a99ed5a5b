"""Binary checkpoint states from Python: bytes named by a content type, saved and returned byte
for byte beside JSON ones, and the LangGraph saver keeping LangGraph's bytes as they are."""
from __future__ import annotations

import base64
import json
import operator
import threading
import uuid
from typing import Annotated, TypedDict

import pytest

import wflo
from wflo import BinaryState, WfloWorkflow, _fast
from wflo.errors import InvalidArgumentError, NotFoundError
from wflo.integrations.langgraph import RECORD_TYPE, WfloCheckpointSaver, checkpoint_name

EVERY_BYTE = bytes(range(256))


def test_bytes_come_back_byte_for_byte_beside_json(engine):
    wf = WfloWorkflow("binary", engine=engine)
    wf.start_sync()
    wf.checkpoint_sync("plan", {"step": 1})
    info = wf.checkpoint_sync("raw", EVERY_BYTE, content_type="application/msgpack")
    assert (info["content_type"], info["state_bytes"]) == ("application/msgpack", 256)
    big = bytes(range(200)) * 512  # 100 KB, stored compressed
    wf.checkpoint_sync("big", BinaryState("image/x-test", big))
    wf.checkpoint_sync("default", bytearray(b"\x00\x01"))
    wf.checkpoint_sync("view", memoryview(b"abc"), content_type="text/plain")

    listed = {c["name"]: c.get("content_type") for c in wf.checkpoints()}
    assert listed == {"plan": None, "raw": "application/msgpack", "big": "image/x-test",
                      "default": "application/octet-stream", "view": "text/plain"}
    ids = {c["name"]: c["id"] for c in wf.checkpoints()}
    assert wf.checkpoint_state(ids["raw"]) == BinaryState("application/msgpack", EVERY_BYTE)
    assert wf.checkpoint_state(ids["big"]).data == big
    assert wf.checkpoint_state(ids["plan"]) == {"step": 1}
    assert wf.latest_checkpoint_sync() == BinaryState("text/plain", b"abc")

    back = wf.rollback_to_checkpoint_sync("raw")
    assert isinstance(back, BinaryState) and type(back.data) is bytes and back.data == EVERY_BYTE
    assert [c["superseded"] for c in wf.checkpoints()] == [False, False, True, True, True]
    assert wf.rollback_to_checkpoint_sync("plan") == {"step": 1}
    wf.end_sync()


def test_a_saves_info_is_the_librarys_own(engine):
    # A save's info is built from the library's fixed-size facts plus what the save was given;
    # it must equal, key for key, the info the library lists (its JSON) for the same checkpoint.
    wf = WfloWorkflow("save-info", engine=engine)
    wf.start_sync()
    saved = [wf.checkpoint_sync("first", {"a": "caf\u00e9"}),  # no parent yet
             wf.checkpoint_sync("bin", BinaryState("application/x-test", b"\x00" * 5000)),  # compressed
             wf.checkpoint_sync("bytes", b"\x01\x02"),  # the engine names the content type
             wf.checkpoint_sync("json", [1, 2.5, None])]
    assert saved[0]["parent_id"] is None and saved[1]["parent_id"] == saved[0]["id"]
    assert saved[1]["state_bytes"] == 5000 and saved[2]["content_type"] == "application/octet-stream"
    assert [list(s) for s in saved] == [list(c) for c in wf.checkpoints()]  # same keys, same order
    assert saved == wf.checkpoints()
    wf.end_sync()


async def test_the_async_calls_take_and_return_both_kinds(engine):
    wf = WfloWorkflow("binary-async", engine=engine)
    await wf.start()
    await wf.checkpoint("json", [1, 2])
    await wf.checkpoint("bin", b"\xff\x00", content_type="application/x-raw")
    assert await wf.latest_checkpoint() == BinaryState("application/x-raw", b"\xff\x00")
    assert await wf.rollback_to_checkpoint("bin") == BinaryState("application/x-raw", b"\xff\x00")
    assert await wf.rollback_to_checkpoint("json") == [1, 2]
    await wf.end()


@pytest.mark.parametrize("state, kwargs", [
    (b"x", {"content_type": ""}),
    (b"x", {"content_type": "two words"}),
    (b"x", {"content_type": "caf\u00e9"}),
    (b"x", {"content_type": 5}),
    ({"a": 1}, {"content_type": "application/json"}),
    (BinaryState("a/b", b"x"), {"content_type": "c/d"}),
    (BinaryState("a/b", "not bytes"), {}),
])
def test_bad_binary_states_are_refused_and_save_nothing(engine, state, kwargs):
    wf = WfloWorkflow("bad", engine=engine)
    wf.start_sync()
    wf.checkpoint_sync("kept", {"ok": True})
    with pytest.raises(InvalidArgumentError):
        wf.checkpoint_sync("bad", state, **kwargs)
    assert [c["name"] for c in wf.checkpoints()] == ["kept"]
    wf.end_sync()


def checkpoint(n, values=None, versions=None):
    return {"v": 1, "id": str(uuid.UUID(int=n)), "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": values or {}, "channel_versions": versions or {}, "versions_seen": {},
            "updated_channels": None}


def config(thread, checkpoint_id=None):
    c = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if checkpoint_id:
        c["configurable"]["checkpoint_id"] = checkpoint_id
    return c


def test_the_langgraph_saver_stores_langgraphs_bytes_as_they_are(engine):
    saver = WfloCheckpointSaver(WfloWorkflow("lg", engine=engine))
    blob = bytes(range(256)) * 40
    first = saver.put(config("t"), checkpoint(1, {"blob": blob, "text": "hi"}, {"blob": 1, "text": 1}),
                      {"source": "input", "step": -1}, {"blob": 1, "text": 1})
    saver.put_writes(first, [("text", "bye")], "task-1")
    wf = saver.workflow
    records = wf.checkpoints()
    assert {c.get("content_type") for c in records} == {RECORD_TYPE}
    # The record holds LangGraph's serialisation of the channel value, unwrapped: its bytes are
    # in the stored state as they are (no base64, no JSON around them).
    kind, packed = saver.serde.dumps_typed(blob)
    stored = wf.checkpoint_state(records[0]["id"])
    assert isinstance(stored, BinaryState) and packed in stored.data
    assert base64.b64encode(packed)[:64] not in stored.data

    fresh = WfloCheckpointSaver(WfloWorkflow.resume(wf.execution_id, engine=engine))  # nothing cached
    got = fresh.get_tuple(config("t"))
    assert got.checkpoint["channel_values"] == {"blob": blob, "text": "hi"}
    assert got.pending_writes == [("task-1", "text", "bye")]
    assert WfloCheckpointSaver.config_of(wf.latest_checkpoint_sync()) is None  # the writes record
    assert WfloCheckpointSaver.config_of(wf.checkpoint_state(records[0]["id"])) == first


def test_records_an_older_wflo_saved_as_json_still_load(engine):
    """Before binary states, a record was a JSON state with each value in base64."""
    saver = WfloCheckpointSaver(WfloWorkflow("old", engine=engine))
    wf = saver.workflow
    wf.start_sync()

    def old(value):
        kind, data = saver.serde.dumps_typed(value)
        return {"type": kind, "base64": base64.b64encode(data).decode("ascii")}

    cp = checkpoint(1, {}, {"a": 1})
    body = {k: v for k, v in cp.items() if k != "channel_values"}
    wf.checkpoint_sync(checkpoint_name("t", "", cp["id"]), {
        "langgraph": "checkpoint", "thread_id": "t", "checkpoint_ns": "", "checkpoint_id": cp["id"],
        "parent_checkpoint_id": None, "checkpoint": old(body), "metadata": old({"step": 0, "source": "input"}),
        "channels": [["a", 1, old({"nested": [1, 2]})]],
    })
    got = saver.get_tuple(config("t"))
    assert got.checkpoint["channel_values"] == {"a": {"nested": [1, 2]}} and got.metadata["step"] == 0
    # A new checkpoint on top of the old one is binary, and takes the old one's values.
    saver.put(got.config, checkpoint(2, {"b": 2}, {"a": 1, "b": 1}), {"step": 1}, {"b": 1})
    assert saver.get_tuple(config("t")).checkpoint["channel_values"] == {"a": {"nested": [1, 2]}, "b": 2}
    saver.copy_thread("t", "copy")  # copies the old JSON record's values into a binary one
    assert saver.get_tuple(config("copy")).checkpoint["channel_values"] == {"a": {"nested": [1, 2]}, "b": 2}
    assert json.dumps([c.get("content_type") for c in wf.checkpoints()]) == json.dumps(
        [None, RECORD_TYPE, RECORD_TYPE, RECORD_TYPE])


def test_records_an_older_python_saver_packed_with_msgpack_still_load(engine):
    """The Python saver once packed its records with msgpack itself; the engine reads them (and
    the channel versions from LangGraph's msgpack of the checkpoint: those records had none)."""
    import ormsgpack

    saver = WfloCheckpointSaver(WfloWorkflow("packed", engine=engine))
    wf = saver.workflow
    wf.start_sync()
    cp = checkpoint(1, {}, {"a": "1.0", "b": "1.0"})
    body = {k: v for k, v in cp.items() if k != "channel_values"}
    dump = saver.serde.dumps_typed
    old = "application/vnd.wflo.langgraph.v1+msgpack"
    wf.checkpoint_sync(checkpoint_name("t/1", "", cp["id"]), BinaryState(old, ormsgpack.packb({
        "langgraph": "checkpoint", "thread_id": "t/1", "checkpoint_ns": "", "checkpoint_id": cp["id"],
        "parent_checkpoint_id": None, "checkpoint": dump(body), "metadata": dump({"step": 0, "source": "input"}),
        "channels": [["a", "1.0", dump([1, "x"])], ["b", "1.0", None]]})))
    wf.checkpoint_sync("langgraph-writes/t%2F1//" + cp["id"], BinaryState(old, ormsgpack.packb({
        "langgraph": "writes", "thread_id": "t/1", "checkpoint_ns": "", "checkpoint_id": cp["id"],
        "task_id": "k", "task_path": "", "writes": [[0, "a", dump("w")]]})))
    got = saver.get_tuple(config("t/1"))
    assert got.checkpoint["channel_values"] == {"a": [1, "x"]} and got.metadata["step"] == 0
    assert got.pending_writes == [("k", "a", "w")]
    saver.prune(["t/1"])  # nothing to delete: the lone checkpoint is the latest
    saver.copy_thread("t/1", "copy")
    assert saver.get_tuple(config("copy")).checkpoint["channel_values"] == {"a": [1, "x"]}


def test_a_damaged_record_is_a_storage_error_and_loses_nothing(engine):
    saver = WfloCheckpointSaver(WfloWorkflow("damaged", engine=engine))
    first = saver.put(config("t"), checkpoint(1, {"a": 1}, {"a": 1}), {"step": 0}, {"a": 1})
    wf = saver.workflow
    wf.checkpoint_sync(checkpoint_name("t", "", checkpoint(2)["id"]), BinaryState(RECORD_TYPE, b"\x00\x00\x00\x09{"))
    with pytest.raises(wflo.StorageError):
        saver.get_tuple(config("t"))
    assert saver.get_tuple(first).checkpoint["channel_values"] == {"a": 1}


@pytest.fixture(params=["request-object", "objects", "out-parameters"])
def langgraph_path(request, monkeypatch):
    """Each way the library answers the saver: the request handed over as its dict and
    encoded in the library, the answer made of Python objects there (CPython with the GIL); the
    request's JSON text made first; and the C ABI's out-parameters (other Pythons)."""
    if request.param == "request-object":
        assert _fast.langgraph_request is not _fast._langgraph_request_text, "CPython must hand over the dict"
    else:
        monkeypatch.setattr(_fast, "langgraph_request", _fast._langgraph_request_text)
    if request.param == "objects":
        assert _fast.langgraph_call is not _fast._langgraph_out, "CPython with the GIL must take the objects path"
    elif request.param == "out-parameters":
        monkeypatch.setattr(_fast, "langgraph_call", _fast._langgraph_out)
    return request.param


def test_a_request_the_library_declines_to_encode_is_encoded_by_python(monkeypatch):
    """A request holding what libwflo's encoder declines (an int beyond 64 bits) goes through
    json.dumps and the text call: the same answer or error as that path gives it directly."""
    texts = []
    text_call = _fast.langgraph_call
    monkeypatch.setattr(_fast, "langgraph_call", lambda *a: texts.append(a[2]) or text_call(*a))
    saver = WfloCheckpointSaver()
    with pytest.raises(InvalidArgumentError):
        saver.get_next_version(2**70)
    assert texts == [b'{"op": "next_version", "current": 1180591620717411303424}']
    texts.clear()
    assert saver.get_next_version(5).startswith("0" * 31 + "6.")
    assert texts == []  # an encodable request takes the one call


def test_the_saver_answers_alike_either_way(engine, langgraph_path):
    saver = WfloCheckpointSaver(WfloWorkflow("paths", engine=engine))
    blob = bytes(range(256))
    first = saver.put(config("t"), checkpoint(1, {"blob": blob}, {"blob": 1}), {"step": 0}, {"blob": 1})
    saver.put_writes(first, [("blob", b"w"), ("__error__", "e")], "task")
    second = saver.put(first, checkpoint(2, {"n": 2}, {"blob": 1, "n": 1}), {"step": 1}, {"n": 1})
    got = saver.get_tuple(config("t"))
    assert got.config == second and got.parent_config == first
    assert got.checkpoint["channel_values"] == {"blob": blob, "n": 2}
    assert saver.get_tuple(first).pending_writes == [("task", "__error__", "e"), ("task", "blob", b"w")]
    assert [t.config for t in saver.list(config("t"))] == [second, first]
    assert WfloCheckpointSaver.config_of(wf_state := saver.workflow.latest_checkpoint_sync()) == second, wf_state
    with pytest.raises(InvalidArgumentError):
        saver.put(config("t"), {**checkpoint(3), "id": ""}, {}, {})


def test_channel_versions_are_cores_unique_across_branches(langgraph_path):
    saver = WfloCheckpointSaver()  # versions need no workflow
    number = lambda v: int(v.split(".")[0])  # noqa: E731
    first = saver.get_next_version(None)
    head, _, tail = first.partition(".")
    assert (len(head), len(tail), number(first)) == (32, 16, 1) and tail.isdigit(), first
    second = saver.get_next_version(first, None)
    assert number(second) == 2 and second > first  # sorted by their number as strings
    assert number(saver.get_next_version(41)) == 42
    assert number(saver.get_next_version(f"{12:032}.0.8437112030415227")) == 13  # LangGraph's in-memory form
    branches = {saver.get_next_version(second) for _ in range(50)}
    assert len(branches) == 50 and {number(v) for v in branches} == {3}
    for bad in ("x", "", "-1.5", -1, 2.5, True, [1]):
        with pytest.raises(InvalidArgumentError):
            saver.get_next_version(bad)


@pytest.fixture(params=["objects", "out-parameters"])
def since_path(request, monkeypatch):
    """Each way the library answers checkpoints_since(_with_state): with the Python objects made
    by the library (CPython with the GIL: what runs here), or through out-parameters (any other
    Python)."""
    if request.param == "objects":
        assert _fast._since is not _fast._since_out, "CPython with the GIL must take the objects path"
    else:
        monkeypatch.setattr(_fast, "_since", _fast._since_out)
    return request.param


def test_checkpoints_after_a_sequence_and_the_rollbacks_so_far(engine, since_path):
    wf = WfloWorkflow("since", engine=engine)
    wf.start_sync()
    for i in range(1, 5):
        wf.checkpoint_sync(f"c{i}", {"i": i})
    assert [c["name"] for c in wf.checkpoints(after_sequence=2)] == ["c3", "c4"]
    assert wf.checkpoints_since(4) == ([], 0)
    wf.rollback_to_checkpoint_sync("c2")
    since, rollbacks = wf.checkpoints_since(1)
    assert rollbacks == 1 and [c["superseded"] for c in since] == [False, True, True]
    for bad in (-1, "1", True, 2**64):
        with pytest.raises(InvalidArgumentError):
            wf.checkpoints(after_sequence=bad)
    wf.end_sync()


def test_checkpoints_since_with_a_state_in_one_call(engine, since_path):
    """What a reader keeping an index loads with: the checkpoints since a sequence, the
    rollbacks so far and one state, equal to the separate calls; a state of either kind."""
    wf = WfloWorkflow("since-with-state", engine=engine)
    wf.start_sync()
    ids = [wf.checkpoint_sync("json", {"i": 1})["id"],
           wf.checkpoint_sync("bin", BinaryState("application/x-test", b"\x00\xffbytes"))["id"]]
    wf.rollback_to_checkpoint_sync("json")
    wf.checkpoint_sync("after", {"i": 3})
    for after in (0, 1, 3):
        for cid in ids:
            assert wf.checkpoints_since_with_state(after, cid) == (*wf.checkpoints_since(after), wf.checkpoint_state(cid))
    assert wf.checkpoints_since_with_state(3, ids[1]) == ([], 1, BinaryState("application/x-test", b"\x00\xffbytes"))
    with pytest.raises(NotFoundError):
        wf.checkpoints_since_with_state(0, ids[1] + 1000)
    for bad in (-1, True):
        with pytest.raises(InvalidArgumentError):
            wf.checkpoints_since_with_state(bad, ids[0])
        with pytest.raises(InvalidArgumentError):
            wf.checkpoints_since_with_state(0, bad)
    wf.end_sync()


def test_checkpoints_since_with_a_state_from_threads_while_saving(engine):
    """The library reads the store with the interpreter lock released: reader threads and a
    saving thread run at once, and every read is whole and current up to what it lists."""
    wf = WfloWorkflow("since-threads", engine=engine)
    wf.start_sync()
    first = wf.checkpoint_sync("first", BinaryState("application/x-test", b"\x01" * 3000))["id"]
    failures = []

    def read():
        try:
            seen = 0
            for _ in range(300):
                listed, rollbacks, state = wf.checkpoints_since_with_state(0, first)
                assert state == BinaryState("application/x-test", b"\x01" * 3000) and rollbacks == 0
                assert [c["sequence"] for c in listed] == list(range(1, len(listed) + 1))
                assert len(listed) >= seen
                seen = len(listed)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for i in range(200):
        wf.checkpoint_sync(f"step-{i}", {"i": i})
    for t in readers:
        t.join()
    assert failures == []
    assert len(wf.checkpoints_since_with_state(0, first)[0]) == 201
    wf.end_sync()


class AgentState(TypedDict):
    documents: dict
    messages: Annotated[list, operator.add]
    step: int


def test_a_graph_run_stores_a_channel_set_once_and_resumes_through_a_new_saver(engine):
    """A real LangGraph run: documents set at the first step, a message added at every step.
    Each later checkpoint's record stores only the messages and names the checkpoint holding
    the documents (core's `elsewhere`); a new saver resumes the thread, history included."""
    from langgraph.graph import END, START, StateGraph

    documents = {"docs": [{"id": i, "text": f"document {i} " * 20} for i in range(40)]}

    def retrieve(state: AgentState) -> dict:
        return {"documents": documents, "messages": ["question"], "step": 0}

    def think(state: AgentState) -> dict:
        return {"messages": [f"thought {state['step']}"], "step": state["step"] + 1}

    g = StateGraph(AgentState)
    g.add_node("retrieve", retrieve)
    g.add_node("think", think)
    g.add_edge(START, "retrieve")
    g.add_edge("retrieve", "think")
    g.add_conditional_edges("think", lambda s: END if s["step"] >= 6 else "think")
    saver = WfloCheckpointSaver(WfloWorkflow("graph", engine=engine))
    run = {"configurable": {"thread_id": "run-1"}}
    final = g.compile(checkpointer=saver).invoke({"messages": [], "step": 0}, run, durability="sync")
    assert final["documents"] == documents and final["step"] == 6

    wf = saver.workflow
    headers = []
    for c in wf.checkpoints():
        if c["name"].startswith("langgraph/"):
            data = wf.checkpoint_state(c["id"]).data
            size = int.from_bytes(data[:4], "big")
            headers.append(json.loads(data[4:4 + size]))
    with_documents = [h for h in headers if any(ch[0] == "documents" for ch in h["channels"])]
    assert len(with_documents) == 1  # stored once, by the step that set them
    holder = with_documents[0]["checkpoint_id"]
    later = [h for h in headers if h["checkpoint_id"] > holder]
    assert len(later) == 6
    for h in later:
        assert ["documents", holder] in h["elsewhere"], h
        assert "documents" not in [ch[0] for ch in h["channels"]]

    fresh = WfloCheckpointSaver(WfloWorkflow.resume(wf.execution_id, engine=engine))  # nothing cached
    app = g.compile(checkpointer=fresh)
    assert app.get_state(run).values == final
    history = list(app.get_state_history(run))
    assert [s.values.get("step") for s in history][:7] == [6, 5, 4, 3, 2, 1, 0]
    assert all(s.values["documents"] == documents for s in history[:7])
