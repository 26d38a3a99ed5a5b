//! An engine's allowances on shared scopes: calls on a scope served from allowances draw on a
//! local [`Allowance`] per period key (no store round trip), and the store sees one sync per
//! refill, batch, return or lease renewal ([`crate::budget::allowance`] has the rules, and
//! `store/allowance_sync.rs` what the store does with a sync). A background thread makes the
//! syncs that fall due with time; reservations make refills themselves.
//!
//! Scopes defined with allowances off, and every scope when the engine's policy is disabled,
//! keep the per-call path: each reservation booked in the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::budget::allowance::{Allowance, AllowancePolicy, LocalReservation, SyncReason};
use crate::engine::EngineInner;
use crate::error::{BudgetExceeded, Error, Result};
use crate::money::Nanos;
use crate::store::{AllowanceSync, AllowanceSynced, Period};

/// How often the background thread looks for syncs that fell due (write-backs are due
/// `write_back_ms` after a settlement, 100 ms by default).
const TICK: Duration = Duration::from_millis(20);

/// How long a scope's definition (its period, allowances on or off) is trusted before it is
/// read again, so an operator's change reaches running processes.
const DEFINITION_TTL_MS: u64 = 30_000;

/// The allowances of one engine.
pub(crate) struct Allowances {
    pub policy: AllowancePolicy,
    /// Makes this engine's allowance ids unique in the store (two engines in one process are
    /// two holders of their own money).
    nonce: String,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    modes: Mutex<HashMap<String, (Mode, u64)>>,
    ticker_started: AtomicBool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    PerCall,
    Allowance(Period),
}

/// One allowance: a period key of a shared scope, its row id in the store and its local books.
pub(crate) struct Slot {
    name: String,
    key: String,
    id: String,
    state: Mutex<SlotState>,
    synced: Condvar,
}

struct SlotState {
    books: Allowance,
    /// A sync is on its way to the store (the lock is not held during the round trip).
    sending: bool,
}

/// Money drawn on an allowance for one call.
pub(crate) struct LocalHold {
    slot: Arc<Slot>,
    reservation: LocalReservation,
}

/// A reservation's shared scopes split by how they are served.
pub(crate) struct SplitScopes {
    pub per_call: Vec<String>,
    pub local: Vec<LocalHold>,
}

impl Allowances {
    /// Allowances sized by `policy`; an invalid policy books every call in the store.
    pub fn new(policy: AllowancePolicy) -> Allowances {
        let policy = if policy.validate().is_ok() {
            policy
        } else {
            AllowancePolicy {
                enabled: false,
                ..AllowancePolicy::default()
            }
        };
        static ENGINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nonce = crate::ids::new_reservation_id().unwrap_or_else(|_| {
            let n = ENGINES.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n}", std::process::id())
        });
        Allowances {
            policy,
            nonce,
            slots: Mutex::new(HashMap::new()),
            modes: Mutex::new(HashMap::new()),
            ticker_started: AtomicBool::new(false),
        }
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.lock().values().cloned().collect()
    }
}

impl EngineInner {
    /// Whether `name` is served from allowances, and its period (read from the store now and
    /// then).
    fn scope_mode(&self, name: &str, now: u64) -> Result<Mode> {
        if let Some((mode, at)) = self.allowances.modes.lock().get(name) {
            if now.saturating_sub(*at) < DEFINITION_TTL_MS {
                return Ok(*mode);
            }
        }
        let figures = self.store.shared_scope(name, now)?;
        let mode = if figures.allowances && self.allowances.policy.enabled {
            Mode::Allowance(figures.period)
        } else {
            Mode::PerCall
        };
        self.allowances
            .modes
            .lock()
            .insert(name.to_owned(), (mode, now));
        Ok(mode)
    }

    /// The slot of `key`, created (and the background thread started) on first use.
    fn slot(self: &Arc<Self>, name: &str, key: String, now: u64) -> Arc<Slot> {
        let mut slots = self.allowances.slots.lock();
        if let Some(slot) = slots.get(&key) {
            return slot.clone();
        }
        let slot = Arc::new(Slot {
            name: name.to_owned(),
            id: format!(
                "{}{}:{key}",
                crate::store::ALLOWANCE_ID_PREFIX,
                self.allowances.nonce
            ),
            key: key.clone(),
            state: Mutex::new(SlotState {
                books: Allowance::new(&self.allowances.policy, now),
                sending: false,
            }),
            synced: Condvar::new(),
        });
        slots.insert(key, slot.clone());
        drop(slots);
        self.start_ticker();
        slot
    }

