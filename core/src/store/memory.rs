//! A store that keeps everything in process memory: for tests, and for programs that only
//! want budgets and breakdowns, not history.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::{NewCheckpoint, RolledBack, Store};
use crate::error::{Error, Result};
use crate::records::{CallRecord, CheckpointInfo, ExecutionRecord, RollbackRecord};

#[derive(Default)]
struct Data {
    executions: HashMap<String, ExecutionRecord>,
    /// Insertion order of executions, for listing.
    order: Vec<String>,
    calls: HashMap<std::sync::Arc<str>, Vec<CallRecord>>,
    checkpoints: HashMap<String, Vec<(CheckpointInfo, String)>>,
    rollbacks: HashMap<String, Vec<RollbackRecord>>,
    next_checkpoint_id: u64,
    closed: bool,
}

/// Everything in memory; gone when the process ends.
#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

fn open(data: &Data) -> Result<()> {
    if data.closed {
        Err(Error::Closed("the store is closed".into()))
    } else {
        Ok(())
    }
}

impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn create_execution(&self, record: &ExecutionRecord) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        if d.executions.contains_key(&record.id) {
            return Err(Error::Conflict(format!(
                "execution {} already exists",
                record.id
            )));
        }
        d.order.push(record.id.clone());
        d.executions.insert(record.id.clone(), record.clone());
        Ok(())
    }

    fn update_execution(&self, record: &ExecutionRecord) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        match d.executions.get_mut(&record.id) {
            Some(r) => {
                *r = record.clone();
                Ok(())
            }
            None => Err(Error::NotFound(format!("execution {}", record.id))),
        }
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.executions.get(id).cloned())
    }

    fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.order
            .iter()
            .rev()
            .take(limit)
            .filter_map(|id| d.executions.get(id).cloned())
            .collect())
    }

    fn append_calls(&self, calls: Vec<CallRecord>) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        for call in calls {
            match d.calls.get_mut(&*call.execution_id) {
                Some(list) => list.push(call),
                None => {
                    d.calls.insert(call.execution_id.clone(), vec![call]);
                }
            }
        }
        Ok(())
    }

    fn list_calls(&self, execution_id: &str) -> Result<Vec<CallRecord>> {
        let d = self.data.lock();
        open(&d)?;
        let mut calls = d.calls.get(execution_id).cloned().unwrap_or_default();
        calls.sort_by_key(|c| c.seq);
        Ok(calls)
    }

    fn save_checkpoint(&self, cp: NewCheckpoint<'_>) -> Result<CheckpointInfo> {
        let mut d = self.data.lock();
        open(&d)?;
        if !d.executions.contains_key(cp.execution_id) {
            return Err(Error::NotFound(format!("execution {}", cp.execution_id)));
        }
        d.next_checkpoint_id += 1;
        let id = d.next_checkpoint_id;
        let list = d.checkpoints.entry(cp.execution_id.to_owned()).or_default();
        let sequence = list.last().map_or(1, |(c, _)| c.sequence + 1);
        let parent_id = list
            .iter()
            .rev()
            .find(|(c, _)| !c.superseded)
            .map(|(c, _)| c.id);
        let info = CheckpointInfo {
            id,
            execution_id: cp.execution_id.to_owned(),
            name: cp.name.to_owned(),
            sequence,
            parent_id,
            spent_nanos: cp.spent_nanos,
            created_at_ms: cp.created_at_ms,
            superseded: false,
            state_bytes: cp.state.len() as u64,
        };
        list.push((info.clone(), cp.state.to_owned()));
        Ok(info)
    }

    fn list_checkpoints(&self, execution_id: &str) -> Result<Vec<CheckpointInfo>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.checkpoints
            .get(execution_id)
            .map(|l| l.iter().map(|(c, _)| c.clone()).collect())
            .unwrap_or_default())
    }

    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<String> {
        let d = self.data.lock();
        open(&d)?;
        d.checkpoints
            .get(execution_id)
            .and_then(|l| l.iter().find(|(c, _)| c.id == checkpoint_id))
            .map(|(_, s)| s.clone())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "checkpoint {checkpoint_id} of execution {execution_id}"
                ))
            })
    }

    fn rollback(
        &self,
        execution_id: &str,
        name: &str,
        spent_nanos: u64,
        at_ms: u64,
    ) -> Result<RolledBack> {
        let mut d = self.data.lock();
        open(&d)?;
        let list = d.checkpoints.get_mut(execution_id).ok_or_else(|| {
            Error::NotFound(format!(
                "no checkpoint named '{name}' in execution {execution_id}"
            ))
        })?;
        let target = list
            .iter()
            .rev()
            .find(|(c, _)| c.name == name && !c.superseded)
            .map(|(c, s)| (c.clone(), s.clone()))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no checkpoint named '{name}' in execution {execution_id}"
                ))
            })?;
        let mut superseded = 0;
        for (c, _) in list.iter_mut() {
            if c.sequence > target.0.sequence && !c.superseded {
                c.superseded = true;
                superseded += 1;
            }
        }
        let rollback = RollbackRecord {
            execution_id: execution_id.to_owned(),
            checkpoint_id: target.0.id,
            checkpoint_name: name.to_owned(),
            superseded,
            spent_nanos,
            at_ms,
        };
        d.rollbacks
            .entry(execution_id.to_owned())
            .or_default()
            .push(rollback.clone());
        Ok(RolledBack {
            checkpoint: target.0,
            state: target.1,
            rollback,
        })
    }

    fn list_rollbacks(&self, execution_id: &str) -> Result<Vec<RollbackRecord>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.rollbacks.get(execution_id).cloned().unwrap_or_default())
    }

    fn prune_checkpoints(&self, execution_id: &str, keep_last: usize) -> Result<u64> {
        let mut d = self.data.lock();
        open(&d)?;
        let Some(list) = d.checkpoints.get_mut(execution_id) else {
            return Ok(0);
        };
        let excess = list.len().saturating_sub(keep_last);
        list.drain(..excess);
        Ok(excess as u64)
    }

    fn flush(&self) -> Result<()> {
        open(&self.data.lock())
    }

    fn close(&self) -> Result<()> {
        self.data.lock().closed = true;
        Ok(())
    }
}
