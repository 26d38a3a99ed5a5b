//! The LangGraph records of one execution at one moment, by checkpoint: which record stands
//! for a checkpoint, which are live, deleted or history, and which writes a checkpoint has.
//! Names only; states are read on demand (the tombstones' as they are indexed).
//!
//! wflo checkpoints are append-only: the newest record of a name wins. A wflo rollback marks
//! every later checkpoint superseded; superseded records are history — not listed, not
//! latest, not pending — but one fetched by its id is still returned. A tombstone hides what
//! it names that was saved before it, even after a rollback.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use super::names::{self, Kind};
use super::record::Record;
use crate::Result;
use crate::fasthash::FastMap;
use crate::store::NamedCheckpoint;

/// (thread id, namespace, checkpoint id)
pub(crate) type Key = (String, String, String);

/// One wflo checkpoint that is a LangGraph record.
#[derive(Debug)]
pub(crate) struct Rec {
    pub id: u64,
    pub sequence: u64,
    pub superseded: bool,
    pub kind: Kind,
    pub key: Key,
}

impl Rec {
    pub fn thread(&self) -> &str {
        &self.key.0
    }
}

/// [`Index::latest`]'s answers by (thread, namespace).
type Latest = FastMap<(String, String), Option<Arc<Rec>>>;

pub(crate) struct Index {
    pub execution: String,
    /// The one thread indexed (`None`: every thread of the execution). Records of others are
    /// skipped as they come.
    pub scope: Option<String>,
    pub checkpoints: FastMap<Key, Vec<Arc<Rec>>>,
    pub writes: FastMap<Key, Vec<Arc<Rec>>>,
    /// Thread → sequence of its last whole-thread tombstone.
    thread_cut: FastMap<String, u64>,
    /// Checkpoint → sequence of the last tombstone naming it.
    removed: FastMap<Key, u64>,
    /// The wflo checkpoints a rollback went back to (one that superseded something).
    rolled_back_to: HashSet<u64>,
    pub last_sequence: u64,
    pub rollbacks: u64,
    /// [`Index::latest`] by (thread, namespace), kept as checkpoints are added and forgotten
    /// for a thread when a tombstone of it is: a thread's latest load stays one lookup however
    /// long the thread (a scan of its checkpoints was 12 µs at 200 of them, and grew with
    /// every step).
    latest: RefCell<Latest>,
}

impl Index {
    /// An empty index of `execution` (of `scope`'s thread alone, if given), at its
    /// `rollbacks` rollbacks, those that superseded something going back to `rolled_back_to`.
    pub fn new(
        execution: &str,
        scope: Option<&str>,
        rollbacks: u64,
        rolled_back_to: HashSet<u64>,
    ) -> Index {
        Index {
            execution: execution.to_owned(),
            scope: scope.map(str::to_owned),
            checkpoints: FastMap::default(),
            writes: FastMap::default(),
            thread_cut: FastMap::default(),
            removed: FastMap::default(),
            rolled_back_to,
            last_sequence: 0,
            rollbacks,
            latest: RefCell::default(),
        }
    }

    /// Whether this index holds `thread`'s records.
    pub fn covers(&self, thread: Option<&str>) -> bool {
        match (&self.scope, thread) {
            (None, _) => true,
            (Some(scope), Some(thread)) => scope == thread,
            (Some(_), None) => false,
        }
    }

