//! Allowances on shared scopes, on every store (memory, a SQLite file, a real PostgreSQL when
//! tests/pg/with-postgres.sh runs the suite): what a store does with a sync (the same on all
//! three, PostgreSQL's in one SQL function), and what engines do with allowances.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, SUITE_PRICES, for_each_backend, req, unique, usage};
use wflo_core::budget::allowance::{AllowancePolicy, SyncRequest};
use wflo_core::clock::{Clock, ManualClock};
use wflo_core::store::{AllowanceSync, Period, SharedScopeDef, Store, open_store};
use wflo_core::{CallStatus, Engine, EngineConfig, ErrorCode, ExecutionOptions};

const T0: u64 = 1_800_000_000_000;

fn define(store: &dyn Store, name: &str, limit: u64) {
    store
        .define_shared_scope(
            &SharedScopeDef {
                name: name.to_owned(),
                limit_nanos: Some(limit),
                period: Period::None,
                allowances: Some(true),
            },
            T0,
        )
        .unwrap();
}

fn request(seq: u64, write_back: u64, give_back: u64, need: u64, want: u64) -> SyncRequest {
    SyncRequest {
        seq,
        write_back_nanos: write_back,
        overrun_nanos: 0,
        give_back_nanos: give_back,
        need_nanos: need,
        want_nanos: want,
    }
}

struct Holder<'a> {
    id: String,
    name: &'a str,
    holder: &'a str,
    policy: AllowancePolicy,
    lease_ms: u64,
}

impl Holder<'_> {
    fn sync(
        &self,
        store: &dyn Store,
        req: SyncRequest,
        now: u64,
    ) -> wflo_core::Result<wflo_core::store::AllowanceSynced> {
        self.sync_for(store, req, now, None)
    }

    fn sync_for(
        &self,
        store: &dyn Store,
        req: SyncRequest,
        now: u64,
        execution: Option<&str>,
    ) -> wflo_core::Result<wflo_core::store::AllowanceSynced> {
        store.sync_allowance(&AllowanceSync {
            id: &self.id,
            name: self.name,
            key: self.name,
            holder: self.holder,
            execution_id: execution,
            request: req,
            policy: &self.policy,
            now_ms: now,
            lease_until_ms: now + self.lease_ms,
        })
    }
}

#[test]
fn an_allowance_sync_is_applied_once_and_alike_in_every_store() {
    for_each_backend(|b| {
        let store = open_store(&b.url).unwrap();
        let store = &*store;
        let name = unique("fleet");
        define(store, &name, 1_000_000);
        let one = Holder {
            id: unique("allowance:a"),
            name: &name,
            holder: "host-a:1",
            policy: AllowancePolicy::default(),
            lease_ms: 600_000,
        };
        let two = Holder {
            id: unique("allowance:b"),
            holder: "host-b:2",
            ..one_clone(&one)
        };
        // A first refill is sized to the holder's demand, at least the call.
        let first = one
            .sync(store, request(1, 0, 0, 100_000, 300_000), T0)
            .unwrap();
        assert_eq!(first.reply.granted_nanos, 300_000, "{}", b.name);
        assert_eq!((first.reserved_nanos, first.held_nanos), (300_000, 300_000));
        // Sent again (its answer was lost): the same answer, nothing booked twice.
        let again = one
            .sync(store, request(1, 0, 0, 100_000, 300_000), T0 + 1)
            .unwrap();
        assert_eq!(again.reply, first.reply, "{}", b.name);
        assert_eq!(again.reserved_nanos, 300_000, "{}", b.name);
        // A second holder asking for everything gets half the headroom split between two.
        let other = two
            .sync(store, request(1, 0, 0, 1, 10_000_000), T0 + 2)
            .unwrap();
        assert_eq!(other.reply.granted_nanos, 175_000, "{}", b.name);
        let figures = store.shared_scope(&name, T0 + 2).unwrap();
        assert_eq!(
            (figures.allowance_nanos, figures.allowance_holders),
            (475_000, 2),
            "{}",
            b.name
        );
        // Written back and given back: spent, and the allowance shrinks.
        let back = one
            .sync(store, request(2, 120_000, 180_000, 0, 0), T0 + 3)
            .unwrap();
        assert_eq!(
            (back.spent_nanos, back.reserved_nanos, back.held_nanos),
            (120_000, 175_000, 0),
            "{}",
            b.name
        );
        // A refill that does not fit is refused and puts the scope under pressure…
        let no = one
            .sync(store, request(3, 0, 0, 800_000, 800_000), T0 + 4)
            .unwrap();
        assert!(no.reply.refused && no.reply.pressure, "{}: {no:?}", b.name);
        // …so a grant is then exactly the call's worst case, whatever the demand.
        let tight = two
            .sync(store, request(2, 0, 0, 5_000, 500_000), T0 + 5)
            .unwrap();
        assert_eq!(tight.reply.granted_nanos, 5_000, "{}", b.name);
        assert!(tight.reply.pressure);
        // Pressure ends pressure_ms after the last refusal.
        let later = T0 + 4 + AllowancePolicy::default().pressure_ms;
        let calm = one
            .sync(store, request(4, 0, 0, 1_000, 40_000), later)
            .unwrap();
        assert!(!calm.reply.pressure, "{}", b.name);
        assert_eq!(calm.reply.granted_nanos, 40_000, "{}", b.name);
        // An overrun is spent and makes the scope refuse.
        let mut over = request(5, 40_000, 0, 0, 0);
        over.overrun_nanos = 7;
        let out = one.sync(store, over, later + 1).unwrap();
        assert_eq!(out.spent_nanos, 160_007, "{}", b.name);
        let refused = one.sync(store, request(6, 0, 0, 1, 1), later + 2).unwrap();
        assert!(refused.reply.refused, "{}", b.name);
        // An undefined scope is NOT_FOUND, in every store alike.
        let ghost = Holder {
            name: "no-such-scope",
            ..one_clone(&one)
        };
        let err = ghost.sync(store, request(1, 0, 0, 1, 1), T0).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{}: {err}", b.name);
    });
}

