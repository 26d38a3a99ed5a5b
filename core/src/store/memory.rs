//! A store that keeps everything in process memory: for tests, and for programs that only
//! want budgets and breakdowns, not history.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::allowance_sync::{AllowanceRow, PeriodRow};
use super::{
    AllowanceSync, AllowanceSynced, ChargedReservation, CheckpointState, CreditShared,
    NewCheckpoint, RolledBack, SharedCredit, SharedReserve, SharedScopeDef, SharedScopeFigures,
    Store,
};
use crate::error::{BudgetExceeded, Error, Result};
use crate::money::Nanos;
use crate::records::{CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, RollbackRecord};
use crate::resilience::breaker::machine::StoredBreaker;

/// Shared scope names: what every store accepts.
pub(crate) fn check_scope_name(name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.len() > 200
        || name.contains('@')
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(format!(
            "'{name}' is not a valid shared scope name (1-200 characters, no '@' or control characters)"
        )));
    }
    Ok(())
}

#[derive(Default)]
struct ScopeRow {
    name: String,
    limit: Option<Nanos>,
    spent: Nanos,
    reserved: Nanos,
    overrun: Nanos,
    refusing: bool,
    last_refusal_ms: Option<u64>,
}

struct HeldRow {
    key: String,
    amount: Nanos,
    lease_until_ms: u64,
    holder: String,
    execution_id: Option<String>,
    created_at_ms: u64,
    /// An allowance's last sync (`None`: a per-call reservation).
    sync: Option<(u64, crate::budget::allowance::SyncReply)>,
}

#[derive(Default)]
struct Data {
    executions: HashMap<String, ExecutionRecord>,
    /// Insertion order of executions, for listing.
    order: Vec<String>,
    calls: HashMap<std::sync::Arc<str>, Vec<CallRecord>>,
    checkpoints: HashMap<String, Vec<(CheckpointInfo, CheckpointState)>>,
    rollbacks: HashMap<String, Vec<RollbackRecord>>,
    next_checkpoint_id: u64,
    scope_defs: HashMap<String, SharedScopeDef>,
    scopes: HashMap<String, ScopeRow>,
    held: HashMap<String, Vec<HeldRow>>,
    credits: Vec<SharedCredit>,
    /// Resource holds by resource, oldest first.
    holds: HashMap<String, Vec<crate::store::ResourceHolder>>,
    resource_stats: HashMap<String, crate::store::ResourceFigures>,
    /// Approvals in the order they were asked for.
    approvals: Vec<crate::records::ApprovalRecord>,
    /// Shared circuit breakers by name, and every recorded change of state, oldest first.
    breakers: std::collections::BTreeMap<String, crate::store::SharedBreakerRow>,
    transitions: Vec<crate::resilience::Transition>,
    closed: bool,
}

impl Data {
    fn add_transition(&mut self, t: crate::resilience::Transition) {
        let name = t.breaker.clone();
        self.transitions.push(t);
        let kept = self
            .transitions
            .iter()
            .filter(|x| x.breaker == name)
            .count();
        if kept > crate::store::STORED_TRANSITIONS {
            let pos = self.transitions.iter().position(|x| x.breaker == name);
            if let Some(pos) = pos {
                self.transitions.remove(pos);
            }
        }
    }
}

