//! Allowances: how much of a shared scope one process leases, and the local books it keeps.
//!
//! A shared scope (a tenant's monthly budget, a global daily cap) lives in the store, and
//! booking every call there serialises a fleet on one row. Instead each process (engine) leases
//! an *allowance* — one reservation in the store under the engine's lease — and serves local
//! reservations from it in-process, writing settled spend back in batches and returning what it
//! does not use. This module is only the pure part: how big a lease to grant
//! ([`AllowancePolicy::grant`]) and the per-(engine, scope) state machine ([`Allowance`]). The
//! store applies a [`SyncRequest`] in one statement; nothing here does I/O or reads a clock.
//!
//! # The invariant
//! The store always holds, as spent or reserved, at least everything this process could have
//! spent: `granted >= reserved + unwritten` (plus what a sync in flight carries), where
//! `granted` is the allowance booked in the store, `reserved` the open local reservations and
//! `unwritten` the settled spend not yet written back. Every operation keeps it: local
//! reservations only draw on the unused part, a settlement moves money from `reserved` to
//! `unwritten` inside the same grant, and a sync shrinks `granted` only by what it writes back
//! as spent or gives back unused. So a crash (whose allowance the store charges as spent) or a
//! store outage can never let real spend exceed the limit.
//!
//! # Stranding
//! Money idle in one process's allowance is money the others are refused for. Four rules bound
//! it. A grant is sized to what the holder drew in the last one or two `idle_return_ms`
//! windows, so a holder starts small and grows with its demand (like TCP's slow start) instead
//! of the first comer taking half the budget. A grant is at most a fraction of the headroom
//! divided among the holders, so it shrinks as the limit nears, down to exactly the call's
//! worst case. Unused money goes back after `idle_return_ms` without local use, and a holder
//! with unused money contacts the store at least that often. And once the store has refused a
//! call, the scope is *under pressure* (until `pressure_ms` after the last refusal): grants are
//! exactly the worst case, and a holder that hears of it gives back all unused money at once
//! and after every settlement or release.
//!
//! The bound, with syncs applied by the store as they are sent: a refusal more than
//! `idle_return_ms` after the pressure began strands nothing — the refused call truly did not
//! fit in what all processes together had neither spent nor reserved for open calls. Earlier in
//! the episode the stranded money is at most what the holders that have not synced since it
//! began were leased when it began. With a store round trip in between, add what the syncs in
//! flight carry. `tests/allowance_sim.rs` checks both with thousands of simulated processes.

use crate::error::{Error, Result};
use crate::money::{MAX_NANOS, Nanos};

/// How a shared scope's allowances are sized and how long they are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowancePolicy {
    /// Off: every grant is exactly one call's worst case and is synced at once, i.e. a store
    /// transaction per call (strict fairness, today's behaviour) instead of local allowances.
    pub enabled: bool,
    /// An allowance with unused money and no local activity for this long is returned; one with
    /// unused money that has not contacted the store for this long contacts it (and returns).
    pub idle_return_ms: u64,
    /// Settled spend is written back within this long of the first unwritten settlement.
    pub write_back_ms: u64,
    /// How long after a refusal the scope counts as contended. Must exceed `idle_return_ms`, so
    /// every holder contacts the store, and hears of it, while it lasts.
    pub pressure_ms: u64,
    /// The share of the headroom a refill may take, divided among the holders (0 < f <= 1).
    pub headroom_fraction: f64,
    /// A share smaller than this is not worth leasing: the grant is just the call's worst case.
    pub min_grant_nanos: Nanos,
    /// No allowance grows beyond this in one grant (a bigger call still gets its worst case).
    pub max_grant_nanos: Nanos,
}

impl Default for AllowancePolicy {
    fn default() -> Self {
        AllowancePolicy {
            enabled: true,
            idle_return_ms: 1_000,
            write_back_ms: 100,
            pressure_ms: 2_000,
            headroom_fraction: 0.5,
            min_grant_nanos: 0,
            max_grant_nanos: MAX_NANOS,
        }
    }
}