    /// Reserves `amount` on each scope: from this engine's allowance where the scope is
    /// served from allowances (refilling it from the store when it cannot cover the call);
    /// the other scopes are returned for the per-call path. All or nothing: a refusal gives
    /// back what was drawn on the way.
    pub(crate) fn reserve_allowances(
        self: &Arc<Self>,
        names: &[String],
        amount: Nanos,
        execution: &str,
    ) -> Result<SplitScopes> {
        let mut split = SplitScopes {
            per_call: Vec::new(),
            local: Vec::new(),
        };
        for name in names {
            let now = self.now_ms();
            let drawn = match self.scope_mode(name, now) {
                Ok(Mode::PerCall) => {
                    split.per_call.push(name.clone());
                    continue;
                }
                Ok(Mode::Allowance(period)) => {
                    let slot = self.slot(name, period.key(name, now), now);
                    self.draw(&slot, amount, execution)
                        .map(|reservation| LocalHold { slot, reservation })
                }
                Err(e) => Err(e),
            };
            match drawn {
                Ok(hold) => split.local.push(hold),
                Err(e) => {
                    self.release_allowances(split.local);
                    return Err(e);
                }
            }
        }
        Ok(split)
    }

    /// Draws on a slot's allowance, refilling it as often as other threads use a refill first.
    fn draw(&self, slot: &Slot, amount: Nanos, execution: &str) -> Result<LocalReservation> {
        loop {
            {
                let mut st = slot.state.lock();
                if let Ok(r) = st.books.reserve(amount, self.now_ms()) {
                    return Ok(r);
                }
                if st.sending {
                    slot.synced.wait(&mut st);
                    continue;
                }
            }
            let Some((request, synced)) =
                self.sync_slot(slot, SyncReason::Refill(amount), Some(execution))?
            else {
                continue;
            };
            if synced.reply.refused && request.need_nanos == amount {
                return Err(Error::BudgetExceeded(Box::new(BudgetExceeded {
                    scope: slot.key.clone(),
                    limit_nanos: synced.limit_nanos.unwrap_or(crate::money::MAX_NANOS),
                    spent_nanos: synced.spent_nanos,
                    reserved_nanos: synced.reserved_nanos,
                    requested_nanos: amount,
                    retry_note: None,
                    hint: None,
                })));
            }
        }
    }

    /// Settles local holds with the call's cost; returns the largest part of it beyond what
    /// was reserved.
    pub(crate) fn settle_allowances(&self, holds: Vec<LocalHold>, cost: Nanos) -> Nanos {
        let mut beyond = 0;
        for h in holds {
            let mut st = h.slot.state.lock();
            beyond = beyond.max(st.books.settle(h.reservation, cost, self.now_ms()));
        }
        beyond
    }

    /// Gives local holds back unused (the call was not made).
    pub(crate) fn release_allowances(&self, holds: Vec<LocalHold>) {
        for h in holds {
            h.slot
                .state
                .lock()
                .books
                .release(h.reservation, self.now_ms());
        }
    }