impl Data {
    /// Charges the lease-expired reservations touching `keys` (all of them with `None`):
    /// each one's amount moves from reserved to spent on every key it holds, and an
    /// `unsettled` call records it in its execution.
    fn charge_expired(&mut self, keys: Option<&[String]>, now_ms: u64) -> Vec<ChargedReservation> {
        let mut ids: Vec<String> = self
            .held
            .iter()
            .filter(|(_, rows)| {
                rows.iter()
                    .any(|h| h.lease_until_ms <= now_ms && keys.is_none_or(|k| k.contains(&h.key)))
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        let mut charged = Vec::with_capacity(ids.len());
        for id in ids {
            let rows = self.held.remove(&id).unwrap_or_default();
            let amount = rows.iter().map(|h| h.amount).max().unwrap_or(0);
            for h in &rows {
                if let Some(s) = self.scopes.get_mut(&h.key) {
                    s.reserved = s.reserved.saturating_sub(h.amount);
                    s.spent = s.spent.saturating_add(h.amount);
                }
            }
            let Some(first) = rows.first() else { continue };
            if amount == 0 {
                // An emptied allowance whose lease ended: its row goes, nothing was charged.
                continue;
            }
            let call = first
                .execution_id
                .as_deref()
                .filter(|e| self.executions.contains_key(*e))
                .map(|e| {
                    let call = super::unsettled_call(
                        e,
                        &id,
                        &first.holder,
                        amount,
                        first.created_at_ms,
                        now_ms,
                    );
                    self.push_call(call)
                });
            charged.push(ChargedReservation {
                id,
                holder: first.holder.clone(),
                execution_id: first.execution_id.clone(),
                keys: rows.iter().map(|h| h.key.clone()).collect(),
                amount_nanos: amount,
                call,
            });
        }
        charged
    }

    /// Appends a call to its execution: a sequence number already taken (a call of another
    /// engine, an `unsettled` one) takes the next free one, as in the databases.
    fn push_call(&mut self, mut call: CallRecord) -> CallRecord {
        if let Some(e) = self.executions.get_mut(&*call.execution_id) {
            e.spent_nanos = e.spent_nanos.saturating_add(call.cost_nanos);
            e.calls += u64::from(call.status != CallStatus::Refused);
        }
        let list = self.calls.entry(call.execution_id.clone()).or_default();
        let taken = call.seq == 0
            || list
                .last()
                .is_some_and(|l| l.seq >= call.seq && list.iter().any(|c| c.seq == call.seq));
        if taken {
            call.seq = list.iter().map(|c| c.seq).max().unwrap_or(0) + 1;
        }
        list.push(call.clone());
        call
    }
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
                // Spend and call count follow the call records.
                *r = ExecutionRecord {
                    spent_nanos: r.spent_nanos,
                    calls: r.calls,
                    ..record.clone()
                };
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
            d.push_call(call);
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

    fn save_checkpoint(
        &self,
        cp: NewCheckpoint<'_>,
        execution: Option<&ExecutionRecord>,
    ) -> Result<CheckpointInfo> {
        if let Some(execution) = execution {
            self.update_execution(execution)?;
        }
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
            state_bytes: cp.state.len as u64,
            content_type: cp.state.content_type.clone(),
        };
        let state = super::state_codec::decode(
            cp.state.encoding,
            cp.state.bytes.to_vec(),
            cp.state.len,
            cp.state.content_type.clone(),
        )?;
        list.push((info.clone(), state));
        Ok(info)
    }

    fn list_checkpoints_after(
        &self,
        execution_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<CheckpointInfo>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.checkpoints
            .get(execution_id)
            .map(|l| {
                l.iter()
                    .filter(|(c, _)| c.sequence > after_sequence)
                    .map(|(c, _)| c.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn checkpoint_state(&self, execution_id: &str, checkpoint_id: u64) -> Result<CheckpointState> {
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
        json_only: bool,
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
        if let (true, Some(content_type)) = (json_only, target.1.content_type()) {
            return Err(super::state_codec::binary_not_json(content_type));
        }
        let mut superseded = 0;
        for (c, _) in list.iter_mut() {
            if c.sequence > target.0.sequence && !c.superseded {
                c.superseded = true;
                superseded += 1;
            }
        }
        let rollback = RollbackRecord {
            execution_id: execution_id.to_owned(),
            checkpoint_id: Some(target.0.id),
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

    fn define_shared_scope(&self, def: &SharedScopeDef, _now_ms: u64) -> Result<()> {
        check_scope_name(&def.name)?;
        let mut d = self.data.lock();
        open(&d)?;
        for row in d.scopes.values_mut().filter(|r| r.name == def.name) {
            row.limit = def.limit_nanos;
        }
        let kept = d.scope_defs.get(&def.name).and_then(|old| old.allowances);
        let allowances = Some(def.allowances.or(kept).unwrap_or(true));
        d.scope_defs.insert(
            def.name.clone(),
            SharedScopeDef {
                allowances,
                ..def.clone()
            },
        );
        Ok(())
    }

    fn shared_scope_names(&self) -> Result<Vec<String>> {
        let d = self.data.lock();
        open(&d)?;
        let mut names: Vec<String> = d.scope_defs.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn shared_scope(&self, name: &str, now_ms: u64) -> Result<SharedScopeFigures> {
        let d = self.data.lock();
        open(&d)?;
        let def = d
            .scope_defs
            .get(name)
            .ok_or_else(|| super::undefined_scope(name))?;
        let key = def.period.key(name, now_ms);
        let empty = ScopeRow::default();
        let row = d.scopes.get(&key).unwrap_or(&empty);
        let allowances = d
            .held
            .values()
            .flatten()
            .filter(|h| h.key == key && h.sync.is_some() && h.amount > 0);
        let (allowance_nanos, holders) = allowances.fold((0, Vec::new()), |(n, mut hs), h| {
            hs.push(&h.holder);
            (n + h.amount, hs)
        });
        let allowance_holders = holders
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len() as u64;
        Ok(SharedScopeFigures {
            name: name.to_owned(),
            key,
            period: def.period,
            limit_nanos: def.limit_nanos,
            spent_nanos: row.spent,
            reserved_nanos: row.reserved,
            overrun_nanos: row.overrun,
            refusing: row.refusing,
            allowances: def.allowances.unwrap_or(true),
            allowance_nanos,
            allowance_holders,
        })
    }

    fn reserve_shared(&self, r: &SharedReserve<'_>) -> Result<Vec<String>> {
        let mut d = self.data.lock();
        open(&d)?;
        if d.held.contains_key(r.id) {
            return Err(Error::Conflict(format!(
                "reservation id {} is already used",
                r.id
            )));
        }
        let mut keys = Vec::with_capacity(r.scopes.len());
        for name in r.scopes {
            let def = d
                .scope_defs
                .get(name)
                .ok_or_else(|| super::undefined_scope(name))?
                .clone();
            let key = def.period.key(name, r.now_ms);
            d.scopes.entry(key.clone()).or_insert_with(|| ScopeRow {
                name: name.clone(),
                limit: def.limit_nanos,
                ..ScopeRow::default()
            });
            keys.push(key);
        }
        // Charging stands even when this reservation is refused (as in the databases, whose
        // refusal commits the charge: see their stores).
        d.charge_expired(Some(&keys), r.now_ms);
        for key in &keys {
            let row = &d.scopes[key];
            if let Some(limit) = row.limit {
                if row.refusing
                    || row
                        .spent
                        .saturating_add(row.reserved)
                        .saturating_add(r.amount_nanos)
                        > limit
                {
                    let refusal = Error::BudgetExceeded(Box::new(BudgetExceeded {
                        scope: key.clone(),
                        limit_nanos: limit,
                        spent_nanos: row.spent,
                        reserved_nanos: row.reserved,
                        requested_nanos: r.amount_nanos,
                        retry_note: None,
                        hint: None,
                    }));
                    if let Some(row) = d.scopes.get_mut(key) {
                        row.last_refusal_ms = Some(r.now_ms);
                    }
                    return Err(refusal);
                }
            }
        }
        let mut rows = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(s) = d.scopes.get_mut(key) {
                s.reserved += r.amount_nanos;
            }
            rows.push(HeldRow {
                key: key.clone(),
                amount: r.amount_nanos,
                lease_until_ms: r.lease_until_ms,
                holder: r.holder.to_owned(),
                execution_id: r.execution_id.map(str::to_owned),
                created_at_ms: r.now_ms,
                sync: None,
            });
        }
        d.held.insert(r.id.to_owned(), rows);
        Ok(keys)
    }

    fn settle_shared(
        &self,
        id: &str,
        keys: &[String],
        actual: Nanos,
        _now_ms: u64,
    ) -> Result<Nanos> {
        let mut d = self.data.lock();
        open(&d)?;
        let held = d.held.remove(id).unwrap_or_default();
        let mut worst = 0;
        for key in keys {
            let amount = held.iter().find(|h| &h.key == key).map_or(0, |h| h.amount);
            let overrun = actual.saturating_sub(amount);
            worst = worst.max(overrun);
            if let Some(s) = d.scopes.get_mut(key) {
                s.reserved = s.reserved.saturating_sub(amount);
                s.spent = s.spent.saturating_add(actual);
                s.overrun = s.overrun.saturating_add(overrun);
                s.refusing |= overrun > 0 && s.limit.is_some();
            }
        }
        Ok(worst)
    }

    fn sync_allowance(&self, s: &AllowanceSync<'_>) -> Result<AllowanceSynced> {
        let mut d = self.data.lock();
        open(&d)?;
        let def = d
            .scope_defs
            .get(s.name)
            .ok_or_else(|| super::undefined_scope(s.name))?
            .clone();
        d.scopes
            .entry(s.key.to_owned())
            .or_insert_with(|| ScopeRow {
                name: s.name.to_owned(),
                limit: def.limit_nanos,
                ..ScopeRow::default()
            });
        d.charge_expired(Some(&[s.key.to_owned()]), s.now_ms);
        let mut others: Vec<&str> = d
            .held
            .iter()
            .flat_map(|(id, rows)| rows.iter().map(move |h| (id, h)))
            .filter(|(id, h)| {
                h.key == s.key
                    && *id != s.id
                    && h.holder != s.holder
                    && h.sync.is_some()
                    && h.amount > 0
            })
            .map(|(_, h)| h.holder.as_str())
            .collect();
        others.sort_unstable();
        others.dedup();
        let other_holders = others.len() as u64;
        let existing = d.held.get(s.id).and_then(|rows| rows.first());
        let created_at_ms = existing.map_or(s.now_ms, |h| h.created_at_ms);
        let execution_id = s
            .execution_id
            .map(str::to_owned)
            .or_else(|| existing.and_then(|h| h.execution_id.clone()));
        let mut row = existing.and_then(|h| {
            h.sync.map(|(seq, reply)| AllowanceRow {
                amount: h.amount,
                seq,
                reply,
            })
        });
        let scope = d.scopes.get_mut(s.key).expect("created above");
        let mut period = PeriodRow {
            limit: scope.limit,
            spent: scope.spent,
            reserved: scope.reserved,
            overrun: scope.overrun,
            refusing: scope.refusing,
            last_refusal_ms: scope.last_refusal_ms,
        };
        let out = super::allowance_sync::apply(s, &mut period, &mut row, other_holders);
        scope.spent = period.spent;
        scope.reserved = period.reserved;
        scope.overrun = period.overrun;
        scope.refusing = period.refusing;
        scope.last_refusal_ms = period.last_refusal_ms;
        let row = row.expect("apply leaves a row");
        d.held.insert(
            s.id.to_owned(),
            vec![HeldRow {
                key: s.key.to_owned(),
                amount: row.amount,
                lease_until_ms: s.lease_until_ms,
                holder: s.holder.to_owned(),
                execution_id,
                created_at_ms,
                sync: Some((row.seq, row.reply)),
            }],
        );
        Ok(out)
    }

    fn release_shared(&self, id: &str) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        for h in d.held.remove(id).unwrap_or_default() {
            if let Some(s) = d.scopes.get_mut(&h.key) {
                s.reserved = s.reserved.saturating_sub(h.amount);
            }
        }
        Ok(())
    }

    fn renew_shared(&self, id: &str, lease_until_ms: u64) -> Result<bool> {
        let mut d = self.data.lock();
        open(&d)?;
        Ok(match d.held.get_mut(id) {
            Some(rows) => {
                rows.iter_mut()
                    .for_each(|h| h.lease_until_ms = lease_until_ms);
                true
            }
            None => false,
        })
    }

    fn try_acquire(
        &self,
        a: &crate::store::Acquire<'_>,
    ) -> Result<Option<Vec<crate::store::ResourceHolder>>> {
        let mut d = self.data.lock();
        open(&d)?;
        let holds = d.holds.entry(a.resource.to_owned()).or_default();
        holds.retain(|h| h.lease_until_ms > a.now_ms);
        if holds.len() >= a.max_concurrent as usize {
            return Ok(Some(holds.clone()));
        }
        holds.push(crate::store::ResourceHolder {
            hold_id: a.hold_id.to_owned(),
            holder: a.holder.to_owned(),
            workflow_id: a.workflow_id.to_owned(),
            acquired_at_ms: a.now_ms,
            lease_until_ms: a.lease_until_ms,
        });
        let s = d.resource_stats.entry(a.resource.to_owned()).or_default();
        s.acquisitions += 1;
        s.contentions += u64::from(a.contended);
        s.total_wait_ms = s.total_wait_ms.saturating_add(a.waited_ms);
        s.max_wait_ms = s.max_wait_ms.max(a.waited_ms);
        Ok(None)
    }

    fn release_resource(&self, hold_id: &str) -> Result<bool> {
        let mut d = self.data.lock();
        open(&d)?;
        let mut found = false;
        for holds in d.holds.values_mut() {
            let before = holds.len();
            holds.retain(|h| h.hold_id != hold_id);
            found |= holds.len() != before;
        }
        Ok(found)
    }

    fn renew_resource(&self, hold_id: &str, lease_until_ms: u64) -> Result<bool> {
        let mut d = self.data.lock();
        open(&d)?;
        let hold = d
            .holds
            .values_mut()
            .flat_map(|h| h.iter_mut())
            .find(|h| h.hold_id == hold_id);
        Ok(match hold {
            Some(h) => {
                h.lease_until_ms = lease_until_ms;
                true
            }
            None => false,
        })
    }

    fn record_resource_timeout(&self, resource: &str, contended: bool) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        let s = d.resource_stats.entry(resource.to_owned()).or_default();
        s.timeouts += 1;
        s.contentions += u64::from(contended);
        Ok(())
    }

    fn resource_figures(
        &self,
        resource: &str,
        now_ms: u64,
    ) -> Result<crate::store::ResourceFigures> {
        let d = self.data.lock();
        open(&d)?;
        let mut f = d.resource_stats.get(resource).cloned().unwrap_or_default();
        f.resource = resource.to_owned();
        f.holders = d
            .holds
            .get(resource)
            .map(|h| {
                h.iter()
                    .filter(|h| h.lease_until_ms > now_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(f)
    }

    fn reset_resource_stats(&self, resource: &str) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        d.resource_stats.remove(resource);
        Ok(())
    }

    fn create_approval(
        &self,
        a: &crate::records::ApprovalRecord,
    ) -> Result<crate::records::ApprovalRecord> {
        let mut d = self.data.lock();
        open(&d)?;
        if let Some(found) = d
            .approvals
            .iter()
            .find(|x| x.execution_id == a.execution_id && x.gate == a.gate)
        {
            return Ok(found.clone());
        }
        if d.approvals.iter().any(|x| x.id == a.id) {
            return Err(Error::Conflict(format!("approval {} exists", a.id)));
        }
        d.approvals.push(a.clone());
        Ok(a.clone())
    }

    fn approval(&self, id: &str) -> Result<crate::records::ApprovalRecord> {
        let d = self.data.lock();
        open(&d)?;
        d.approvals
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("approval {id}")))
    }

    fn list_approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<crate::records::ApprovalRecord>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.approvals
            .iter()
            .rev()
            .filter(|a| !pending_only || a.status == crate::records::ApprovalStatus::Pending)
            .take(limit)
            .cloned()
            .collect())
    }

    fn decide_approval(
        &self,
        decision: &crate::store::ApprovalDecision<'_>,
    ) -> Result<crate::records::ApprovalRecord> {
        let mut d = self.data.lock();
        open(&d)?;
        let a = d
            .approvals
            .iter_mut()
            .find(|a| a.id == decision.id)
            .ok_or_else(|| Error::NotFound(format!("approval {}", decision.id)))?;
        crate::store::approvals::decide(a, decision)?;
        Ok(a.clone())
    }

    fn step_breaker(
        &self,
        step: &crate::resilience::breaker::machine::BreakerStep<'_>,
    ) -> Result<crate::resilience::breaker::machine::StoredStep> {
        let mut d = self.data.lock();
        open(&d)?;
        let stored = d.breakers.get(step.name).map(|r| StoredBreaker {
            state_json: &r.state_json,
            config_json: &r.config_json,
        });
        let done = crate::resilience::breaker::machine::step_stored(stored, step)?;
        if let Some(json) = &done.json {
            d.breakers.insert(
                step.name.to_owned(),
                crate::store::SharedBreakerRow {
                    name: step.name.to_owned(),
                    state_json: json.clone(),
                    config_json: done.config_json.clone(),
                    updated_at_ms: step.now_ms,
                    updated_by: step.holder.to_owned(),
                },
            );
        }
        if let Some(t) = &done.transition {
            d.add_transition(t.clone());
        }
        Ok(done)
    }

    fn shared_breaker(&self, name: &str) -> Result<Option<crate::store::SharedBreakerRow>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.breakers.get(name).cloned())
    }

    fn shared_breakers(&self) -> Result<Vec<crate::store::SharedBreakerRow>> {
        let d = self.data.lock();
        open(&d)?;
        Ok(d.breakers.values().cloned().collect())
    }

    fn record_breaker_transition(&self, t: &crate::resilience::Transition) -> Result<()> {
        let mut d = self.data.lock();
        open(&d)?;
        d.add_transition(t.clone());
        Ok(())
    }

    fn breaker_transitions(
        &self,
        q: &crate::store::TransitionQuery<'_>,
    ) -> Result<Vec<crate::resilience::Transition>> {
        let d = self.data.lock();
        open(&d)?;
        let mut v: Vec<_> = d
            .transitions
            .iter()
            .rev()
            .filter(|t| q.matches(t))
            .take(q.limit)
            .cloned()
            .collect();
        v.reverse();
        Ok(v)
    }

    fn reclaim_expired_shared(&self, now_ms: u64) -> Result<Vec<ChargedReservation>> {
        let mut d = self.data.lock();
        open(&d)?;
        Ok(d.charge_expired(None, now_ms))
    }

    fn credit_shared(&self, c: &CreditShared<'_>) -> Result<SharedCredit> {
        super::check_credit(c)?;
        let mut d = self.data.lock();
        open(&d)?;
        let def = d
            .scope_defs
            .get(c.name)
            .ok_or_else(|| super::undefined_scope(c.name))?;
        let key = def.period.key(c.name, c.now_ms);
        let spent = d.scopes.get(&key).map_or(0, |s| s.spent);
        if c.amount_nanos > spent {
            return Err(super::credit_too_large(&key, c.amount_nanos, spent));
        }
        if let Some(s) = d.scopes.get_mut(&key) {
            s.spent -= c.amount_nanos;
        }
        let credit = SharedCredit {
            id: d.credits.len() as u64 + 1,
            name: c.name.to_owned(),
            key,
            amount_nanos: c.amount_nanos,
            by: c.by.to_owned(),
            reason: c.reason.to_owned(),
            at_ms: c.now_ms,
        };
        d.credits.push(credit.clone());
        Ok(credit)
    }

    fn shared_credits(&self, name: &str) -> Result<Vec<SharedCredit>> {
        let d = self.data.lock();
        open(&d)?;
        if !d.scope_defs.contains_key(name) {
            return Err(super::undefined_scope(name));
        }
        Ok(d.credits
            .iter()
            .filter(|c| c.name == name)
            .cloned()
            .collect())
    }

    fn shared_scope_holders(&self, name: &str, now_ms: u64) -> Result<Vec<String>> {
        let d = self.data.lock();
        open(&d)?;
        let def = d
            .scope_defs
            .get(name)
            .ok_or_else(|| super::undefined_scope(name))?;
        let key = def.period.key(name, now_ms);
        let mut holders: Vec<String> = d
            .held
            .values()
            .flatten()
            .filter(|h| h.key == key && h.lease_until_ms > now_ms)
            .map(|h| h.holder.clone())
            .collect();
        holders.sort();
        holders.dedup();
        Ok(holders)
    }

    fn flush(&self) -> Result<()> {
        open(&self.data.lock())
    }

    fn close(&self) -> Result<()> {
        self.data.lock().closed = true;
        Ok(())
    }
}