/// A shared scope's figures as the store reports them when a refill is decided, after this
/// holder's write-back and give-back in the same statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeFigures {
    pub limit_nanos: Nanos,
    pub spent_nanos: Nanos,
    /// Everything reserved, every allowance out included (this holder's remaining one too).
    pub reserved_nanos: Nanos,
    /// Holders with an allowance out, not counting the one asking.
    pub other_holders: u64,
    /// The scope refused a call within the last `pressure_ms`
    /// ([`AllowancePolicy::under_pressure`]).
    pub pressure: bool,
}

impl ScopeFigures {
    /// What is neither spent nor reserved.
    pub fn headroom_nanos(&self) -> Nanos {
        self.limit_nanos
            .saturating_sub(self.spent_nanos.saturating_add(self.reserved_nanos))
    }
}

impl AllowancePolicy {
    /// Checks the settings; an engine rejects a policy that fails this.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid(format!("allowance policy: {what}")));
        let f = self.headroom_fraction;
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            return bad("headroom_fraction must be in (0, 1]");
        }
        if self.idle_return_ms == 0 || self.write_back_ms == 0 {
            return bad("idle_return_ms and write_back_ms must be positive");
        }
        if self.pressure_ms <= self.idle_return_ms {
            return bad("pressure_ms must exceed idle_return_ms");
        }
        if self.min_grant_nanos > self.max_grant_nanos || self.max_grant_nanos > MAX_NANOS {
            return bad("min_grant_nanos <= max_grant_nanos <= the largest amount");
        }
        Ok(())
    }

    /// `headroom_fraction` in millionths, as [`AllowancePolicy::grant`] (and a store's SQL
    /// copy of it) computes with.
    pub fn headroom_ppm(&self) -> u64 {
        (self.headroom_fraction.clamp(0.0, 1.0) * 1e6).round() as u64
    }

    /// Whether a scope whose last refusal was at `last_refusal_ms` is contended at `now_ms`
    /// (both read from the store's clock, so processes' clocks never matter).
    pub fn under_pressure(&self, now_ms: u64, last_refusal_ms: Option<u64>) -> bool {
        last_refusal_ms.is_some_and(|t| now_ms < t.saturating_add(self.pressure_ms))
    }

    /// How much allowance to lease for a call whose worst case is `need`, for a holder whose
    /// recent demand is `want` ([`SyncRequest::want_nanos`]): `None` when `need` does not fit in
    /// the headroom (refuse), else at least `need` and never more than the headroom. Beyond
    /// `need` it grants up to `want`, but no more than `headroom_fraction` of the headroom
    /// divided among the holders (this one included) nor `max_grant_nanos`; so the grant
    /// shrinks with the headroom until it is exactly `need`, which it always is under pressure
    /// or when disabled. Integer arithmetic only, so a store can compute the same in SQL.
    pub fn grant(&self, figures: &ScopeFigures, need: Nanos, want: Nanos) -> Option<Nanos> {
        let headroom = figures.headroom_nanos();
        if need > headroom {
            return None;
        }
        if !self.enabled || figures.pressure {
            return Some(need);
        }
        let ppm = u128::from(self.headroom_ppm());
        let holders = u128::from(figures.other_holders) + 1;
        let share = (u128::from(headroom) * ppm / 1_000_000 / holders) as Nanos;
        let share = share.min(self.max_grant_nanos);
        let share = if share < self.min_grant_nanos {
            0
        } else {
            share
        };
        Some(share.min(want).max(need).min(headroom))
    }
}

/// A local reservation drawn on an [`Allowance`]; settle or release it exactly once, on the
/// allowance that made it.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a local reservation holds allowance until settled or released"]
pub struct LocalReservation {
    amount: Nanos,
}

impl LocalReservation {
    pub fn amount_nanos(&self) -> Nanos {
        self.amount
    }
}

