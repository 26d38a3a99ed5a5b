//! The in-process budget ledger: nested scopes with limits, and reservations with leases.
//!
//! A reservation is checked against its scope and EVERY ancestor and booked on all of them
//! under one lock, so concurrent callers can never together pass a limit. The lock is held for
//! a few hundred nanoseconds (no I/O, no allocation on the common path), which keeps the
//! metering hot path fast even with many threads.

use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{BudgetExceeded, Error, Result};
use crate::money::{MAX_NANOS, Nanos};

/// A scope in a [`Ledger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(u64);

/// A reservation in a [`Ledger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservationId(u64);

/// A scope's figures at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeSnapshot {
    pub label: Arc<str>,
    pub limit_nanos: Option<Nanos>,
    pub spent_nanos: Nanos,
    pub reserved_nanos: Nanos,
    /// Cost settled beyond what was reserved (or, for calls recorded without a reservation,
    /// spend beyond the limit).
    pub overrun_nanos: Nanos,
    /// True once an overrun made the scope refuse further calls.
    pub refusing: bool,
}

/// What a settlement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The part of the actual cost that exceeded the reservation (0 normally).
    pub overrun_nanos: Nanos,
    /// False when the reservation's lease had already expired and been reclaimed.
    pub was_held: bool,
    /// The settled scope's limit and spend after the settlement, and those of the top of its
    /// chain (the execution): what the alert check needs, without reading the ledger again.
    pub scope_figures: (Option<Nanos>, Nanos),
    pub root_figures: (Option<Nanos>, Nanos),
}

#[derive(Debug)]
struct Scope {
    label: Arc<str>,
    parent: Option<ScopeId>,
    limit: Option<Nanos>,
    spent: Nanos,
    reserved: Nanos,
    overrun: Nanos,
    refusing: bool,
    children: u32,
}

#[derive(Debug)]
struct Held {
    scope: ScopeId,
    amount: Nanos,
    deadline_ms: u64,
}

type IdMap<K, V> = crate::fasthash::FastMap<K, V>;

#[derive(Debug, Default)]
struct State {
    scopes: IdMap<ScopeId, Scope>,
    held: IdMap<ReservationId, Held>,
    next_scope: u64,
    next_reservation: u64,
    /// The earliest lease deadline among held reservations (`u64::MAX` when none), so the
    /// common path pays one comparison for lease expiry.
    earliest_deadline_ms: u64,
}

