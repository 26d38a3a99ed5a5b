//! A LangGraph checkpoint saver's work over one wflo execution, for every face's saver: the
//! face converts LangGraph's objects (its serializer writes each value as [`Typed`] bytes) and
//! calls one of these per operation; what is stored, which record is live, which writes are
//! pending and where a channel's value comes from are decided here, once.
//!
//! A [`Checkpointer`] keeps the last index it read (names only) and brings it up to date with
//! the checkpoints saved since (`Execution::checkpoint_changes`), reading every checkpoint
//! again when the execution's number of rollbacks changed (a rollback changes which earlier
//! ones are live). An index covers one thread (or every thread, for a listing of all); the
//! indexes of the threads used before it are kept aside ([`Parked`]) and taken back when a
//! load asks for their thread again, so one saver serving several threads does not read a
//! thread's names again at each switch. On a store with versions (SQLite) nothing but a
//! picked record is read while nothing was committed since the index was brought up to date.
//! Records read are kept decoded (a state never changes). Checkpoints deleted with
//! `prune_checkpoints` are not seen by an index kept from before: make a new one.
//!
//! A checkpoint stores the channels it changed; a put also records which earlier checkpoint
//! holds each of the others (from its parent's, [`Holders`]), so a load reads those records
//! directly. Without that, a channel set at the first step of a long run was found by reading
//! back through every step's record: 6.5× SqliteSaver's load at 20 steps of a growing chat.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::index::{Index, Key, Rec};
use super::names::{self, Kind};
use super::record::{
    Channel, CheckpointRecord, DeleteRecord, RECORD_CONTENT_TYPE, Record, Typed, WritesRecord,
    versions_in,
};
use crate::fasthash::FastMap;
use crate::store::{KnownSince, NamedCheckpoint};
use crate::{Error, Execution, Result};

/// How many records a checkpointer keeps decoded.
const CACHE_LIMIT: usize = 4096;
/// The largest record (its values' bytes) kept beyond the next read (see [`Cache`]); 4096 of
/// them are 64 MiB at the most.
const KEEP_AT_MOST_BYTES: usize = 16 * 1024;

/// A checkpoint as LangGraph's `CheckpointTuple` holds it, each value as its serializer wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuple {
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
    pub parent: Option<String>,
    /// The checkpoint without its channel values.
    pub checkpoint: Typed,
    pub metadata: Typed,
    /// Its channels' values (an empty channel is absent), in the order they were found.
    pub channel_values: Vec<(String, Typed)>,
    pub pending_writes: Vec<PendingWrite>,
}

/// A write not yet applied: the task's, to a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWrite {
    pub task_id: String,
    pub channel: String,
    pub value: Typed,
}

/// Which checkpoints [`Checkpointer::list`] lists.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub thread: Option<String>,
    pub ns: Option<String>,
    pub checkpoint_id: Option<String>,
    /// Only checkpoints whose id sorts before this one.
    pub before: Option<String>,
}

/// A LangGraph saver's index and records of one execution at a time (see the module's docs).
/// Safe to share between threads; one operation at a time.
#[derive(Default)]
pub struct Checkpointer {
    state: Mutex<Option<State>>,
    /// Where each channel of the checkpoints saved or loaded last holds its value. Apart from
    /// the index: a saver that only puts has read none, and still knows its own. (Locked after
    /// `state` where both are.)
    holders: Mutex<Holders>,
}

struct State {
    index: Index,
    cache: Cache,
    /// The store's version the index was brought up to date at (`None`: the store has none):
    /// while the store is still there, nothing needs reading but a picked record.
    version: Option<u64>,
    /// Other threads' indexes of the same execution, used before this one.
    parked: Parked,
}

/// How many other threads' indexes a checkpointer keeps aside.
const PARKED_THREADS: usize = 256;
/// A kept index this many checkpoints behind the newest known is read again instead of brought
/// up to date: catching up lists every checkpoint saved since, of every thread, where reading
/// the thread again reads its names alone (over the index of the saver's names).
const PARKED_CATCH_UP_LIMIT: u64 = 256;

