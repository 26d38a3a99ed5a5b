"""wflo for LangGraph: a checkpoint saver that keeps a graph's checkpoints in wflo's store, as
checkpoints of a wflo execution — so a graph's state and what it cost live in one place, a run
resumed in another process (``WfloWorkflow.resume``) continues where it was, and
``workflow.rollback_to_checkpoint(name)`` rolls the graph back too.

What is stored, which record is live, which writes are pending and where a channel's value
comes from are decided in the engine, once for every language (``wflo_core::langgraph``; its
docs give the record layout and names): this saver turns LangGraph's objects into its
serializer's ``(type, bytes)`` (``serde.dumps_typed``) and back, and makes one call into the
library per operation. LangGraph's bytes are stored as they are, never in base64 or JSON; records
earlier versions saved (msgpack, or JSON with base64 values) still load, and so do those of the
LangGraph.js saver — both savers read and write one layout.

How LangGraph's records map onto wflo (all checkpoints of ONE execution)::

    LangGraph                           wflo checkpoint name                  record
    checkpoint (thread, ns, id)         langgraph/<thread>/<ns>/<id>          checkpoint, metadata, parent id,
                                                                              changed channels, channel versions
    put_writes (thread, ns, id, task)   langgraph-writes/<thread>/<ns>/<id>   task id and path, writes
    delete_thread / delete_for_runs /   langgraph-delete/<thread>             a tombstone: the thread, or
    prune                                                                     some of its checkpoints

A checkpoint stores only the channels whose version changed (``new_versions``); loading one walks
its parent chain for the rest. wflo checkpoints are append-only and the newest record of a name
wins. A wflo rollback marks every later checkpoint superseded; superseded LangGraph checkpoints
and writes are history — not listed, not latest, not pending — so after
``rollback_to_checkpoint(name)`` the graph continues from the checkpoint rolled back to (one
fetched by its id is still returned). Deleting writes a tombstone; what it covers stays deleted,
even after a rollback (the store keeps the bytes: wflo never rewrites an execution's history).

Threads live in ONE execution: a later ``workflow.execute`` starts a new execution, with no
threads yet. To continue a thread, continue its execution (``WfloWorkflow.resume(id)``).
"""
from __future__ import annotations

import asyncio
import weakref
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Tuple

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)

from .. import _fast
from ..context import current_workflow
from ..engine import Engine
from ..errors import invalid
from ..types import BinaryState
from ..workflow import WfloWorkflow

__all__ = ["WfloCheckpointSaver", "checkpoint_name"]

RECORD_TYPE = "application/vnd.wflo.langgraph.v1"  # a record's content type (wflo_core::langgraph)

Typed = Tuple[str, bytes]  # a value as LangGraph's serializer wrote it


def _call(saver: int, execution: int, request: Dict[str, Any], values: Sequence[Typed] = ()) -> Tuple[Any, List[Typed]]:
    """One request to the engine's saver (wflo_core::langgraph::wire): its answer and the
    answer's values."""
    if values:
        request["values"] = [[kind, len(data)] for kind, data in values]
    return _fast.langgraph_request(saver, execution, request, b"".join(data for _, data in values))


_NAMER = _fast.langgraph_new()  # names and versions need no execution: one shared checkpointer answers them