/// Nested budget scopes and their reservations. Thread-safe; share it by reference or `Arc`.
#[derive(Debug)]
pub struct Ledger {
    state: Mutex<State>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            state: Mutex::new(State {
                earliest_deadline_ms: u64::MAX,
                ..State::default()
            }),
        }
    }

    /// Creates a scope under `parent` (or a root scope) with an optional limit and the spend
    /// it already has (a resumed execution).
    pub fn create_scope(
        &self,
        label: Arc<str>,
        parent: Option<ScopeId>,
        limit: Option<Nanos>,
        spent: Nanos,
    ) -> Result<ScopeId> {
        check_amount(limit.unwrap_or(0), "budget")?;
        check_amount(spent, "spent")?;
        let mut st = self.state.lock();
        if let Some(p) = parent {
            st.scopes
                .get_mut(&p)
                .ok_or_else(|| Error::NotFound("parent budget scope is closed".into()))?
                .children += 1;
        }
        st.next_scope += 1;
        let id = ScopeId(st.next_scope);
        st.scopes.insert(
            id,
            Scope {
                label,
                parent,
                limit,
                spent,
                reserved: 0,
                overrun: 0,
                refusing: false,
                children: 0,
            },
        );
        Ok(id)
    }

    /// Changes a scope's limit. Lowering it below what is spent makes the scope refuse calls.
    pub fn set_limit(&self, scope: ScopeId, limit: Option<Nanos>) -> Result<()> {
        check_amount(limit.unwrap_or(0), "budget")?;
        let mut st = self.state.lock();
        st.scope_mut(scope)?.limit = limit;
        Ok(())
    }

    /// Removes a scope once nothing refers to it any more (its reservations are released).
    pub fn close_scope(&self, scope: ScopeId) {
        let mut st = self.state.lock();
        let held: Vec<ReservationId> = st
            .held
            .iter()
            .filter(|(_, h)| h.scope == scope)
            .map(|(id, _)| *id)
            .collect();
        for id in held {
            st.release(id);
        }
        if let Some(s) = st.scopes.remove(&scope) {
            if let Some(p) = s.parent.and_then(|p| st.scopes.get_mut(&p)) {
                p.children = p.children.saturating_sub(1);
            }
        }
    }

    /// True when the scope or an ancestor has a limit.
    pub fn is_limited(&self, scope: ScopeId) -> bool {
        let st = self.state.lock();
        st.chain(scope).any(|s| s.limit.is_some())
    }

    /// How much can still be reserved in `scope`: the smallest headroom along the chain, or
    /// `None` when no scope on it has a limit.
    pub fn available(&self, scope: ScopeId) -> Option<Nanos> {
        self.state.lock().available(scope)
    }

    /// Reserves an amount computed under the ledger's lock from what is still available, so a
    /// clamping policy and the check it relies on are one atomic step. `amount_for` gets the
    /// headroom (`None` = unlimited) and returns the amount to reserve, or an error to refuse.
    /// The reservation holds for `lease_ms` from `now_ms`.
    pub fn reserve_with<T>(
        &self,
        scope: ScopeId,
        now_ms: u64,
        lease_ms: u64,
        amount_for: impl FnOnce(Option<Nanos>) -> Result<(Nanos, T)>,
    ) -> Result<(ReservationId, Nanos, T)> {
        let mut st = self.state.lock();
        if now_ms >= st.earliest_deadline_ms {
            let reclaimed = st.reclaim_expired(now_ms);
            if reclaimed > 0 {
                // Outside the lock: whatever receives the event may not call back in under it.
                drop(st);
                crate::events::leases_reclaimed(reclaimed);
                st = self.state.lock();
            }
        }
        st.scope(scope)?;
        let (amount, extra) = amount_for(st.available(scope))?;
        check_amount(amount, "reservation")?;
        // Check every scope on the chain before booking anything.
        for s in st.chain(scope) {
            if let Some(limit) = s.limit {
                let needed = s.spent.saturating_add(s.reserved).saturating_add(amount);
                if s.refusing || needed > limit {
                    return Err(Error::BudgetExceeded(Box::new(BudgetExceeded {
                        scope: s.label.to_string(),
                        limit_nanos: limit,
                        spent_nanos: s.spent,
                        reserved_nanos: s.reserved,
                        requested_nanos: amount,
                        retry_note: None,
                        hint: None,
                    })));
                }
            }
        }
        st.for_chain(scope, |s| s.reserved += amount);
        st.next_reservation += 1;
        let id = ReservationId(st.next_reservation);
        let deadline_ms = now_ms.saturating_add(lease_ms);
        st.earliest_deadline_ms = st.earliest_deadline_ms.min(deadline_ms);
        st.held.insert(
            id,
            Held {
                scope,
                amount,
                deadline_ms,
            },
        );
        Ok((id, amount, extra))
    }

    /// Reserves a fixed amount.
    pub fn reserve(
        &self,
        scope: ScopeId,
        amount: Nanos,
        now_ms: u64,
        lease_ms: u64,
    ) -> Result<ReservationId> {
        self.reserve_with(scope, now_ms, lease_ms, |_| Ok((amount, ())))
            .map(|(id, _, ())| id)
    }

    /// Settles a reservation with the actual cost: the reservation is released and the cost
    /// becomes spend on every scope of the chain. A cost above the reservation is booked too
    /// (the money is spent) and recorded as an overrun that makes limited scopes refuse further
    /// calls. A reservation whose lease was already reclaimed is settled as pure spend.
    pub fn settle(&self, scope: ScopeId, id: ReservationId, actual: Nanos) -> Result<Settled> {
        check_amount(actual, "cost")?;
        let mut st = self.state.lock();
        let held = st.held.remove(&id);
        let (reserved, was_held) = match held {
            Some(h) => (h.amount, true),
            None => (0, false),
        };
        let overrun = actual.saturating_sub(reserved);
        let (mut first, mut last) = (None, (None, 0));
        st.for_chain(scope, |s| {
            s.reserved = s.reserved.saturating_sub(reserved);
            s.spent = s.spent.saturating_add(actual);
            if overrun > 0 && s.limit.is_some() {
                s.overrun = s.overrun.saturating_add(overrun);
                s.refusing = true;
            }
            last = (s.limit, s.spent);
            first.get_or_insert(last);
        });
        Ok(Settled {
            overrun_nanos: overrun,
            was_held,
            scope_figures: first.unwrap_or(last),
            root_figures: last,
        })
    }

    /// Releases a reservation without spend (the call failed before costing anything).
    /// Returns false when it was no longer held.
    pub fn release(&self, id: ReservationId) -> bool {
        self.state.lock().release(id)
    }

    /// Books spend that had no reservation (a call recorded after the fact). Spend beyond a
    /// limit is recorded as an overrun; the limit then refuses further calls by itself.
    pub fn charge(&self, scope: ScopeId, actual: Nanos) -> Result<Nanos> {
        check_amount(actual, "cost")?;
        let mut st = self.state.lock();
        st.scope(scope)?;
        let mut worst_excess = 0;
        st.for_chain(scope, |s| {
            let before = s.spent.saturating_add(s.reserved);
            s.spent = s.spent.saturating_add(actual);
            if let Some(limit) = s.limit {
                let after = s.spent.saturating_add(s.reserved);
                let excess = after
                    .saturating_sub(limit)
                    .saturating_sub(before.saturating_sub(limit));
                s.overrun = s.overrun.saturating_add(excess);
                worst_excess = worst_excess.max(excess);
            }
        });
        Ok(worst_excess)
    }

    /// Extends a held reservation's lease. Returns false when it was no longer held.
    pub fn renew(&self, id: ReservationId, now_ms: u64, lease_ms: u64) -> bool {
        let mut st = self.state.lock();
        let deadline = now_ms.saturating_add(lease_ms);
        match st.held.get_mut(&id) {
            Some(h) => {
                h.deadline_ms = deadline;
                true
            }
            None => false,
        }
    }

    /// Releases every reservation whose lease ended before `now_ms`; returns how many.
    pub fn reclaim_expired(&self, now_ms: u64) -> usize {
        let reclaimed = self.state.lock().reclaim_expired(now_ms);
        if reclaimed > 0 {
            crate::events::leases_reclaimed(reclaimed);
        }
        reclaimed
    }

    /// The scope's figures.
    pub fn snapshot(&self, scope: ScopeId) -> Result<ScopeSnapshot> {
        let st = self.state.lock();
        let s = st.scope(scope)?;
        Ok(ScopeSnapshot {
            label: s.label.clone(),
            limit_nanos: s.limit,
            spent_nanos: s.spent,
            reserved_nanos: s.reserved,
            overrun_nanos: s.overrun,
            refusing: s.refusing,
        })
    }

    /// A scope's limit and spend, without the rest of its snapshot (the per-call alert check).
    pub fn limit_and_spent(&self, scope: ScopeId) -> Option<(Option<Nanos>, Nanos)> {
        let st = self.state.lock();
        st.scope(scope).ok().map(|s| (s.limit, s.spent))
    }

    /// Number of reservations held (all scopes).
    pub fn held_count(&self) -> usize {
        self.state.lock().held.len()
    }
}