fn one_clone<'a>(h: &Holder<'a>) -> Holder<'a> {
    Holder {
        id: h.id.clone(),
        name: h.name,
        holder: h.holder,
        policy: h.policy.clone(),
        lease_ms: h.lease_ms,
    }
}

#[test]
fn a_dead_holders_allowance_is_charged_whole_and_recorded_in_its_execution() {
    for_each_backend(|b| {
        let store = open_store(&b.url).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let engine = Engine::new(EngineConfig {
            store: store.clone(),
            clock: clock.clone(),
            ..EngineConfig::default()
        });
        let exec = engine
            .start_execution(ExecutionOptions {
                name: "doomed".into(),
                ..Default::default()
            })
            .unwrap();
        engine.flush().unwrap();
        let store = &*store;
        let name = unique("fleet");
        define(store, &name, 1_000_000);
        let dead = Holder {
            id: unique("allowance:dead"),
            name: &name,
            holder: "host-dead:9",
            policy: AllowancePolicy::default(),
            lease_ms: 1_000,
        };
        dead.sync_for(
            store,
            request(1, 0, 0, 50_000, 200_000),
            T0,
            Some(exec.id()),
        )
        .unwrap();
        // Its holder writes back part, then dies with 150_000 of allowance out.
        dead.sync(store, request(2, 50_000, 0, 0, 0), T0 + 10)
            .unwrap();
        let live = Holder {
            id: unique("allowance:live"),
            holder: "host-live:1",
            ..one_clone(&dead)
        };
        // Before its lease ends the allowance stands; after, the next sync charges all of it.
        live.sync(store, request(1, 0, 0, 1, 1), T0 + 500).unwrap();
        let f = store.shared_scope(&name, T0 + 500).unwrap();
        assert_eq!(
            (f.spent_nanos, f.reserved_nanos),
            (50_000, 150_001),
            "{}",
            b.name
        );
        let after = live
            .sync(store, request(2, 0, 1, 0, 0), T0 + 1_011)
            .unwrap();
        assert_eq!(
            (after.spent_nanos, after.reserved_nanos),
            (200_000, 0),
            "{}: charged, never returned",
            b.name
        );
        let calls = engine.calls(exec.id()).unwrap();
        let charged: Vec<_> = calls
            .iter()
            .filter(|c| c.status == CallStatus::Unsettled)
            .collect();
        assert_eq!(charged.len(), 1, "{}: {calls:?}", b.name);
        assert_eq!(charged[0].cost_nanos, 150_000);
        assert!(
            charged[0].error.as_deref().unwrap().contains("allowance"),
            "{:?}",
            charged[0].error
        );
        // A late sync of the dead holder (it was only hung) books its spend again rather than
        // understating it.
        let late = dead
            .sync(store, request(3, 30_000, 120_000, 0, 0), T0 + 1_100)
            .unwrap();
        assert_eq!(
            (late.spent_nanos, late.held_nanos),
            (230_000, 0),
            "{}",
            b.name
        );
    });
}

fn engine_on(b: &Backend, clock: Arc<ManualClock>) -> Engine {
    let engine = Engine::new(EngineConfig {
        store: open_store(&b.url).unwrap(),
        clock,
        lease_ms: 60_000,
        ..EngineConfig::default()
    });
    engine.set_prices_json(SUITE_PRICES).unwrap();
    engine
}