/// The allowance cannot cover a call: refill it with [`SyncReason::Refill`] and reserve again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsRefill {
    pub need_nanos: Nanos,
}

/// Why the allowance contacts the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncReason {
    /// Write settled spend back (a batch is due).
    WriteBack,
    /// Write back and give back everything unused (idle, pressure, close).
    Return,
    /// Write back, give back the unused rest and lease at least this call's worst case.
    Refill(Nanos),
}

/// What the store applies, atomically, for one sync: `spent += write_back + overrun`, the
/// allowance shrinks by `write_back + give_back`, then for a refill the store sizes a grant with
/// [`AllowancePolicy::grant`] and adds it, or records a refusal. `seq` rises by one per request;
/// the store applies each at most once, so a request whose outcome is unknown (a timeout) is
/// simply sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequest {
    pub seq: u64,
    pub write_back_nanos: Nanos,
    /// Spend beyond the allowance (a call that cost more than its worst case and than the
    /// unused rest): booked as spent without a reservation, like the ledger's overrun.
    pub overrun_nanos: Nanos,
    pub give_back_nanos: Nanos,
    /// The worst case to lease for (0: no refill).
    pub need_nanos: Nanos,
    /// For a refill: this holder's recent demand, what it drew in the last one or two
    /// `idle_return_ms` windows (at least `need_nanos`). The grant aims to last that long.
    pub want_nanos: Nanos,
}

/// The store's answer to a [`SyncRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReply {
    /// Added to the allowance (0 when not a refill or refused).
    pub granted_nanos: Nanos,
    /// The refill was refused: the call does not fit.
    pub refused: bool,
    /// The scope is under pressure: give back unused money at every contact.
    pub pressure: bool,
}

/// One process's allowance on one shared scope. Not thread-safe by itself: the engine keeps it
/// under a lock, and the two-step sync ([`begin_sync`](Self::begin_sync), then
/// [`finish_sync`](Self::finish_sync)) lets that lock go during the store round trip while the
/// money in flight stays out of reach of local reservations.
#[derive(Debug, Clone)]
pub struct Allowance {
    idle_return_ms: u64,
    write_back_ms: u64,
    /// Policy disabled: sync after every settlement and keep nothing unused.
    per_call: bool,
    granted: Nanos,
    reserved: Nanos,
    unwritten: Nanos,
    overrun: Nanos,
    unwritten_since_ms: Option<u64>,
    last_use_ms: u64,
    last_sync_ms: u64,
    pressure: bool,
    in_flight: Option<SyncRequest>,
    next_seq: u64,
    /// Drawn (reserved) in the current demand window and the one before it.
    window_start_ms: u64,
    drawn: Nanos,
    drawn_before: Nanos,
}

impl Allowance {
    /// An empty allowance (nothing leased yet); the first reservation asks for a refill.
    pub fn new(policy: &AllowancePolicy, now_ms: u64) -> Allowance {
        Allowance {
            idle_return_ms: policy.idle_return_ms,
            write_back_ms: policy.write_back_ms,
            per_call: !policy.enabled,
            granted: 0,
            reserved: 0,
            unwritten: 0,
            overrun: 0,
            unwritten_since_ms: None,
            last_use_ms: now_ms,
            last_sync_ms: now_ms,
            pressure: false,
            in_flight: None,
            next_seq: 1,
            window_start_ms: now_ms,
            drawn: 0,
            drawn_before: 0,
        }
    }

    /// The allowance booked in the store for this process.
    pub fn granted_nanos(&self) -> Nanos {
        self.granted
    }

    /// Open local reservations.
    pub fn reserved_nanos(&self) -> Nanos {
        self.reserved
    }

    /// Settled spend not yet confirmed written (a write-back in flight included), overruns too.
    pub fn unwritten_nanos(&self) -> Nanos {
        let f = self.in_flight.unwrap_or(NO_SYNC);
        self.unwritten + self.overrun + f.write_back_nanos + f.overrun_nanos
    }