pub(crate) fn check_amount(amount: Nanos, what: &str) -> Result<()> {
    if amount > MAX_NANOS {
        return Err(Error::invalid(format!(
            "{what} amount {amount} nano-USD is out of range"
        )));
    }
    Ok(())
}

impl State {
    fn scope(&self, id: ScopeId) -> Result<&Scope> {
        self.scopes
            .get(&id)
            .ok_or_else(|| Error::Closed("budget scope is closed".into()))
    }

    fn scope_mut(&mut self, id: ScopeId) -> Result<&mut Scope> {
        self.scopes
            .get_mut(&id)
            .ok_or_else(|| Error::Closed("budget scope is closed".into()))
    }

    /// The scope and its ancestors, innermost first.
    fn chain(&self, id: ScopeId) -> impl Iterator<Item = &Scope> {
        let mut next = Some(id);
        std::iter::from_fn(move || {
            let s = self.scopes.get(&next?)?;
            next = s.parent;
            Some(s)
        })
    }

    fn for_chain(&mut self, id: ScopeId, mut f: impl FnMut(&mut Scope)) {
        let mut next = Some(id);
        while let Some(s) = next.and_then(|n| self.scopes.get_mut(&n)) {
            f(s);
            next = s.parent;
        }
    }

    fn available(&self, scope: ScopeId) -> Option<Nanos> {
        self.chain(scope)
            .filter_map(|s| {
                let limit = s.limit?;
                Some(if s.refusing {
                    0
                } else {
                    limit.saturating_sub(s.spent.saturating_add(s.reserved))
                })
            })
            .min()
    }

    fn release(&mut self, id: ReservationId) -> bool {
        let Some(h) = self.held.remove(&id) else {
            return false;
        };
        self.for_chain(h.scope, |s| {
            s.reserved = s.reserved.saturating_sub(h.amount)
        });
        true
    }

    fn reclaim_expired(&mut self, now_ms: u64) -> usize {
        let expired: Vec<ReservationId> = self
            .held
            .iter()
            .filter(|(_, h)| h.deadline_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.release(*id);
        }
        self.earliest_deadline_ms = self
            .held
            .values()
            .map(|h| h.deadline_ms)
            .min()
            .unwrap_or(u64::MAX);
        expired.len()
    }
}