/// Thread indexes kept aside, least recently used first. Before this, a saver serving several
/// threads read a thread's names again at every switch: a load alternating among 8 threads of
/// 20 checkpoints each took 44 µs instead of 5, and 536 µs at 200 checkpoints each.
#[derive(Default)]
struct Parked(VecDeque<(Index, Option<u64>)>);

impl Parked {
    /// Keeps a thread's `index`, read at `version`, dropping the least recently used past
    /// [`PARKED_THREADS`]. An index of every thread is not kept: while it is the one in use,
    /// no load switches.
    fn park(&mut self, index: Index, version: Option<u64>) {
        if index.scope.is_none() {
            return;
        }
        self.0.push_back((index, version));
        if self.0.len() > PARKED_THREADS {
            self.0.pop_front();
        }
    }

    /// The index kept for `thread`, unless it is more than [`PARKED_CATCH_UP_LIMIT`]
    /// checkpoints behind `newest` (the last sequence known); a stale one is dropped.
    fn take(&mut self, thread: &str, newest: u64) -> Option<(Index, Option<u64>)> {
        let at = self
            .0
            .iter()
            .position(|(ix, _)| ix.scope.as_deref() == Some(thread))?;
        let (index, version) = self.0.remove(at)?;
        (index.last_sequence + PARKED_CATCH_UP_LIMIT >= newest).then_some((index, version))
    }
}

/// The records read, kept decoded (a state never changes). A record whose values are larger
/// than [`KEEP_AT_MOST_BYTES`] is kept only until the next one is read: keeping every large
/// record read asked the allocator for fresh memory on each read (its pages faulted in, half
/// the time of a 100 KB load) and kept as much memory as the records were large.
#[derive(Default)]
struct Cache {
    records: Bounded<u64, Arc<Record>>,
    /// The latest large record read.
    last: Option<(u64, Arc<Record>)>,
}

/// A map of at most [`CACHE_LIMIT`] entries, the oldest inserted going first.
struct Bounded<K, V> {
    map: FastMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: FastMap::default(),
            order: VecDeque::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    /// Keeps `value` under `key` (replacing what was there), dropping the oldest key past the
    /// limit.
    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > CACHE_LIMIT
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

impl Cache {
    fn keep(&mut self, id: u64, record: Arc<Record>) -> Arc<Record> {
        if record.value_bytes() > KEEP_AT_MOST_BYTES {
            self.last = Some((id, record.clone()));
            return record;
        }
        self.records.insert(id, record.clone());
        record
    }

    fn get(&self, id: u64) -> Option<Arc<Record>> {
        match self.records.get(&id) {
            Some(r) => Some(r.clone()),
            None => self
                .last
                .as_ref()
                .filter(|(last, _)| *last == id)
                .map(|(_, r)| r.clone()),
        }
    }

    fn read(&mut self, exec: &Execution, rec: &Rec) -> Result<Arc<Record>> {
        match self.get(rec.id) {
            Some(r) => Ok(r),
            None => {
                let record = Record::decode(exec.checkpoint_state_any(rec.id)?)?;
                Ok(self.keep(rec.id, Arc::new(record)))
            }
        }
    }

    fn checkpoint(&mut self, exec: &Execution, rec: &Rec) -> Result<Arc<Record>> {
        let r = self.read(exec, rec)?;
        match &*r {
            Record::Checkpoint(_) => Ok(r),
            _ => Err(Error::Storage(format!(
                "the LangGraph record #{} is not a checkpoint",
                rec.id
            ))),
        }
    }
}

/// A checkpoint's channels and, for each, the id of the checkpoint (itself or an ancestor)
/// that stored its value at the checkpoint's version.
type ChannelHolders = Vec<(String, Value, String)>;

/// The [`ChannelHolders`] of the checkpoints this checkpointer saved or loaded last, by key:
/// a put takes its parent's from here to list where the channels it did not change are
/// ([`CheckpointRecord::elsewhere`]) without reading anything. Only a hint: a load checks
/// that the record named holds the channel at that version, and otherwise looks along the
/// parents.
#[derive(Default)]
struct Holders {
    /// The execution they are of: another's are dropped.
    execution: String,
    by_key: Bounded<Key, Arc<ChannelHolders>>,
}

impl Holders {
    /// These holders, made those of `execution`.
    fn of(&mut self, execution: &str) -> &mut Holders {
        if self.execution != execution {
            *self = Holders {
                execution: execution.to_owned(),
                ..Holders::default()
            };
        }
        self
    }