    /// What local reservations can still draw on (money being given back excluded).
    pub fn unused_nanos(&self) -> Nanos {
        let f = self.in_flight.unwrap_or(NO_SYNC);
        self.granted - self.reserved - self.unwritten - f.write_back_nanos - f.give_back_nanos
    }

    /// When the store last answered a sync (every sync renews the allowance's lease).
    pub fn last_sync_ms(&self) -> u64 {
        self.last_sync_ms
    }

    /// Whether the last store contact said the scope is contended.
    pub fn under_pressure(&self) -> bool {
        self.pressure
    }

    /// Nothing leased, reserved or unwritten: the process holds nothing of the scope.
    pub fn is_empty(&self) -> bool {
        self.granted == 0 && self.overrun == 0 && self.in_flight.is_none()
    }

    /// Reserves `amount` from the unused allowance, or asks for a refill.
    pub fn reserve(&mut self, amount: Nanos, now_ms: u64) -> Result<LocalReservation, NeedsRefill> {
        if amount > self.unused_nanos() {
            return Err(NeedsRefill { need_nanos: amount });
        }
        self.reserved += amount;
        self.touch(now_ms);
        self.roll_window(now_ms);
        self.drawn = self.drawn.saturating_add(amount);
        Ok(LocalReservation { amount })
    }

    /// Settles a local reservation with the call's actual cost; returns the part of the cost
    /// beyond the reservation (0 normally). That part is covered from the unused allowance when
    /// it can be, and otherwise booked as an overrun at the next sync (due at once).
    pub fn settle(&mut self, r: LocalReservation, actual: Nanos, now_ms: u64) -> Nanos {
        let beyond = actual.saturating_sub(r.amount);
        // The unused rest as it was, before this reservation's own money counts as free.
        let covered = beyond.min(self.unused_nanos());
        self.reserved -= r.amount;
        self.unwritten += actual - (beyond - covered);
        self.overrun = self.overrun.saturating_add(beyond - covered);
        if actual > 0 && self.unwritten_since_ms.is_none() {
            self.unwritten_since_ms = Some(now_ms);
        }
        self.touch(now_ms);
        beyond
    }

    /// Books spend that had no reservation: covered from the unused allowance when it can be,
    /// else an overrun due at once. Returns the part booked as an overrun.
    pub fn charge(&mut self, cost: Nanos, now_ms: u64) -> Nanos {
        let covered = cost.min(self.unused_nanos());
        self.settle(LocalReservation { amount: 0 }, cost, now_ms);
        cost - covered
    }

    /// Releases a local reservation without spend (the call was not made).
    pub fn release(&mut self, r: LocalReservation, now_ms: u64) {
        self.reserved -= r.amount;
        self.touch(now_ms);
    }

    /// The earliest time a sync becomes due if nothing else happens (a timer's next wake-up),
    /// or `None` when nothing will be. A time in the past means now.
    pub fn next_due_ms(&self) -> Option<u64> {
        let (ret, wb) = self.due_times();
        ret.into_iter().chain(wb).min()
    }

    /// The sync due at `now_ms`, if any: a write-back when a batch is `write_back_ms` old (at
    /// once for an overrun); a return when the allowance has been idle, or out of touch with the
    /// store, for `idle_return_ms` (at once under pressure or with the policy disabled).
    pub fn due(&self, now_ms: u64) -> Option<SyncReason> {
        let (ret, wb) = self.due_times();
        if ret.is_some_and(|t| t <= now_ms) {
            Some(SyncReason::Return)
        } else if wb.is_some_and(|t| t <= now_ms) {
            Some(SyncReason::WriteBack)
        } else {
            None
        }
    }

