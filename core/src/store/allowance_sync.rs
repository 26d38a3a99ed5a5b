//! What a store does with one holder's allowance sync ([`crate::budget::allowance`]): the rule,
//! written once. The memory and SQLite stores read the period row and the allowance row, call
//! [`apply`] and write both back inside their write lock; PostgreSQL runs the same steps as
//! one SQL function (`wflo_sync_allowance`, migration 0010) so a sync is one round trip with
//! no row lock held across round trips. The store suite runs the same cases on all three.

use crate::budget::allowance::{AllowancePolicy, ScopeFigures, SyncReply, SyncRequest};
use crate::money::{MAX_NANOS, Nanos};

/// One holder's sync of its allowance on a shared scope's period row.
#[derive(Debug, Clone)]
pub struct AllowanceSync<'a> {
    /// The allowance's reservation id: one per (engine, period key), chosen by the engine.
    pub id: &'a str,
    /// The shared scope's name and the period key the allowance is booked on.
    pub name: &'a str,
    pub key: &'a str,
    /// Who holds it (`host:pid`), counted among the scope's holders.
    pub holder: &'a str,
    /// The execution whose call made this sync (a refill), if any: should the holder die, the
    /// charge of its allowance is recorded there as an `unsettled` call. Other syncs keep the
    /// execution recorded before.
    pub execution_id: Option<&'a str>,
    pub request: SyncRequest,
    pub policy: &'a AllowancePolicy,
    pub now_ms: u64,
    /// Every sync extends the allowance's lease to this.
    pub lease_until_ms: u64,
}

/// The store's answer, with the period's figures after the sync (a refusal quotes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowanceSynced {
    pub reply: SyncReply,
    pub limit_nanos: Option<Nanos>,
    pub spent_nanos: Nanos,
    pub reserved_nanos: Nanos,
    /// The allowance booked in the store after the sync.
    pub held_nanos: Nanos,
}

/// A period row's figures as [`apply`] reads and changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PeriodRow {
    pub limit: Option<Nanos>,
    pub spent: Nanos,
    pub reserved: Nanos,
    pub overrun: Nanos,
    pub refusing: bool,
    pub last_refusal_ms: Option<u64>,
}

/// An allowance row: the amount booked, the last sync applied and its reply (a request sent
/// again gets the same answer and changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowanceRow {
    pub amount: Nanos,
    pub seq: u64,
    pub reply: SyncReply,
}