    fn keep(&mut self, key: Key, holders: ChannelHolders) {
        self.by_key.insert(key, Arc::new(holders));
    }

    /// A checkpoint's holders as its record tells them: the channels it stored, then those it
    /// lists elsewhere.
    fn keep_record(&mut self, c: &CheckpointRecord) {
        let Some(versions) = &c.versions else { return };
        let mut holders: ChannelHolders = c
            .channels
            .iter()
            .map(|ch| (ch.name.clone(), ch.version.clone(), c.checkpoint_id.clone()))
            .collect();
        for (name, holder) in &c.elsewhere {
            if let Some((_, version)) = versions.iter().find(|(n, _)| n == name) {
                holders.push((name.clone(), version.clone(), holder.clone()));
            }
        }
        self.keep(
            (c.thread.clone(), c.ns.clone(), c.checkpoint_id.clone()),
            holders,
        );
    }

    /// Where the channels `c` did not change hold their value, from its parent's holders
    /// (none where the parent's are not known here).
    fn elsewhere(&self, c: &CheckpointRecord) -> Vec<(String, String)> {
        let (Some(parent), Some(versions)) = (&c.parent, &c.versions) else {
            return Vec::new();
        };
        let key = (c.thread.clone(), c.ns.clone(), parent.clone());
        let Some(parents) = self.by_key.get(&key) else {
            return Vec::new();
        };
        versions
            .iter()
            .filter(|(name, _)| !c.channels.iter().any(|ch| &ch.name == name))
            .filter_map(|(name, version)| {
                parents
                    .iter()
                    .find(|(n, v, _)| n == name && v == version)
                    .map(|(_, _, holder)| (name.clone(), holder.clone()))
            })
            .collect()
    }
}

fn as_checkpoint(r: &Record) -> &CheckpointRecord {
    match r {
        Record::Checkpoint(c) => c,
        _ => unreachable!("Cache::checkpoint returns checkpoints"),
    }
}

impl State {
    /// The index of `exec`'s records — of `scope`'s thread alone when one is given (a new
    /// saver's first load reads that thread, not the execution) — read into `cache`'s company
    /// (records kept across indexes of one execution).
    fn read(
        exec: &Execution,
        scope: Option<&str>,
        mut cache: Cache,
        parked: Parked,
    ) -> Result<State> {
        let (checkpoints, rollbacks, last_sequence, version) = match scope {
            Some(thread) => {
                let named = exec.checkpoints_named(&names::thread_prefixes(thread))?;
                (
                    named.checkpoints,
                    named.rollbacks,
                    named.last_sequence,
                    named.version,
                )
            }
            None => {
                let since = exec.checkpoint_changes(0, None, None)?;
                let listed = since.checkpoints.into_iter().map(NamedCheckpoint::from);
                (listed.collect(), since.rollbacks, 0, since.version)
            }
        };
        let rolled_back_to = if rollbacks == 0 {
            HashSet::new()
        } else {
            exec.rollbacks()?
                .into_iter()
                .filter(|r| r.superseded > 0)
                .filter_map(|r| r.checkpoint_id)
                .collect()
        };
        let mut index = Index::new(exec.id(), scope, rollbacks, rolled_back_to);
        index.add(checkpoints, &mut |rec| cache.read(exec, rec))?;
        index.last_sequence = index.last_sequence.max(last_sequence);
        Ok(State {
            index,
            cache,
            version,
            parked,
        })
    }

    fn known(&self) -> Option<KnownSince> {
        self.version.map(|version| KnownSince {
            version,
            rollbacks: self.index.rollbacks,
        })
    }
}

type Pick<'a> = &'a dyn Fn(&Index) -> Option<Arc<Rec>>;

impl Checkpointer {
    pub fn new() -> Checkpointer {
        Checkpointer::default()
    }