    fn due_times(&self) -> (Option<u64>, Option<u64>) {
        if self.in_flight.is_some() {
            return (None, None);
        }
        let eager = self.pressure || self.per_call;
        let ret = if eager && (self.unused_nanos() > 0 || self.unwritten > 0) {
            Some(0)
        } else if self.unused_nanos() > 0 {
            let since = self.last_use_ms.min(self.last_sync_ms);
            Some(since.saturating_add(self.idle_return_ms))
        } else {
            None
        };
        let wb = if self.overrun > 0 {
            Some(0)
        } else {
            self.unwritten_since_ms
                .map(|t| t.saturating_add(self.write_back_ms))
        };
        (ret, wb)
    }

    /// Starts a sync: takes every unwritten settlement (and overrun) for writing back and, for a
    /// return, a refill, or under pressure, sets the unused money aside to give back. `None`
    /// while another sync is in flight (wait for it, then look again).
    pub fn begin_sync(&mut self, why: SyncReason, now_ms: u64) -> Option<SyncRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        let give_back = match why {
            SyncReason::Return | SyncReason::Refill(_) => true,
            SyncReason::WriteBack => self.pressure || self.per_call,
        };
        let req = SyncRequest {
            seq: self.next_seq,
            write_back_nanos: self.unwritten,
            overrun_nanos: self.overrun,
            give_back_nanos: if give_back { self.unused_nanos() } else { 0 },
            need_nanos: 0,
            want_nanos: 0,
        };
        let req = match why {
            SyncReason::Refill(need) => {
                self.roll_window(now_ms);
                SyncRequest {
                    need_nanos: need,
                    want_nanos: need.max(self.drawn.saturating_add(self.drawn_before)),
                    ..req
                }
            }
            _ => req,
        };
        self.next_seq += 1;
        self.unwritten = 0;
        self.overrun = 0;
        self.unwritten_since_ms = None;
        self.in_flight = Some(req);
        Some(req)
    }

    /// The sync in flight, to send again when its outcome is unknown.
    pub fn in_flight(&self) -> Option<SyncRequest> {
        self.in_flight
    }

    /// Applies the store's reply to the sync in flight. For a refill, reserve again after it
    /// (another thread may have used the grant first; then refill again).
    pub fn finish_sync(&mut self, reply: SyncReply, now_ms: u64) {
        let Some(req) = self.in_flight.take() else {
            return;
        };
        self.granted =
            self.granted - req.write_back_nanos - req.give_back_nanos + reply.granted_nanos;
        self.pressure = reply.pressure;
        self.last_sync_ms = now_ms;
    }

    /// Abandons the sync in flight when the store certainly did not apply it (it was never
    /// sent, or the transaction rolled back): the money goes back where it was, the batch is
    /// retried `write_back_ms` later, and its `seq` is used again (the store saw no gap).
    pub fn abort_sync(&mut self, now_ms: u64) {
        let Some(req) = self.in_flight.take() else {
            return;
        };
        self.next_seq = req.seq;
        self.unwritten += req.write_back_nanos;
        self.overrun += req.overrun_nanos;
        if self.unwritten > 0 {
            self.unwritten_since_ms = Some(now_ms);
        }
    }

    /// Demand windows are `idle_return_ms` long: an allowance sized to one window's draw is
    /// used up about when an unused one would go back.
    fn roll_window(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.window_start_ms);
        if elapsed >= self.idle_return_ms {
            let one_window = elapsed < self.idle_return_ms.saturating_mul(2);
            self.drawn_before = if one_window { self.drawn } else { 0 };
            self.drawn = 0;
            self.window_start_ms = now_ms;
        }
    }

    fn touch(&mut self, now_ms: u64) {
        self.last_use_ms = self.last_use_ms.max(now_ms);
    }
}