/// Applies a sync to a period row and the holder's allowance row (`None`: none yet, or it was
/// charged when its lease ended). `other_holders`: holders with money booked on the row, this
/// one excluded. In order: the settled spend written back becomes spent (an overrun also
/// counts as overrun and makes a limited scope refuse, as a per-call overrun does); the
/// allowance shrinks by what was written back and given back — never below zero, so a sync
/// reaching a row the store already charged books its spend a second time rather than
/// understating it; then a refill is granted by [`AllowancePolicy::grant`] or refused, and a
/// refusal marks the scope under pressure.
pub(crate) fn apply(
    s: &AllowanceSync<'_>,
    period: &mut PeriodRow,
    row: &mut Option<AllowanceRow>,
    other_holders: u64,
) -> AllowanceSynced {
    let req = s.request;
    let synced = |period: &PeriodRow, reply, held| AllowanceSynced {
        reply,
        limit_nanos: period.limit,
        spent_nanos: period.spent,
        reserved_nanos: period.reserved,
        held_nanos: held,
    };
    if let Some(r) = row.as_ref().filter(|r| req.seq <= r.seq) {
        return synced(period, r.reply, r.amount);
    }
    let held = row.map_or(0, |r| r.amount);
    let taken = held.min(req.write_back_nanos.saturating_add(req.give_back_nanos));
    period.reserved = period.reserved.saturating_sub(taken);
    period.spent = period
        .spent
        .saturating_add(req.write_back_nanos)
        .saturating_add(req.overrun_nanos);
    if req.overrun_nanos > 0 {
        period.overrun = period.overrun.saturating_add(req.overrun_nanos);
        period.refusing |= period.limit.is_some();
    }
    let mut amount = held - taken;
    let mut granted = 0;
    let mut refused = false;
    if req.need_nanos > 0 {
        let figures = ScopeFigures {
            limit_nanos: period.limit.unwrap_or(MAX_NANOS),
            spent_nanos: period.spent,
            reserved_nanos: period.reserved,
            other_holders,
            pressure: s.policy.under_pressure(s.now_ms, period.last_refusal_ms),
        };
        let grant = if period.refusing && period.limit.is_some() {
            None
        } else {
            s.policy
                .grant(&figures, req.need_nanos, req.want_nanos.max(req.need_nanos))
        };
        match grant {
            Some(g) => {
                granted = g;
                amount += g;
                period.reserved = period.reserved.saturating_add(g);
            }
            None => {
                refused = true;
                period.last_refusal_ms = Some(s.now_ms);
            }
        }
    }
    let reply = SyncReply {
        granted_nanos: granted,
        refused,
        pressure: s.policy.under_pressure(s.now_ms, period.last_refusal_ms),
    };
    *row = Some(AllowanceRow {
        amount,
        seq: req.seq,
        reply,
    });
    synced(period, reply, amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(policy: &AllowancePolicy, request: SyncRequest, now_ms: u64) -> AllowanceSync<'_> {
        AllowanceSync {
            id: "a",
            name: "t",
            key: "t",
            holder: "h",
            execution_id: None,
            request,
            policy,
            now_ms,
            lease_until_ms: now_ms + 1_000,
        }
    }

    fn req(seq: u64, write_back: Nanos, give_back: Nanos, need: Nanos) -> SyncRequest {
        SyncRequest {
            seq,
            write_back_nanos: write_back,
            overrun_nanos: 0,
            give_back_nanos: give_back,
            need_nanos: need,
            want_nanos: need,
        }
    }

    #[test]
    fn a_sync_writes_back_gives_back_and_grants_once() {
        let p = AllowancePolicy::default();
        let mut period = PeriodRow {
            limit: Some(1_000),
            ..PeriodRow::default()
        };
        let mut row = None;
        let first = apply(&sync(&p, req(1, 0, 0, 100), 0), &mut period, &mut row, 0);
        assert_eq!(first.reply.granted_nanos, 100);
        assert_eq!((period.reserved, row.unwrap().amount), (100, 100));
        // Sent again (its answer was lost): the same answer, nothing booked twice.
        let again = apply(&sync(&p, req(1, 0, 0, 100), 5), &mut period, &mut row, 0);
        assert_eq!(again, first);
        assert_eq!(period.reserved, 100);
        // 60 spent, 40 returned.
        let back = apply(&sync(&p, req(2, 60, 40, 0), 10), &mut period, &mut row, 0);
        assert_eq!(
            (back.spent_nanos, back.reserved_nanos, back.held_nanos),
            (60, 0, 0)
        );
        // A refill that does not fit is refused and puts the scope under pressure.
        let no = apply(&sync(&p, req(3, 0, 0, 941), 20), &mut period, &mut row, 0);
        assert!(no.reply.refused && no.reply.pressure);
        assert_eq!(period.last_refusal_ms, Some(20));
        // Under pressure a grant is exactly the call's worst case.
        let mut wide = req(4, 0, 0, 10);
        wide.want_nanos = 500;
        let tight = apply(&sync(&p, wide, 30), &mut period, &mut row, 3);
        assert_eq!(tight.reply.granted_nanos, 10);
    }

    #[test]
    fn a_sync_on_a_charged_allowance_books_its_spend_again() {
        let p = AllowancePolicy::default();
        // The allowance of 100 was charged as spent when its lease ended; its row is gone.
        let mut period = PeriodRow {
            limit: Some(1_000),
            spent: 100,
            ..PeriodRow::default()
        };
        let mut row = None;
        let late = apply(&sync(&p, req(7, 30, 70, 0), 0), &mut period, &mut row, 0);
        assert_eq!(
            (late.spent_nanos, late.reserved_nanos, late.held_nanos),
            (130, 0, 0)
        );
    }

    #[test]
    fn an_overrun_is_spent_and_stops_a_limited_scope() {
        let p = AllowancePolicy::default();
        let mut period = PeriodRow {
            limit: Some(1_000),
            reserved: 50,
            ..PeriodRow::default()
        };
        let mut row = Some(AllowanceRow {
            amount: 50,
            seq: 1,
            reply: SyncReply {
                granted_nanos: 50,
                refused: false,
                pressure: false,
            },
        });
        let mut r = req(2, 50, 0, 0);
        r.overrun_nanos = 5;
        let out = apply(&sync(&p, r, 0), &mut period, &mut row, 0);
        assert_eq!((out.spent_nanos, period.overrun), (55, 5));
        assert!(period.refusing);
        let refill = apply(&sync(&p, req(3, 0, 0, 1), 1), &mut period, &mut row, 0);
        assert!(refill.reply.refused);
    }
}