    /// Books spend that had no reservation on the allowance-served scopes among `names`, as
    /// the per-call path does: within the limit as a draw settled at once; past it — the money
    /// is spent all the same — as an overrun, booked at the next sync. Returns the scopes left
    /// for the per-call path.
    pub(crate) fn charge_allowances(
        self: &Arc<Self>,
        names: &[String],
        cost: Nanos,
        execution: &str,
    ) -> Result<Vec<String>> {
        let mut per_call = Vec::new();
        for name in names {
            let now = self.now_ms();
            match self.scope_mode(name, now)? {
                Mode::PerCall => per_call.push(name.clone()),
                Mode::Allowance(period) => {
                    let slot = self.slot(name, period.key(name, now), now);
                    match self.draw(&slot, cost, execution) {
                        Ok(drawn) => {
                            slot.state.lock().books.settle(drawn, cost, self.now_ms());
                        }
                        Err(Error::BudgetExceeded(_)) => {
                            slot.state.lock().books.charge(cost, self.now_ms());
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(per_call)
    }

    /// Sends a slot's sync in flight (again, when its outcome was never heard), else starts
    /// one for `why`. `None` when there was nothing to send. On a store error the sync stays
    /// in flight and is sent again, unchanged, by the next caller: the store applies each
    /// `seq` once, so money is neither lost nor booked twice.
    fn sync_slot(
        &self,
        slot: &Slot,
        why: SyncReason,
        execution: Option<&str>,
    ) -> Result<Option<(crate::budget::allowance::SyncRequest, AllowanceSynced)>> {
        let mut st = slot.state.lock();
        while st.sending {
            slot.synced.wait(&mut st);
        }
        let now = self.now_ms();
        let request = match st.books.in_flight() {
            Some(r) => r,
            None => match st.books.begin_sync(why, now) {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        st.sending = true;
        drop(st);
        let result = self.store.sync_allowance(&AllowanceSync {
            id: &slot.id,
            name: &slot.name,
            key: &slot.key,
            holder: &self.holder,
            execution_id: execution,
            request,
            policy: &self.allowances.policy,
            now_ms: now,
            lease_until_ms: now.saturating_add(self.lease_ms),
        });
        let mut st = slot.state.lock();
        st.sending = false;
        let out = match result {
            Ok(synced) => {
                st.books.finish_sync(synced.reply, self.now_ms());
                Ok(Some((request, synced)))
            }
            Err(e) => Err(e),
        };
        drop(st);
        slot.synced.notify_all();
        out
    }

    /// Makes the syncs due now: batches to write back, idle or contended money to return,
    /// leases to renew. Slots are kept for the engine's life (one per scope and period): a
    /// slot's sequence numbers go on with its row in the store.
    pub(crate) fn sync_due(&self) {
        let now = self.now_ms();
        for slot in self.allowances.slots() {
            let why = {
                let st = slot.state.lock();
                if st.sending {
                    continue;
                }
                let renew = !st.books.is_empty()
                    && now >= st.books.last_sync_ms().saturating_add(self.lease_ms / 3);
                match st.books.due(now) {
                    Some(why) => Some(why),
                    None if renew || st.books.in_flight().is_some() => Some(SyncReason::WriteBack),
                    None => None,
                }
            };
            if let Some(why) = why {
                // A failure is tried again at the next tick; calls fail closed meanwhile.
                let _ = self.sync_slot(&slot, why, None);
            }
        }
    }

    /// Writes back every allowance's settled spend now (flush).
    pub(crate) fn write_back_allowances(&self) -> Result<()> {
        for slot in self.allowances.slots() {
            let pending = {
                let st = slot.state.lock();
                st.books.in_flight().is_some() || st.books.unwritten_nanos() > 0
            };
            if pending {
                self.sync_slot(&slot, SyncReason::WriteBack, None)?;
                // What was in flight went first; the batch goes now.
                if slot.state.lock().books.unwritten_nanos() > 0 {
                    self.sync_slot(&slot, SyncReason::WriteBack, None)?;
                }
            }
        }
        Ok(())
    }

    /// Writes back and returns the unused allowances on `name` (every scope with `None`):
    /// what is still reserved by open calls stays booked.
    pub(crate) fn return_allowances(&self, name: Option<&str>) -> Result<()> {
        for slot in self.allowances.slots() {
            if name.is_some_and(|n| n != slot.name) {
                continue;
            }
            // At most twice: a sync in flight, then this return.
            for _ in 0..2 {
                let idle = {
                    let st = slot.state.lock();
                    st.books.in_flight().is_none()
                        && st.books.unwritten_nanos() == 0
                        && st.books.unused_nanos() == 0
                };
                if idle {
                    break;
                }
                self.sync_slot(&slot, SyncReason::Return, None)?;
            }
        }
        Ok(())
    }

    /// Starts the thread that makes syncs fall due with time (once per engine). It holds the
    /// engine weakly and ends with it.
    fn start_ticker(self: &Arc<Self>) {
        if self.allowances.ticker_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let engine: Weak<EngineInner> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("wflo-allowances".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    if engine.is_closed() {
                        return;
                    }
                    engine.sync_due();
                }
            });
        if spawned.is_err() {
            // Without the thread, batches are written at refills, flush and close.
            self.allowances
                .ticker_started
                .store(false, Ordering::Release);
        }
    }
}