def checkpoint_name(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
    """The wflo checkpoint name of a LangGraph checkpoint."""
    return _call(_NAMER, 0, {"op": "name", "thread": thread_id, "ns": checkpoint_ns, "id": checkpoint_id})[0]


class WfloCheckpointSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpoint saver over wflo's store.

    Its checkpoints are checkpoints of one wflo execution: ``workflow``'s, else (with
    ``engine``) a new execution named ``name``, else the workflow running when the saver is used
    (``workflow.execute(graph, …)``). ``serde``: LangGraph's serializer (default JsonPlus).
    """

    def __init__(self, workflow: Optional[WfloWorkflow] = None, *, engine: Optional[Engine] = None,
                 name: str = "langgraph", serde: Any = None) -> None:
        super().__init__(serde=serde)
        if workflow is not None and not isinstance(workflow, WfloWorkflow):
            raise invalid("WfloCheckpointSaver: workflow must be a wflo.WfloWorkflow")
        if engine is not None and not isinstance(engine, Engine):
            raise invalid("WfloCheckpointSaver: engine must be a wflo.Engine")
        self._workflow = workflow or (WfloWorkflow(name, engine=engine) if engine is not None else None)
        # The engine's checkpointer: the index of the execution's records and the records read.
        self._handle = _fast.langgraph_new()
        weakref.finalize(self, _fast.langgraph_free, self._handle)

    @property
    def workflow(self) -> Optional[WfloWorkflow]:
        """The workflow whose execution holds the checkpoints now (None outside any, without one given)."""
        return self._workflow or current_workflow()

    def _wf(self) -> WfloWorkflow:
        wf = self.workflow
        if wf is None:
            raise invalid("WfloCheckpointSaver has no workflow: pass WfloCheckpointSaver(workflow) or "
                          "(engine=...), or use the graph inside workflow.execute()")
        return wf

    @staticmethod
    def checkpoint_name(config: Dict[str, Any]) -> str:
        """The wflo checkpoint name of a LangGraph checkpoint config (``state.config`` of
        ``graph.get_state``): what ``workflow.rollback_to_checkpoint`` takes."""
        thread, ns = _thread(config, "name a checkpoint"), _ns(config)
        cid = get_checkpoint_id(config)
        if not cid:
            raise invalid("checkpoint_name needs a config with a checkpoint_id")
        return checkpoint_name(thread, ns, cid)

    @staticmethod
    def config_of(state: Any) -> Optional[Dict[str, Any]]:
        """The LangGraph config of a checkpoint state wflo returned (``rollback_to_checkpoint``,
        ``latest_checkpoint``), or None when it is not a LangGraph checkpoint."""
        if isinstance(state, BinaryState):
            value = (state.content_type, bytes(state.data))
        elif isinstance(state, dict):
            value = ("", _fast.json_dumps(state).encode())
        else:
            return None
        key = _call(_NAMER, 0, {"op": "key_of", "state": 0}, [value])[0]
        return None if key is None else _config(key["thread"], key["ns"], key["id"])

    # -- the engine's saver ------------------------------------------------------------------------

    def _read(self, request: Dict[str, Any]) -> Tuple[Any, List[Typed]]:
        """A read of the execution's records; None when it has none yet (reads never start one)."""
        wf = self._wf()
        if not wf.started:
            return None, []
        return _call(self._handle, wf._started_c(), request)

    def _write(self, request: Dict[str, Any], values: Sequence[Typed] = ()) -> None:
        wf = self._wf()
        if not wf.enable_checkpointing:
            return
        if not wf.started:
            wf.start_sync()
        _call(self._handle, wf._started_c(), request, values)

    def _tuple(self, answer: Dict[str, Any], values: List[Typed], metadata: Any = None) -> CheckpointTuple:
        load = self.serde.loads_typed
        checkpoint = load(values[answer["checkpoint"]])
        checkpoint["channel_values"] = {channel: load(values[i]) for channel, i in answer["channel_values"]}
        thread, ns, parent = answer["thread"], answer["ns"], answer["parent"]
        return CheckpointTuple(
            config=_config(thread, ns, answer["id"]),
            checkpoint=checkpoint,
            metadata=load(values[answer["metadata"]]) if metadata is None else metadata,
            parent_config=_config(thread, ns, parent) if parent else None,
            pending_writes=[(task, channel, load(values[i])) for task, channel, i in answer["pending_writes"]],
        )

    # -- BaseCheckpointSaver: sync -----------------------------------------------------------------

    def get_tuple(self, config: Dict[str, Any]) -> Optional[CheckpointTuple]:
        thread = (config.get("configurable") or {}).get("thread_id")
        if thread is None:
            return None
        answer, values = self._read({"op": "get", "thread": str(thread), "ns": _ns(config),
                                     "id": get_checkpoint_id(config) or None})
        return None if answer is None else self._tuple(answer, values)

    def list(self, config: Optional[Dict[str, Any]], *, filter: Optional[Dict[str, Any]] = None,
             before: Optional[Dict[str, Any]] = None, limit: Optional[int] = None) -> Iterator[CheckpointTuple]:
        c = (config or {}).get("configurable") or {}
        if limit is not None and limit <= 0:
            return
        keys, _ = self._read({"op": "list", "thread": None if c.get("thread_id") is None else str(c["thread_id"]),
                              "ns": c.get("checkpoint_ns"), "id": c.get("checkpoint_id") or None,
                              "before": (get_checkpoint_id(before) if before else None) or None})
        left = limit
        for thread, ns, cid in keys or ():
            answer, values = self._read({"op": "get", "thread": thread, "ns": ns, "id": cid})
            if answer is None:
                continue
            metadata = self.serde.loads_typed(values[answer["metadata"]])
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            yield self._tuple(answer, values, metadata)
            if left is not None:
                left -= 1
                if left <= 0:
                    return

    def put(self, config: Dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> Dict[str, Any]:
        cid = checkpoint.get("id")
        if not isinstance(cid, str) or not cid:
            raise invalid("failed to put a checkpoint: it has no id")
        thread, ns = _thread(config, "put a checkpoint"), _ns(config)
        body = dict(checkpoint)
        channel_values = body.pop("channel_values", None) or {}
        dump = self.serde.dumps_typed
        values = [dump(body), dump(get_checkpoint_metadata(config, metadata))]
        channels = []
        for channel, version in (new_versions or {}).items():
            if channel in channel_values:
                values.append(dump(channel_values[channel]))
                channels.append([channel, version, len(values) - 1])
            else:
                channels.append([channel, version, None])
        self._write({"op": "put", "thread": thread, "ns": ns, "id": cid,
                     "parent": config["configurable"].get("checkpoint_id") or None, "checkpoint": 0, "metadata": 1,
                     "channels": channels, "versions": dict(body.get("channel_versions") or {})}, values)
        return _config(thread, ns, cid)

    def put_writes(self, config: Dict[str, Any], writes: Sequence[Tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        thread, ns = _thread(config, "put writes"), _ns(config)
        cid = get_checkpoint_id(config)
        if not cid:
            raise invalid("failed to put writes: the config has no checkpoint_id")
        values = [self.serde.dumps_typed(v) for _, v in writes]
        self._write({"op": "put_writes", "thread": thread, "ns": ns, "id": cid, "task_id": task_id,
                     "task_path": task_path or "",
                     "writes": [[WRITES_IDX_MAP.get(ch, i), ch, i] for i, (ch, _) in enumerate(writes)]}, values)

    def delete_thread(self, thread_id: str) -> None:
        if self._wf().started:
            self._write({"op": "delete_thread", "thread": str(thread_id)})

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Deletes the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        wanted = set(map(str, run_ids))
        if not wanted or not self._wf().started:
            return
        doomed: Dict[str, List[List[str]]] = {}
        for t in self.list(None):
            if str(t.metadata.get("run_id")) in wanted:
                c = t.config["configurable"]
                doomed.setdefault(c["thread_id"], []).append([c["checkpoint_ns"], c["checkpoint_id"]])
        for thread, listed in doomed.items():
            self._write({"op": "delete_checkpoints", "thread": thread, "checkpoints": listed})

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copies a thread's live checkpoints and their writes to another thread (oldest first,
        each with its parent chain; one whose parent is not copied gets all its values)."""
        if self._wf().started:
            self._write({"op": "copy_thread", "source": str(source_thread_id), "target": str(target_thread_id)})

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: each namespace keeps its latest checkpoint, stored again with all
        its channel values (so it needs none of the deleted ones); ``"delete"``: everything."""
        if strategy not in ("keep_latest", "delete"):
            raise invalid(f"prune strategy must be 'keep_latest' or 'delete', got {strategy!r}")
        if not self._wf().started:
            return
        if strategy == "delete":
            for thread in map(str, thread_ids):
                self.delete_thread(thread)
        else:
            self._write({"op": "prune", "threads": [str(t) for t in thread_ids]})

    def get_next_version(self, current: Optional[str], channel: None = None) -> str:
        """Versions unique across branches: the number of ``current`` (an int, or a str's part
        before its first "."; None is 0) plus one, zero-padded to 32 digits, then "." and 16
        random digits (``wflo_core::langgraph::next_version``) — so versions sort by their
        number as strings, and after a rollback or a fork two branches never store different
        values under one channel version. Any other ``current`` is an InvalidArgumentError."""
        return _call(_NAMER, 0, {"op": "next_version", "current": current})[0]

    # -- BaseCheckpointSaver: async (the store is read and written in a worker thread) --------------

    async def aget_tuple(self, config: Dict[str, Any]) -> Optional[CheckpointTuple]:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: Optional[Dict[str, Any]], *, filter: Optional[Dict[str, Any]] = None,
                    before: Optional[Dict[str, Any]] = None,
                    limit: Optional[int] = None) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(lambda: [*self.list(config, filter=filter, before=before, limit=limit)])
        for item in found:
            yield item

    async def aput(self, config: Dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> Dict[str, Any]:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: Dict[str, Any], writes: Sequence[Tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)


def _config(thread: str, ns: str, checkpoint_id: str) -> Dict[str, Any]:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def _thread(config: Any, action: str) -> str:
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    if thread is None:
        raise invalid(f"failed to {action}: the config has no configurable thread_id (pass one: "
                      'graph.invoke(inputs, {"configurable": {"thread_id": "..."}}))')
    return str(thread)


def _ns(config: Dict[str, Any]) -> str:
    return str((config.get("configurable") or {}).get("checkpoint_ns") or "")