/// Waits (real time) for the engines' background syncs to make `ok` true.
fn eventually(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn calls_draw_on_a_local_allowance_and_the_store_sees_batches() {
    for_each_backend(|b| {
        let clock = Arc::new(ManualClock::new(T0));
        let engine = engine_on(b, clock.clone());
        let store = engine.store().clone();
        let tenant = unique("tenant");
        engine
            .define_shared_scope(&tenant, Some(100_000_000), Period::Month)
            .unwrap();
        let exec = engine
            .start_execution(ExecutionOptions {
                name: "batches".into(),
                shared_scopes: vec![tenant.clone()],
                ..Default::default()
            })
            .unwrap();
        let figures = || store.shared_scope(&tenant, clock.now_ms()).unwrap();
        // The first call leases exactly its worst case; the store holds it as an allowance.
        let mut r = exec.reserve(&req(1000, 500)).unwrap(); // 3_000_000
        let f = figures();
        assert_eq!(
            (f.reserved_nanos, f.allowance_nanos, f.allowance_holders),
            (3_000_000, 3_000_000, 1)
        );
        r.settle(usage(1000, 100)).unwrap(); // 1_400_000
        // Settled locally: nothing written yet.
        assert_eq!(figures().spent_nanos, 0, "{}", b.name);
        // Ten calls in one window: refills grow with demand instead of one per call.
        for _ in 0..10 {
            exec.reserve(&req(1000, 500))
                .unwrap()
                .settle(usage(1000, 100))
                .unwrap();
        }
        let held = figures().allowance_nanos;
        assert!(
            held > 3_000_000,
            "{}: the allowance did not grow: {held}",
            b.name
        );
        // The batch is written back write_back_ms after the first settlement.
        clock.advance(AllowancePolicy::default().write_back_ms);
        eventually("the batch written back", || {
            figures().spent_nanos == 11 * 1_400_000
        });
        // Idle for idle_return_ms: the unused allowance goes back.
        clock.advance(AllowancePolicy::default().idle_return_ms);
        eventually("the idle allowance returned", || {
            figures().reserved_nanos == 0
        });
        let f = figures();
        assert_eq!(
            (f.spent_nanos, f.allowance_nanos),
            (15_400_000, 0),
            "{}",
            b.name
        );
        let recorded: u64 = engine
            .calls(exec.id())
            .unwrap()
            .iter()
            .map(|c| c.cost_nanos)
            .sum();
        assert_eq!(recorded, f.spent_nanos, "{}", b.name);
        engine.close().unwrap();
    });
}

#[test]
fn unused_allowance_goes_to_the_engine_that_needs_it() {
    for_each_backend(|b| {
        if b.name == "memory" {
            return; // a memory store is private to one engine
        }
        let clock = Arc::new(ManualClock::new(T0));
        let (one, two) = (engine_on(b, clock.clone()), engine_on(b, clock.clone()));
        let tenant = unique("tenant");
        one.define_shared_scope(&tenant, Some(10_000_000), Period::None)
            .unwrap();
        let start = |e: &Engine| {
            e.start_execution(ExecutionOptions {
                name: "fleet".into(),
                shared_scopes: vec![tenant.clone()],
                ..Default::default()
            })
            .unwrap()
        };
        let (x1, x2) = (start(&one), start(&two));
        // Engine one grows its allowance with demand, then stops using it.
        for _ in 0..6 {
            x1.reserve(&req(1000, 500))
                .unwrap()
                .settle(usage(1000, 0))
                .unwrap();
        }
        let store = open_store(&b.url).unwrap();
        let f = store.shared_scope(&tenant, T0).unwrap();
        assert_eq!(
            (f.spent_nanos, f.allowance_nanos),
            (5_000_000, 3_000_000),
            "{}",
            b.name
        );
        // Engine two needs more than is left outside it: refused, and the scope is contended.
        let big = req(1000, 750); // 4_000_000
        let err = x2.reserve(&big).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BudgetExceeded, "{}", b.name);
        // At its next contact (at the latest idle_return_ms later) engine one hears of it and
        // gives back what it does not use; the refused call then fits.
        clock.advance(AllowancePolicy::default().idle_return_ms);
        eventually("engine one's allowance returned", || {
            store
                .shared_scope(&tenant, clock.now_ms())
                .unwrap()
                .allowance_nanos
                == 0
        });
        let mut r = x2.reserve(&big).unwrap();
        r.settle(usage(1000, 750)).unwrap();
        one.close().unwrap();
        two.close().unwrap();
        let f = store.shared_scope(&tenant, clock.now_ms()).unwrap();
        assert_eq!(
            (f.spent_nanos, f.reserved_nanos),
            (10_000_000, 0),
            "{}",
            b.name
        );
    });
}

/// A definition that does not say how the scope is served keeps what the store has, in the
/// same statement (nothing read first that another definer could change in between); a new
/// scope is served from allowances.
#[test]
fn a_definition_silent_on_allowances_keeps_the_stored_setting() {
    for_each_backend(|b| {
        let engine = engine_on(b, Arc::new(ManualClock::new(T0)));
        let name = unique("tenant:keep");
        let served = |allowances| {
            engine
                .define_shared_scope_allowances(&name, Some(1_000), Period::None, allowances)
                .unwrap();
            engine.shared_scope(&name).unwrap().allowances
        };
        assert!(served(None), "{}: a new scope", b.name);
        assert!(!served(Some(false)), "{}", b.name);
        assert!(!served(None), "{}: kept", b.name);
        assert!(served(Some(true)), "{}", b.name);
        assert!(served(None), "{}: kept", b.name);
    });
}
