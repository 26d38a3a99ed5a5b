"""wflo for LangGraph: a checkpoint saver that keeps a graph's checkpoints in wflo's store, as
checkpoints of a wflo execution — so a graph's state and what it cost live in one place, a run
resumed in another process (``WfloWorkflow.resume``) continues where it was, and
``workflow.rollback_to_checkpoint(name)`` rolls the graph back too.

How LangGraph's records map onto wflo (all checkpoints of ONE execution)::

    LangGraph                           wflo checkpoint name                  state
    checkpoint (thread, ns, id)         langgraph/<thread>/<ns>/<id>          checkpoint, metadata, parent id,
                                                                              changed channels
    put_writes (thread, ns, id, task)   langgraph-writes/<thread>/<ns>/<id>   task id and path, writes
    delete_thread / delete_for_runs /   langgraph-delete/<thread>             a tombstone: the thread, or
    prune                                                                     some of its checkpoints

Name parts are percent-encoded ("/" in a thread id cannot split a name). Each record is a binary
wflo state (content type ``application/vnd.wflo.langgraph.v1+msgpack``): the record's fields
packed with msgpack, every value as LangGraph's own serialisation (``serde.dumps_typed``) —
its type and its bytes as they are, never base64 or JSON around them. Records an older wflo
saved as JSON (values in base64) still load. A checkpoint stores only the channels whose version
changed (``new_versions``); loading one walks its parent chain for the rest.

wflo checkpoints are append-only and the newest record of a name wins. A wflo rollback marks
every later checkpoint superseded; superseded LangGraph checkpoints and writes are history —
not listed, not latest, not pending — so after ``rollback_to_checkpoint(name)`` the graph
continues from the checkpoint rolled back to (one fetched by its id is still returned).
Deleting writes a tombstone; what it covers stays deleted, even after a rollback (the store
keeps the bytes: wflo never rewrites an execution's history).

Threads live in ONE execution: a later ``workflow.execute`` starts a new execution, with no
threads yet. To continue a thread, continue its execution (``WfloWorkflow.resume(id)``).
"""
from __future__ import annotations

import asyncio
import base64
import copy
import random
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote, unquote

import ormsgpack  # LangGraph's own serialiser depends on it

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

from ..context import current_workflow
from ..engine import Engine
from ..errors import invalid
from ..types import BinaryState
from ..workflow import WfloWorkflow

__all__ = ["WfloCheckpointSaver", "checkpoint_name"]

CHECKPOINT, WRITES, DELETE = "langgraph", "langgraph-writes", "langgraph-delete"
_CACHE_LIMIT = 4096  # checkpoint states kept read (a state never changes)
RECORD_TYPE = "application/vnd.wflo.langgraph.v1+msgpack"  # a record's content type

Key = Tuple[str, str, str]  # (thread id, namespace, checkpoint id)