    /// Runs `f` with the index of `exec` (covering `scope`'s thread; `None`: every thread)
    /// brought up to date and `pick` of it: the record `f` is about to read. The record the
    /// kept index picks is read in the same store call that brings the index up to date (one
    /// read per load) and kept — it stands even when the index was out of date and the new one
    /// picks another. An index of another thread is replaced by one of this thread's (the
    /// records read stay kept).
    fn with<T>(
        &self,
        exec: &Execution,
        scope: Option<&str>,
        pick: Pick<'_>,
        f: impl FnOnce(&mut State, Option<Arc<Rec>>) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.state.lock();
        let same_execution = guard
            .as_ref()
            .is_some_and(|s| s.index.execution == exec.id());
        if !same_execution || !guard.as_ref().is_some_and(|s| s.index.covers(scope)) {
            // A failed read must not leave another execution's or thread's index.
            let (cache, mut parked, newest) = match guard.take() {
                Some(old) if same_execution => {
                    let newest = old.index.last_sequence;
                    let mut parked = old.parked;
                    parked.park(old.index, old.version);
                    (old.cache, parked, newest)
                }
                _ => (Cache::default(), Parked::default(), 0),
            };
            match scope.and_then(|thread| parked.take(thread, newest)) {
                // Brought up to date below, as the index in use is.
                Some((index, version)) => {
                    *guard = Some(State {
                        index,
                        cache,
                        version,
                        parked,
                    })
                }
                None => {
                    *guard = Some(State::read(exec, scope, cache, parked)?);
                    let st = guard.as_mut().expect("just read");
                    let rec = pick(&st.index);
                    return f(st, rec);
                }
            }
        }
        let st = guard.as_mut().expect("checked");
        let rec = pick(&st.index);
        let unread = rec
            .as_ref()
            .filter(|r| st.cache.get(r.id).is_none())
            .map(|r| r.id);
        let since = exec.checkpoint_changes(st.index.last_sequence, unread, st.known())?;
        if let (Some(id), Some(state)) = (unread, since.state) {
            // A damaged record is not kept, and fails nothing yet: the index brought up to
            // date may pick another (the checkpoint stored again); if not, reading it fails.
            if let Ok(record) = Record::decode(state) {
                st.cache.keep(id, Arc::new(record));
            }
        }
        if since.rollbacks != st.index.rollbacks {
            // The kept indexes of other threads stay: each sees the rollback when taken back,
            // as this one did.
            let (cache, parked) = (
                std::mem::take(&mut st.cache),
                std::mem::take(&mut st.parked),
            );
            let scope = st.index.scope.clone();
            *st = State::read(exec, scope.as_deref(), cache, parked)?;
            let rec = pick(&st.index);
            return f(st, rec);
        }
        if since.checkpoints.is_empty() {
            st.version = since.version;
            return f(st, rec);
        }
        let State { index, cache, .. } = st;
        let listed = since.checkpoints.into_iter().map(NamedCheckpoint::from);
        if let Err(e) = index.add(listed, &mut |r| cache.read(exec, r)) {
            // Half brought up to date, the index is past the record it failed on (a damaged
            // tombstone) and would skip it from now on: read everything again next time.
            *guard = None;
            return Err(e);
        }
        st.version = since.version;
        let rec = pick(&st.index);
        f(st, rec)
    }

    // ---- reading -----------------------------------------------------------------------------