const NO_SYNC: SyncRequest = SyncRequest {
    seq: 0,
    write_back_nanos: 0,
    overrun_nanos: 0,
    give_back_nanos: 0,
    need_nanos: 0,
    want_nanos: 0,
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A holder whose demand does not limit the grant.
    const ANY: Nanos = MAX_NANOS;

    fn figures(limit: Nanos, spent: Nanos, reserved: Nanos, others: u64) -> ScopeFigures {
        ScopeFigures {
            limit_nanos: limit,
            spent_nanos: spent,
            reserved_nanos: reserved,
            other_holders: others,
            pressure: false,
        }
    }

    #[test]
    fn allowance_grants_shrink_from_a_share_of_headroom_to_the_call() {
        let p = AllowancePolicy::default();
        // Ample headroom: half of it, split between this holder and three others.
        assert_eq!(
            p.grant(&figures(1_000_000, 0, 200_000, 3), 10, ANY),
            Some(100_000)
        );
        // Near the limit the share falls below the call: exactly the call.
        assert_eq!(
            p.grant(&figures(1_000_000, 999_000, 900, 3), 50, ANY),
            Some(50)
        );
        // The last nano fits; one more is refused.
        assert_eq!(p.grant(&figures(100, 99, 0, 0), 1, ANY), Some(1));
        assert_eq!(p.grant(&figures(100, 99, 0, 0), 2, ANY), None);
        // Under pressure, or disabled: exactly the call.
        let pressed = ScopeFigures {
            pressure: true,
            ..figures(1_000_000, 0, 0, 0)
        };
        assert_eq!(p.grant(&pressed, 7, ANY), Some(7));
        let off = AllowancePolicy {
            enabled: false,
            ..p.clone()
        };
        assert_eq!(off.grant(&figures(1_000_000, 0, 0, 0), 7, ANY), Some(7));
        // Demand: a holder that drew little recently gets about that much.
        assert_eq!(
            p.grant(&figures(1_000_000, 0, 0, 0), 10, 3_000),
            Some(3_000)
        );
        assert_eq!(p.grant(&figures(1_000_000, 0, 0, 0), 10, 0), Some(10));
        // Caps.
        let capped = AllowancePolicy {
            min_grant_nanos: 1_000,
            max_grant_nanos: 5_000,
            ..p.clone()
        };
        assert_eq!(
            capped.grant(&figures(1_000_000, 0, 0, 0), 7, ANY),
            Some(5_000)
        );
        assert_eq!(
            capped.grant(&figures(1_000_000, 0, 0, 999), 7, ANY),
            Some(7)
        );
        assert_eq!(
            capped.grant(&figures(1_000_000, 0, 0, 0), 9_000, ANY),
            Some(9_000)
        );
    }

    #[test]
    fn allowance_policy_validation() {
        assert!(AllowancePolicy::default().validate().is_ok());
        for bad in [
            AllowancePolicy {
                headroom_fraction: 0.0,
                ..Default::default()
            },
            AllowancePolicy {
                headroom_fraction: f64::NAN,
                ..Default::default()
            },
            AllowancePolicy {
                pressure_ms: 1_000,
                ..Default::default()
            },
            AllowancePolicy {
                min_grant_nanos: 10,
                max_grant_nanos: 9,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn allowance_grant_is_bounded_by_headroom_and_need(
            limit in 0u64..=MAX_NANOS,
            spent in 0u64..=MAX_NANOS,
            reserved in 0u64..=MAX_NANOS,
            others in 0u64..100_000,
            need in 0u64..=MAX_NANOS,
            fraction in 0.001f64..=1.0,
            pressure in any::<bool>(),
        ) {
            let p = AllowancePolicy { headroom_fraction: fraction, ..Default::default() };
            let f = ScopeFigures { pressure, ..figures(limit, spent, reserved, others) };
            match p.grant(&f, need, ANY) {
                None => prop_assert!(need > f.headroom_nanos()),
                Some(g) => {
                    prop_assert!(need <= g && g <= f.headroom_nanos());
                    if pressure { prop_assert_eq!(g, need); }
                    // More holders never mean a bigger grant.
                    let more = ScopeFigures { other_holders: others + 1, ..f };
                    prop_assert!(p.grant(&more, need, ANY).unwrap() <= g);
                }
            }
        }
    }

    #[test]
    fn allowance_local_books_keep_the_invariant_through_a_sync() {
        let p = AllowancePolicy::default();
        let mut a = Allowance::new(&p, 0);
        assert_eq!(a.reserve(10, 0), Err(NeedsRefill { need_nanos: 10 }));
        let req = a.begin_sync(SyncReason::Refill(10), 0).unwrap();
        assert_eq!((req.seq, req.need_nanos), (1, 10));
        a.finish_sync(
            SyncReply {
                granted_nanos: 100,
                refused: false,
                pressure: false,
            },
            0,
        );
        let r1 = a.reserve(10, 1).unwrap();
        let r2 = a.reserve(30, 2).unwrap();
        assert_eq!(a.unused_nanos(), 60);
        assert_eq!(a.settle(r1, 4, 3), 0);
        // A call costing more than its reservation is covered from the unused rest.
        assert_eq!(a.settle(r2, 35, 4), 5);
        assert_eq!((a.unwritten_nanos(), a.unused_nanos()), (39, 61));
        // The batch is due write_back_ms after the first unwritten settlement.
        assert_eq!(a.due(102), None);
        assert_eq!(a.due(103), Some(SyncReason::WriteBack));
        let wb = a.begin_sync(SyncReason::WriteBack, 103).unwrap();
        assert_eq!((wb.write_back_nanos, wb.give_back_nanos), (39, 0));
        assert!(
            a.begin_sync(SyncReason::Return, 103).is_none(),
            "one sync at a time"
        );
        // Money in flight stays booked and out of reach.
        let r3 = a.reserve(61, 104).unwrap();
        assert_eq!(a.reserve(1, 104), Err(NeedsRefill { need_nanos: 1 }));
        a.finish_sync(
            SyncReply {
                granted_nanos: 0,
                refused: false,
                pressure: true,
            },
            105,
        );
        assert_eq!(a.granted_nanos(), 61);
        // Under pressure the freed money goes back at once.
        a.release(r3, 106);
        assert_eq!(a.due(106), Some(SyncReason::Return));
        let ret = a.begin_sync(SyncReason::Return, 106).unwrap();
        assert_eq!(ret.give_back_nanos, 61);
        a.abort_sync(107);
        assert_eq!(a.unused_nanos(), 61, "an aborted give-back is ours again");
    }

    #[test]
    fn allowance_idle_return_and_overrun_timing() {
        let p = AllowancePolicy::default();
        let mut a = Allowance::new(&p, 0);
        a.begin_sync(SyncReason::Refill(10), 0).unwrap();
        a.finish_sync(
            SyncReply {
                granted_nanos: 10,
                refused: false,
                pressure: false,
            },
            0,
        );
        let r = a.reserve(10, 50).unwrap();
        assert_eq!(a.next_due_ms(), None);
        // Beyond the reservation and the (empty) unused rest: booked as an overrun, due now.
        assert_eq!(a.settle(r, 15, 60), 5);
        assert_eq!(a.due(60), Some(SyncReason::WriteBack));
        let req = a.begin_sync(SyncReason::WriteBack, 60).unwrap();
        assert_eq!((req.write_back_nanos, req.overrun_nanos), (10, 5));
        a.finish_sync(
            SyncReply {
                granted_nanos: 0,
                refused: false,
                pressure: false,
            },
            61,
        );
        assert!(a.is_empty());
        // An unused allowance goes back idle_return_ms after the last use.
        a.begin_sync(SyncReason::Refill(1), 100).unwrap();
        a.finish_sync(
            SyncReply {
                granted_nanos: 50,
                refused: false,
                pressure: false,
            },
            100,
        );
        let r = a.reserve(1, 400).unwrap();
        a.release(r, 500);
        assert_eq!(
            a.next_due_ms(),
            Some(1_100),
            "out of touch since the sync at 100"
        );
        assert_eq!(a.due(1_099), None);
        assert_eq!(a.due(1_100), Some(SyncReason::Return));
    }
}