def checkpoint_name(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
    """The wflo checkpoint name of a LangGraph checkpoint."""
    return _name(CHECKPOINT, thread_id, checkpoint_ns, checkpoint_id)


@lru_cache(maxsize=1024)
def _prefix(kind: str, thread_id: str, checkpoint_ns: str) -> str:
    # A thread's every record starts the same: quoted once, not on each put.
    return f"{kind}/{quote(thread_id, safe='')}/{quote(checkpoint_ns, safe='')}/"


def _name(kind: str, *parts: str) -> str:
    if len(parts) == 3:
        return _prefix(kind, parts[0], parts[1]) + quote(parts[2], safe="")
    return "/".join([kind] + [quote(p, safe="") for p in parts])


class _Record(NamedTuple):
    """One of the execution's wflo checkpoints that is a LangGraph record."""

    id: int
    sequence: int
    superseded: bool
    kind: str
    thread: str
    ns: str = ""
    checkpoint_id: str = ""

    @property
    def key(self) -> Key:
        return (self.thread, self.ns, self.checkpoint_id)


def _parse(info: Dict[str, Any]) -> Optional[_Record]:
    parts = info["name"].split("/")
    kind = parts[0]
    if not ((kind in (CHECKPOINT, WRITES) and len(parts) == 4) or (kind == DELETE and len(parts) == 2)):
        return None
    return _Record(info["id"], info["sequence"], info["superseded"], kind, *map(unquote, parts[1:]))


Pick = Callable[["_Index"], Optional[_Record]]  # which record of an index a reader is about to read


class _Index:
    """The LangGraph records of an execution at one moment, by checkpoint (names only; states
    are read on demand). A record is hidden when a tombstone covering it came after it.

    A saver keeps its last index and brings it up to date with the checkpoints saved since
    (``checkpoints_since``); a rollback changes which older ones are live, so a new
    rollback means reading them all again. (Checkpoints deleted with the Rust API's
    ``prune_checkpoints`` are not seen by an index kept from before: make a new saver.)"""

    def __init__(self, saver: "WfloCheckpointSaver", wf: Optional[WfloWorkflow]) -> None:
        self.wf = wf
        self.checkpoints: Dict[Key, List[_Record]] = {}
        self.writes: Dict[Key, List[_Record]] = {}
        self.thread_cut: Dict[str, int] = {}  # thread → sequence of its last whole-thread delete
        self.removed: Dict[Key, int] = {}  # checkpoint → sequence of the last delete naming it
        self.superseded: Dict[int, bool] = {}  # every wflo checkpoint of the execution, by sequence
        self.last_sequence = 0
        self.rollbacks = 0
        if wf is None or not wf.started:
            return
        infos, self.rollbacks = wf.checkpoints_since(0)
        self._add(saver, infos)

    def _add(self, saver: "WfloCheckpointSaver", infos: List[Dict[str, Any]]) -> None:
        for info in infos:  # in sequence order
            self.superseded[info["sequence"]] = info["superseded"]
            self.last_sequence = max(self.last_sequence, info["sequence"])
            rec = _parse(info)
            if rec is None:
                continue
            if rec.kind == DELETE:
                listed = saver._state(self.wf, rec).get("checkpoints")
                if listed is None:
                    self.thread_cut[rec.thread] = rec.sequence
                for ns, cid in listed or []:
                    self.removed[(rec.thread, ns, cid)] = rec.sequence
            else:
                by_key = self.checkpoints if rec.kind == CHECKPOINT else self.writes
                by_key[rec.key] = by_key.get(rec.key, []) + [rec]  # a new list: copies share the old

    def current(self, saver: "WfloCheckpointSaver", pick: Optional[Pick] = None) -> Tuple["_Index", Optional[_Record]]:
        """This index brought up to date (itself when nothing changed, else a new index: this
        one may be in use by another thread), and ``pick`` of it: the record the caller is
        about to read. The record this index picks is read in the same call (one crossing
        into the library per load) and kept — a state never changes, so it stands even when
        the index was out of date and the new one picks another."""
        rec = pick(self) if pick is not None else None
        if rec is not None and not saver._cached(self.wf, rec):
            infos, rollbacks, stored = self.wf.checkpoints_since_with_state(self.last_sequence, rec.id)
            saver._keep(self.wf, rec, stored)
        else:
            infos, rollbacks = self.wf.checkpoints_since(self.last_sequence)
        if rollbacks != self.rollbacks:
            new = _Index(saver, self.wf)
        elif not infos:
            return self, rec
        else:
            new = copy.copy(self)
            new.checkpoints, new.writes = dict(self.checkpoints), dict(self.writes)
            new.thread_cut, new.removed, new.superseded = dict(self.thread_cut), dict(self.removed), dict(self.superseded)
            new._add(saver, infos)
        return new, (pick(new) if pick is not None else None)

    def lineage(self, rec: _Record) -> bool:
        """Still part of its thread (its channel values may be needed by later checkpoints)."""
        return rec.sequence > self.thread_cut.get(rec.thread, 0)

    def visible(self, rec: _Record) -> bool:
        return self.lineage(rec) and rec.sequence > self.removed.get(rec.key, 0)

    def chosen(self, key: Key, *, lineage: bool = False) -> Optional[_Record]:
        """The record that stands for a checkpoint: its newest live one, else its newest (history)."""
        records = self.checkpoints.get(key, ())
        if len(records) == 1 and not records[0].superseded and (self.lineage if lineage else self.visible)(records[0]):
            return records[0]  # the common case, a checkpoint put once and still live: no lists
        records = [r for r in records if (self.lineage(r) if lineage else self.visible(r))]
        live = [r for r in records if not r.superseded]
        return (live or records or [None])[-1]

    def live(self, thread: Optional[str] = None, ns: Optional[str] = None) -> List[_Record]:
        """The live checkpoints (of a thread and namespace), newest id first."""
        found = []
        for key in self.checkpoints:
            if (thread is None or key[0] == thread) and (ns is None or key[1] == ns):
                rec = self.chosen(key)
                if rec is not None and not rec.superseded:
                    found.append(rec)
        return sorted(found, key=lambda r: r.checkpoint_id, reverse=True)

    def writes_of(self, rec: _Record) -> List[_Record]:
        """A checkpoint's writes records: one in history shows all it had; a live one its live
        ones — writes superseded by a rollback are undone. A rollback to the checkpoint itself
        (the record right after it is superseded) also undoes its writes stored before it
        (LangGraph saves a checkpoint in the background while its tasks already write)."""
        if rec.superseded:
            return [w for w in self.writes.get(rec.key, ()) if self.visible(w)]
        rolled_back_to = self.superseded.get(rec.sequence + 1, False)
        return [w for w in self.writes.get(rec.key, ()) if self.visible(w) and not w.superseded
                and not (rolled_back_to and w.sequence < rec.sequence)]


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
        self._cache: "OrderedDict[Tuple[str, int], dict]" = OrderedDict()
        self._lock = threading.Lock()
        self._kept_index: Optional[_Index] = None  # the last index read, brought up to date on use
        self._kept_for: Optional[str] = None  # the execution it is of

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
        if isinstance(state, BinaryState) and state.content_type == RECORD_TYPE:
            state = _unpack(state)
        if not isinstance(state, dict) or state.get("langgraph") != "checkpoint":
            return None
        return _config(state["thread_id"], state["checkpoint_ns"], state["checkpoint_id"])

    # -- serialisation and reading ---------------------------------------------------------------

    def _dump(self, value: Any) -> Tuple[str, bytes]:
        return self.serde.dumps_typed(value)

    def _load(self, stored: Any) -> Any:
        if isinstance(stored, dict):  # a record an older wflo saved as JSON
            return self.serde.loads_typed((stored["type"], base64.b64decode(stored["base64"])))
        kind, data = stored
        return self.serde.loads_typed((kind, data))

    def _state(self, wf: WfloWorkflow, rec: _Record) -> dict:
        with self._lock:
            state = self._cache.get((wf.execution_id or "", rec.id))
        return self._keep(wf, rec, wf.checkpoint_state(rec.id)) if state is None else state

    def _cached(self, wf: WfloWorkflow, rec: _Record) -> bool:
        with self._lock:
            return (wf.execution_id or "", rec.id) in self._cache

    def _keep(self, wf: WfloWorkflow, rec: _Record, stored: Any) -> dict:
        """A record's state as read from the store, decoded and kept."""
        state = _unpack(stored) if isinstance(stored, BinaryState) else stored
        self._remember((wf.execution_id or "", rec.id), state)
        return state

    def _remember(self, key: Tuple[str, int], state: dict) -> None:
        with self._lock:
            self._cache[key] = state
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.popitem(last=False)

    def _save(self, wf: WfloWorkflow, name: str, state: dict) -> None:
        """Saves a record as a binary state; kept read (what is saved is what a read returns)."""
        info = wf.checkpoint_sync(name, BinaryState(RECORD_TYPE, ormsgpack.packb(state)))
        if info is not None:
            self._remember((wf.execution_id or "", info["id"]), state)

    def _index(self) -> _Index:
        return self._picked(None)[0]

    def _picked(self, pick: Optional[Pick]) -> Tuple[_Index, Optional[_Record]]:
        """The index, up to date, and ``pick`` of it (as :meth:`_Index.current`)."""
        wf = self._wf()
        with self._lock:
            kept, kept_for = self._kept_index, self._kept_for
        if kept is None or kept.wf is not wf or not wf.started or wf.execution_id != kept_for:
            ix = _Index(self, wf)
            rec = pick(ix) if pick is not None else None
        else:
            ix, rec = kept.current(self, pick)
        with self._lock:
            self._kept_index, self._kept_for = ix, wf.execution_id if wf.started else None
        return ix, rec

    def _pending_writes(self, ix: _Index, rec: _Record) -> List[Tuple[str, str, Any]]:
        """A checkpoint's pending writes in ``writes_sort_key`` order. As LangGraph's savers: a
        regular write (task, idx) is kept once; a special one (error, interrupt, …) is replaced."""
        if rec.key not in ix.writes:
            return []
        merged: Dict[Tuple[str, int], Tuple[str, str, int, str, dict]] = {}
        for w in ix.writes_of(rec):
            state = self._state(ix.wf, w)
            for idx, channel, value in state["writes"]:
                k = (state["task_id"], idx)
                if idx >= 0 and k in merged:
                    continue
                merged[k] = (state["task_path"], state["task_id"], idx, channel, value)
        ordered = sorted(merged.values(), key=lambda m: writes_sort_key(m[0], m[1], m[2]))
        return [(task_id, channel, self._load(value)) for _, task_id, _, channel, value in ordered]

    def _channels(self, ix: _Index, rec: _Record, state: dict, versions: ChannelVersions) -> Dict[str, Any]:
        """A checkpoint's channel values: the channels it changed, the rest from its ancestors
        (the stored value of each channel at the version the checkpoint holds)."""
        needed = dict(versions)
        found: Dict[str, dict] = {}

        def take(channels: List[Any]) -> None:
            for channel, version, value in channels:
                if channel in needed and needed[channel] == version:
                    del needed[channel]
                    if value is not None:
                        found[channel] = value

        take(state["channels"])
        seen = {rec.id}
        parent = state["parent_checkpoint_id"]
        while needed and parent:
            prec = ix.chosen((rec.thread, rec.ns, parent), lineage=True)
            if prec is None or prec.id in seen:
                break
            seen.add(prec.id)
            pstate = self._state(ix.wf, prec)
            take(pstate["channels"])
            parent = pstate["parent_checkpoint_id"]
        if needed:
            # Not on the parent chain (a checkpoint put without its parent): the newest record
            # of the thread holding that version, as a table of values by version would give.
            others = [r for records in ix.checkpoints.values() for r in records
                      if r.thread == rec.thread and r.ns == rec.ns and r.id not in seen and ix.lineage(r)]
            for other in sorted(others, key=lambda r: (not r.superseded, r.sequence), reverse=True):
                if not needed:
                    break
                take(self._state(ix.wf, other)["channels"])
        return {channel: self._load(value) for channel, value in found.items()}

    def _tuple(self, ix: _Index, rec: _Record, metadata: Any = None) -> CheckpointTuple:
        state = self._state(ix.wf, rec)
        checkpoint = self._load(state["checkpoint"])
        checkpoint["channel_values"] = self._channels(ix, rec, state, checkpoint.get("channel_versions", {}))
        parent = state["parent_checkpoint_id"]
        return CheckpointTuple(
            config=_config(rec.thread, rec.ns, rec.checkpoint_id),
            checkpoint=checkpoint,
            metadata=self._load(state["metadata"]) if metadata is None else metadata,
            parent_config=_config(rec.thread, rec.ns, parent) if parent else None,
            pending_writes=self._pending_writes(ix, rec),
        )

    # -- BaseCheckpointSaver: sync -----------------------------------------------------------------

    def get_tuple(self, config: Dict[str, Any]) -> Optional[CheckpointTuple]:
        thread = (config.get("configurable") or {}).get("thread_id")
        if thread is None:
            return None
        thread, ns, cid = str(thread), _ns(config), get_checkpoint_id(config)

        def pick(ix: _Index) -> Optional[_Record]:
            if cid:
                return ix.chosen((thread, ns, cid))
            newest = ix.live(thread, ns)
            return newest[0] if newest else None

        ix, rec = self._picked(pick)
        return self._tuple(ix, rec) if rec is not None else None

    def list(self, config: Optional[Dict[str, Any]], *, filter: Optional[Dict[str, Any]] = None,
             before: Optional[Dict[str, Any]] = None, limit: Optional[int] = None) -> Iterator[CheckpointTuple]:
        c = (config or {}).get("configurable") or {}
        thread = None if c.get("thread_id") is None else str(c["thread_id"])
        ns = c.get("checkpoint_ns")
        only = c.get("checkpoint_id")
        before_id = get_checkpoint_id(before) if before else None
        if limit is not None and limit <= 0:
            return
        ix = self._index()
        left = limit
        for rec in ix.live(thread, ns):
            if (only and rec.checkpoint_id != only) or (before_id and rec.checkpoint_id >= before_id):
                continue
            metadata = self._load(self._state(ix.wf, rec)["metadata"])
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            yield self._tuple(ix, rec, metadata)
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
        values = body.pop("channel_values", None) or {}
        state = {
            "langgraph": "checkpoint", "thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": cid,
            "parent_checkpoint_id": config["configurable"].get("checkpoint_id") or None,
            "checkpoint": self._dump(body),
            "metadata": self._dump(get_checkpoint_metadata(config, metadata)),
            "channels": [[ch, v, self._dump(values[ch]) if ch in values else None]
                         for ch, v in (new_versions or {}).items()],
        }
        self._save(self._wf(), checkpoint_name(thread, ns, cid), state)
        return _config(thread, ns, cid)

    def put_writes(self, config: Dict[str, Any], writes: Sequence[Tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        thread, ns = _thread(config, "put writes"), _ns(config)
        cid = get_checkpoint_id(config)
        if not cid:
            raise invalid("failed to put writes: the config has no checkpoint_id")
        state = {
            "langgraph": "writes", "thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": cid,
            "task_id": task_id, "task_path": task_path or "",
            "writes": [[WRITES_IDX_MAP.get(ch, i), ch, self._dump(v)] for i, (ch, v) in enumerate(writes)],
        }
        self._save(self._wf(), _name(WRITES, thread, ns, cid), state)

    def delete_thread(self, thread_id: str) -> None:
        thread = str(thread_id)
        ix = self._index()
        records = (r for by_key in (ix.checkpoints, ix.writes) for rs in by_key.values() for r in rs)
        if any(r.thread == thread and ix.visible(r) for r in records):
            self._tombstone(thread, None)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Deletes the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        wanted = set(map(str, run_ids))
        if not wanted:
            return
        ix = self._index()
        doomed: Dict[str, List[List[str]]] = {}
        for rec in ix.live():
            if str(self._load(self._state(ix.wf, rec)["metadata"]).get("run_id")) in wanted:
                doomed.setdefault(rec.thread, []).append([rec.ns, rec.checkpoint_id])
        for thread, listed in doomed.items():
            self._tombstone(thread, listed)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copies a thread's live checkpoints and their writes to another thread (oldest first,
        each with its parent chain; one whose parent is not copied gets all its values)."""
        source, target = str(source_thread_id), str(target_thread_id)
        ix = self._index()
        records = sorted(ix.live(source), key=lambda r: r.sequence)
        copied = {r.key for r in records}
        wf = self._wf()
        for rec in records:
            state = dict(self._state(wf, rec), thread_id=target)
            parent = state["parent_checkpoint_id"]
            if parent and (source, rec.ns, parent) not in copied:
                state["channels"] = self._snapshot(ix, rec)
            self._save(wf, checkpoint_name(target, rec.ns, rec.checkpoint_id), state)
            for w in ix.writes_of(rec):
                self._save(wf, _name(WRITES, target, rec.ns, rec.checkpoint_id),
                           dict(self._state(wf, w), thread_id=target))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: each namespace keeps its latest checkpoint, stored again with all
        its channel values (so it needs none of the deleted ones); ``"delete"``: everything."""
        if strategy not in ("keep_latest", "delete"):
            raise invalid(f"prune strategy must be 'keep_latest' or 'delete', got {strategy!r}")
        for thread in map(str, thread_ids):
            if strategy == "delete":
                self.delete_thread(thread)
                continue
            ix = self._index()
            records = ix.live(thread)
            latest: Dict[str, _Record] = {}
            for rec in records:  # newest id first
                latest.setdefault(rec.ns, rec)
            doomed = [[r.ns, r.checkpoint_id] for r in records if latest[r.ns] is not r]
            if not doomed:
                continue
            for rec in latest.values():
                state = dict(self._state(ix.wf, rec), channels=self._snapshot(ix, rec))
                self._save(ix.wf, checkpoint_name(*rec.key), state)
            self._tombstone(thread, doomed)

    def _snapshot(self, ix: _Index, rec: _Record) -> List[Any]:
        """All of a checkpoint's channel values in the stored form (none left to its ancestors)."""
        state = self._state(ix.wf, rec)
        versions = self._load(state["checkpoint"]).get("channel_versions", {})
        values = self._channels(ix, rec, state, versions)
        return [[ch, v, self._dump(values[ch]) if ch in values else None] for ch, v in versions.items()]

    def _tombstone(self, thread: str, checkpoints: Optional[List[List[str]]]) -> None:
        self._save(self._wf(), _name(DELETE, thread),
                   {"langgraph": "delete", "thread_id": thread, "checkpoints": checkpoints})

    def get_next_version(self, current: Optional[str], channel: None = None) -> str:
        """Versions unique across branches ("<n zero-padded>.<random>"): after a rollback or a
        fork, two branches never store different values under one channel version."""
        n = 0 if current is None else (current if isinstance(current, int) else int(str(current).split(".")[0]))
        return f"{n + 1:032}.{random.random():016}"

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


def _unpack(stored: BinaryState) -> dict:
    """A record saved as a binary state."""
    if stored.content_type != RECORD_TYPE:
        raise invalid(f"a LangGraph record of this saver is {RECORD_TYPE}, not {stored.content_type}")
    return ormsgpack.unpackb(stored.data)


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