    /// A checkpoint of a thread and namespace: the one with `checkpoint_id` (a superseded one
    /// too, as history), else the thread's latest live one; `None` when there is none.
    /// An empty id is none (as LangGraph's falsy `checkpoint_id`).
    pub fn get(
        &self,
        exec: &Execution,
        thread: &str,
        ns: &str,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<Tuple>> {
        let checkpoint_id = checkpoint_id.filter(|id| !id.is_empty());
        let key: Key = (
            thread.to_owned(),
            ns.to_owned(),
            checkpoint_id.unwrap_or_default().to_owned(),
        );
        let pick = |ix: &Index| match checkpoint_id {
            Some(_) => ix.chosen(&key, false).cloned(),
            None => ix.latest(thread, ns),
        };
        self.with(exec, Some(thread), &pick, |st, rec| {
            rec.map(|rec| tuple(st, &self.holders, exec, &rec))
                .transpose()
        })
    }

    /// The live checkpoints `filter` names, newest checkpoint id first (their tuples: [`get`]
    /// with each id).
    ///
    /// [`get`]: Checkpointer::get
    pub fn list(
        &self,
        exec: &Execution,
        filter: &ListFilter,
    ) -> Result<Vec<(String, String, String)>> {
        self.with(exec, filter.thread.as_deref(), &|_| None, |st, _| {
            Ok(st
                .index
                .live(filter.thread.as_deref(), filter.ns.as_deref())
                .into_iter()
                // An empty id filters nothing (as LangGraph's falsy ids).
                .filter(|r| {
                    filter
                        .checkpoint_id
                        .as_ref()
                        .is_none_or(|id| id.is_empty() || &r.key.2 == id)
                })
                .filter(|r| {
                    filter
                        .before
                        .as_ref()
                        .is_none_or(|b| b.is_empty() || r.key.2 < *b)
                })
                .map(|r| r.key.clone())
                .collect())
        })
    }

    /// The pending writes of a checkpoint (as [`Tuple::pending_writes`]); none for one not stored.
    pub fn pending_writes(
        &self,
        exec: &Execution,
        thread: &str,
        ns: &str,
        checkpoint_id: &str,
    ) -> Result<Vec<PendingWrite>> {
        let key: Key = (thread.to_owned(), ns.to_owned(), checkpoint_id.to_owned());
        self.with(
            exec,
            Some(thread),
            &|ix| ix.chosen(&key, false).cloned(),
            |st, rec| match rec {
                Some(rec) => pending_writes(st, exec, &rec),
                None => Ok(vec![]),
            },
        )
    }

    // ---- writing -----------------------------------------------------------------------------

    /// Stores a checkpoint (committed when this returns).
    pub fn put(&self, exec: &Execution, mut record: CheckpointRecord) -> Result<()> {
        if record.checkpoint_id.is_empty() {
            return Err(Error::invalid("failed to put a checkpoint: it has no id"));
        }
        if record.elsewhere.is_empty() {
            record.elsewhere = self.holders.lock().of(exec.id()).elsewhere(&record);
        }
        let name = names::checkpoint_name(&record.thread, &record.ns, &record.checkpoint_id);
        self.save(exec, &name, Record::Checkpoint(record))
    }

    /// Stores a task's writes to a checkpoint.
    pub fn put_writes(&self, exec: &Execution, record: WritesRecord) -> Result<()> {
        if record.checkpoint_id.is_empty() {
            return Err(Error::invalid(
                "failed to put writes: the config has no checkpoint_id",
            ));
        }
        let name = names::name(
            Kind::Writes,
            &[&record.thread, &record.ns, &record.checkpoint_id],
        );
        self.save(exec, &name, Record::Writes(record))
    }

    /// Deletes a thread: everything it stored is hidden from now on (nothing is written when
    /// it has nothing visible).
    pub fn delete_thread(&self, exec: &Execution, thread: &str) -> Result<()> {
        if self.with(exec, Some(thread), &|_| None, |st, _| {
            Ok(st.index.has_visible(thread))
        })? {
            self.tombstone(exec, thread, None)?;
        }
        Ok(())
    }

    /// Deletes some checkpoints of a thread (and their writes), by (namespace, checkpoint id).
    pub fn delete_checkpoints(
        &self,
        exec: &Execution,
        thread: &str,
        checkpoints: Vec<(String, String)>,
    ) -> Result<()> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        self.tombstone(exec, thread, Some(checkpoints))
    }