    /// Adds checkpoints saved after `last_sequence` (in sequence order); `read` gives a
    /// tombstone's record.
    pub fn add(
        &mut self,
        infos: impl IntoIterator<Item = NamedCheckpoint>,
        read: &mut dyn FnMut(&Rec) -> Result<Arc<Record>>,
    ) -> Result<()> {
        for info in infos {
            self.last_sequence = self.last_sequence.max(info.sequence);
            let Some(p) = names::parse(&info.name) else {
                continue;
            };
            if self.scope.as_ref().is_some_and(|t| *t != p.thread) {
                continue;
            }
            let rec = Arc::new(Rec {
                id: info.id,
                sequence: info.sequence,
                superseded: info.superseded,
                kind: p.kind,
                key: (p.thread, p.ns, p.checkpoint_id),
            });
            match rec.kind {
                Kind::Delete => match &*read(&rec)? {
                    Record::Delete(d) => {
                        // What it hides may be a thread's latest checkpoint: found again when
                        // asked.
                        let thread = rec.thread();
                        self.latest.get_mut().retain(|(t, _), _| t != thread);
                        match &d.checkpoints {
                            None => {
                                self.thread_cut.insert(rec.key.0.clone(), rec.sequence);
                            }
                            Some(listed) => {
                                for (ns, cid) in listed {
                                    self.removed.insert(
                                        (rec.key.0.clone(), ns.clone(), cid.clone()),
                                        rec.sequence,
                                    );
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(crate::Error::Storage(format!(
                            "the LangGraph record {:?} is not a tombstone",
                            info.name
                        )));
                    }
                },
                Kind::Checkpoint => {
                    self.keep_latest(&rec);
                    self.checkpoints
                        .entry(rec.key.clone())
                        .or_default()
                        .push(rec)
                }
                Kind::Writes => self.writes.entry(rec.key.clone()).or_default().push(rec),
            }
        }
        Ok(())
    }

    /// Still part of its thread (its channel values may be needed by later checkpoints).
    pub fn lineage(&self, rec: &Rec) -> bool {
        rec.sequence > self.thread_cut.get(rec.thread()).copied().unwrap_or(0)
    }

    pub fn visible(&self, rec: &Rec) -> bool {
        self.lineage(rec) && rec.sequence > self.removed.get(&rec.key).copied().unwrap_or(0)
    }

    /// The record that stands for a checkpoint: its newest live one, else its newest (history).
    pub fn chosen(&self, key: &Key, lineage: bool) -> Option<&Arc<Rec>> {
        let records = self.checkpoints.get(key)?;
        let ok = |r: &Rec| {
            if lineage {
                self.lineage(r)
            } else {
                self.visible(r)
            }
        };
        records
            .iter()
            .rev()
            .find(|r| !r.superseded && ok(r))
            .or_else(|| records.iter().rev().find(|r| ok(r)))
    }

    /// The live checkpoints (of a thread and namespace), newest checkpoint id first.
    pub fn live(&self, thread: Option<&str>, ns: Option<&str>) -> Vec<Arc<Rec>> {
        let mut found: Vec<Arc<Rec>> = self
            .checkpoints
            .keys()
            .filter(|k| thread.is_none_or(|t| k.0 == t) && ns.is_none_or(|n| k.1 == n))
            .filter_map(|k| self.chosen(k, false))
            .filter(|r| !r.superseded)
            .cloned()
            .collect();
        // Ties (one id in two threads or namespaces) by key: the same order on every call,
        // whatever the hash map's.
        found.sort_by(|a, b| b.key.2.cmp(&a.key.2).then_with(|| a.key.cmp(&b.key)));
        found
    }

    /// Keeps [`Index::latest`] of `rec`'s thread and namespace, where known, as `rec` comes
    /// after it: a checkpoint saved since (live and visible: a tombstone or rollback that
    /// hides it comes later) is the latest when its id is not older (the same id again: its
    /// newest record stands for it).
    fn keep_latest(&mut self, rec: &Arc<Rec>) {
        let memo = self.latest.get_mut();
        if memo.is_empty() || rec.superseded {
            return;
        }
        if let Some(slot) = memo.get_mut(&(rec.key.0.clone(), rec.key.1.clone()))
            && slot.as_ref().is_none_or(|l| rec.key.2 >= l.key.2)
        {
            *slot = Some(rec.clone());
        }
    }

    /// The newest live checkpoint of a thread and namespace: the first of [`Index::live`],
    /// found without collecting and sorting the others (a latest load of a thread of 200
    /// checkpoints took 24 µs that way, most of it the sort).
    pub fn latest(&self, thread: &str, ns: &str) -> Option<Arc<Rec>> {
        let key = (thread.to_owned(), ns.to_owned());
        if let Some(found) = self.latest.borrow().get(&key) {
            return found.clone();
        }
        let found = self
            .checkpoints
            .keys()
            .filter(|k| k.0 == thread && k.1 == ns)
            .filter_map(|k| self.chosen(k, false))
            .filter(|r| !r.superseded)
            .max_by(|a, b| a.key.2.cmp(&b.key.2))
            .cloned();
        self.latest.borrow_mut().insert(key, found.clone());
        found
    }

    /// A checkpoint's writes records: one in history shows all it had; a live one its live
    /// ones — writes superseded by a rollback are undone. A rollback to the checkpoint itself
    /// (one that superseded what came after it) also undoes its writes stored before it
    /// (LangGraph saves a checkpoint in the background while its tasks already write).
    pub fn writes_of(&self, rec: &Rec) -> Vec<Arc<Rec>> {
        let all = self
            .writes
            .get(&rec.key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if rec.superseded {
            return all.iter().filter(|w| self.visible(w)).cloned().collect();
        }
        let rolled_back_to = self.rolled_back_to.contains(&rec.id);
        all.iter()
            .filter(|w| {
                self.visible(w) && !w.superseded && !(rolled_back_to && w.sequence < rec.sequence)
            })
            .cloned()
            .collect()
    }

    /// Any record of the thread still visible (a delete of it has something to delete).
    pub fn has_visible(&self, thread: &str) -> bool {
        self.checkpoints
            .values()
            .chain(self.writes.values())
            .flatten()
            .any(|r| r.thread() == thread && self.visible(r))
    }

    /// The thread and namespace's records not in `seen`, still in its lineage: live ones
    /// first, newest first (where a channel version not on a checkpoint's parent chain is
    /// looked for, as a table of values by version would give it).
    pub fn others(&self, key: &Key, seen: &[u64]) -> Vec<Arc<Rec>> {
        let mut others: Vec<Arc<Rec>> = self
            .checkpoints
            .values()
            .flatten()
            .filter(|r| {
                r.key.0 == key.0 && r.key.1 == key.1 && !seen.contains(&r.id) && self.lineage(r)
            })
            .cloned()
            .collect();
        others.sort_by_key(|r| (r.superseded, std::cmp::Reverse(r.sequence)));
        others
    }
}