    /// Copies a thread's live checkpoints and their writes to another thread (oldest first,
    /// each with its parent chain; one whose parent is not copied gets all its values).
    pub fn copy_thread(&self, exec: &Execution, source: &str, target: &str) -> Result<()> {
        let copies = self.with(exec, Some(source), &|_| None, |st, _| {
            let mut records = st.index.live(Some(source), None);
            records.sort_by_key(|r| r.sequence);
            let copied: Vec<&Key> = records.iter().map(|r| &r.key).collect();
            let mut out = Vec::new();
            for rec in &records {
                let r = st.cache.checkpoint(exec, rec)?;
                let mut c = as_checkpoint(&r).clone();
                c.thread = target.to_owned();
                if let Some(parent) = &c.parent
                    && !copied.iter().any(|k| k.1 == rec.key.1 && &k.2 == parent)
                {
                    c.channels = snapshot(st, &self.holders, exec, rec)?;
                    c.elsewhere = Vec::new(); // it holds every channel itself
                }
                out.push(Record::Checkpoint(c));
                for w in st.index.writes_of(rec) {
                    if let Record::Writes(mut w) = (*st.cache.read(exec, &w)?).clone() {
                        w.thread = target.to_owned();
                        out.push(Record::Writes(w));
                    }
                }
            }
            Ok(out)
        })?;
        for record in copies {
            let name = match &record {
                Record::Checkpoint(c) => names::checkpoint_name(&c.thread, &c.ns, &c.checkpoint_id),
                Record::Writes(w) => {
                    names::name(Kind::Writes, &[&w.thread, &w.ns, &w.checkpoint_id])
                }
                Record::Delete(_) => unreachable!("only checkpoints and writes are copied"),
            };
            self.save(exec, &name, record)?;
        }
        Ok(())
    }

    /// Keeps each namespace's latest checkpoint of each thread, stored again with all its
    /// channel values (so it needs none of the deleted ones), and deletes the rest.
    pub fn prune_keep_latest(&self, exec: &Execution, threads: &[String]) -> Result<()> {
        for thread in threads {
            let (kept, doomed) = self.with(exec, Some(thread), &|_| None, |st, _| {
                let records = st.index.live(Some(thread), None); // newest id first
                let mut latest: Vec<Arc<Rec>> = Vec::new();
                let mut doomed = Vec::new();
                for rec in records {
                    if latest.iter().any(|l| l.key.1 == rec.key.1) {
                        doomed.push((rec.key.1.clone(), rec.key.2.clone()));
                    } else {
                        latest.push(rec);
                    }
                }
                let mut kept = Vec::new();
                if !doomed.is_empty() {
                    for rec in &latest {
                        let r = st.cache.checkpoint(exec, rec)?;
                        let mut c = as_checkpoint(&r).clone();
                        c.channels = snapshot(st, &self.holders, exec, rec)?;
                        c.elsewhere = Vec::new(); // it holds every channel itself
                        kept.push(c);
                    }
                }
                Ok((kept, doomed))
            })?;
            if doomed.is_empty() {
                continue;
            }
            for c in kept {
                self.put(exec, c)?;
            }
            self.tombstone(exec, thread, Some(doomed))?;
        }
        Ok(())
    }

    fn tombstone(
        &self,
        exec: &Execution,
        thread: &str,
        checkpoints: Option<Vec<(String, String)>>,
    ) -> Result<()> {
        let name = names::name(Kind::Delete, &[thread]);
        self.save(
            exec,
            &name,
            Record::Delete(DeleteRecord {
                thread: thread.to_owned(),
                checkpoints,
            }),
        )
    }

    /// Saves a record; kept decoded (what is saved is what a read returns).
    fn save(&self, exec: &Execution, name: &str, record: Record) -> Result<()> {
        let info = exec.checkpoint_binary(name, Some(RECORD_CONTENT_TYPE), &record.encode())?;
        let mut guard = self.state.lock();
        if let Record::Checkpoint(c) = &record {
            self.holders.lock().of(exec.id()).keep_record(c);
        }
        if let Some(st) = guard.as_mut().filter(|s| s.index.execution == exec.id()) {
            st.cache.keep(info.id, Arc::new(record));
        }
        Ok(())
    }
}

/// A checkpoint's versions: as stored, else read from the checkpoint LangGraph serialised.
fn versions(c: &CheckpointRecord) -> Result<Vec<(String, Value)>> {
    match &c.versions {
        Some(v) => Ok(v.clone()),
        None => versions_in(&c.checkpoint).ok_or_else(|| {
            Error::invalid(format!(
                "the checkpoint {:?} was saved by an earlier wflo with a serializer that writes {:?}: its channel versions cannot be read",
                c.checkpoint_id, c.checkpoint.kind
            ))
        }),
    }
}

fn tuple(
    st: &mut State,
    known: &Mutex<Holders>,
    exec: &Execution,
    rec: &Arc<Rec>,
) -> Result<Tuple> {
    let r = st.cache.checkpoint(exec, rec)?;
    let c = as_checkpoint(&r);
    let channel_values = channel_values(st, known, exec, rec, c, &versions(c)?)?;
    Ok(Tuple {
        thread: rec.key.0.clone(),
        ns: rec.key.1.clone(),
        checkpoint_id: rec.key.2.clone(),
        parent: c.parent.clone(),
        checkpoint: c.checkpoint.clone(),
        metadata: c.metadata.clone(),
        channel_values,
        pending_writes: pending_writes(st, exec, rec)?,
    })
}

/// A checkpoint's channel values: the channels it changed, the rest from its ancestors (the
/// stored value of each channel at the version the checkpoint holds) — read from the records
/// its [`CheckpointRecord::elsewhere`] names, else found by walking back through its parents.
/// Where each was found is kept for the puts that follow it ([`Holders`]).
fn channel_values(
    st: &mut State,
    known: &Mutex<Holders>,
    exec: &Execution,
    rec: &Rec,
    c: &CheckpointRecord,
    versions: &[(String, Value)],
) -> Result<Vec<(String, Typed)>> {
    let mut needed: Vec<(&str, &Value)> = versions.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let mut found = Vec::new();
    // Kept unless known whole already (a checkpoint's holders never change).
    let keep = known
        .lock()
        .of(exec.id())
        .by_key
        .get(&rec.key)
        .is_none_or(|h| h.len() < versions.len());
    let mut holders: ChannelHolders = Vec::new();
    let mut take = |channels: &[Channel], holder: &str, needed: &mut Vec<(&str, &Value)>| {
        for ch in channels {
            if let Some(i) = needed
                .iter()
                .position(|(n, v)| *n == ch.name && **v == ch.version)
            {
                needed.swap_remove(i);
                if keep {
                    holders.push((ch.name.clone(), ch.version.clone(), holder.to_owned()));
                }
                if let Some(v) = &ch.value {
                    found.push((ch.name.clone(), v.clone()));
                }
            }
        }
    };
    take(&c.channels, &c.checkpoint_id, &mut needed);
    let mut seen = vec![rec.id];
    for (name, holder) in &c.elsewhere {
        if !needed.iter().any(|(n, _)| n == name) {
            continue;
        }
        let key = (rec.key.0.clone(), rec.key.1.clone(), holder.clone());
        let Some(hrec) = st.index.chosen(&key, true).cloned() else {
            continue; // deleted or pruned since: the walk below looks for it
        };
        let r = st.cache.checkpoint(exec, &hrec)?;
        // Only the named channel: the walk decides every other (the nearest ancestor's).
        let named: Vec<Channel> = as_checkpoint(&r)
            .channels
            .iter()
            .filter(|ch| &ch.name == name)
            .cloned()
            .collect();
        take(&named, holder, &mut needed);
    }
    let mut parent = c.parent.clone();
    while !needed.is_empty() {
        let Some(p) = parent.take() else { break };
        let key = (rec.key.0.clone(), rec.key.1.clone(), p);
        let Some(prec) = st.index.chosen(&key, true).cloned() else {
            break;
        };
        if seen.contains(&prec.id) {
            break;
        }
        seen.push(prec.id);
        let r = st.cache.checkpoint(exec, &prec)?;
        let pc = as_checkpoint(&r);
        take(&pc.channels, &pc.checkpoint_id, &mut needed);
        parent = pc.parent.clone();
    }
    if !needed.is_empty() {
        // Not on the parent chain (a checkpoint put without its parent): the newest record of
        // the thread holding that version, as a table of values by version would give.
        for other in st.index.others(&rec.key, &seen) {
            if needed.is_empty() {
                break;
            }
            let r = st.cache.checkpoint(exec, &other)?;
            let oc = as_checkpoint(&r);
            take(&oc.channels, &oc.checkpoint_id, &mut needed);
        }
    }
    if keep {
        known.lock().of(exec.id()).keep(rec.key.clone(), holders);
    }
    Ok(found)
}

/// A checkpoint's pending writes in LangGraph's order (`writes_sort_key`: task path, task id,
/// index). As LangGraph's savers: a regular write (task, idx) is kept once; a special one
/// (error, interrupt, …, idx < 0) is replaced.
fn pending_writes(st: &mut State, exec: &Execution, rec: &Rec) -> Result<Vec<PendingWrite>> {
    if !st.index.writes.contains_key(&rec.key) {
        return Ok(vec![]);
    }
    let mut merged: Vec<(String, String, i64, String, Typed)> = Vec::new();
    for w in st.index.writes_of(rec) {
        let r = st.cache.read(exec, &w)?;
        let Record::Writes(ws) = &*r else {
            return Err(Error::Storage(format!(
                "the LangGraph record #{} is not a task's writes",
                w.id
            )));
        };
        for x in &ws.writes {
            let at = merged
                .iter()
                .position(|m| m.1 == ws.task_id && m.2 == x.idx);
            let entry = (
                ws.task_path.clone(),
                ws.task_id.clone(),
                x.idx,
                x.channel.clone(),
                x.value.clone(),
            );
            match at {
                Some(_) if x.idx >= 0 => {}
                Some(i) => merged[i] = entry,
                None => merged.push(entry),
            }
        }
    }
    merged.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    Ok(merged
        .into_iter()
        .map(|(_, task_id, _, channel, value)| PendingWrite {
            task_id,
            channel,
            value,
        })
        .collect())
}

/// All of a checkpoint's channels with their values (none left to its ancestors).
fn snapshot(
    st: &mut State,
    known: &Mutex<Holders>,
    exec: &Execution,
    rec: &Rec,
) -> Result<Vec<Channel>> {
    let r = st.cache.checkpoint(exec, rec)?;
    let c = as_checkpoint(&r);
    let versions = versions(c)?;
    let values = channel_values(st, known, exec, rec, c, &versions)?;
    Ok(versions
        .into_iter()
        .map(|(name, version)| {
            let value = values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone());
            Channel {
                name,
                version,
                value,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::langgraph::record::Write;

    fn writes(bytes: usize) -> Arc<Record> {
        Arc::new(Record::Writes(WritesRecord {
            thread: "t".into(),
            ns: String::new(),
            checkpoint_id: "c".into(),
            task_id: "k".into(),
            task_path: String::new(),
            writes: vec![Write {
                idx: 0,
                channel: "x".into(),
                value: Typed {
                    kind: "bytes".into(),
                    data: vec![7u8; bytes].into(),
                },
            }],
        }))
    }

    #[test]
    fn small_records_are_kept_and_a_large_one_only_until_the_next_large_one() {
        let mut cache = Cache::default();
        cache.keep(1, writes(KEEP_AT_MOST_BYTES));
        cache.keep(2, writes(KEEP_AT_MOST_BYTES + 1));
        assert!(cache.get(1).is_some() && cache.get(2).is_some());
        cache.keep(3, writes(100 * 1024));
        assert!(
            cache.get(2).is_none(),
            "a large record is not kept past the next"
        );
        assert!(cache.get(1).is_some() && cache.get(3).is_some());
        // However many small ones are read, at most CACHE_LIMIT stay.
        for id in 10..10 + CACHE_LIMIT as u64 {
            cache.keep(id, writes(1));
        }
        assert_eq!(cache.records.len(), CACHE_LIMIT);
        assert!(cache.get(1).is_none(), "the oldest went first");
    }
}
