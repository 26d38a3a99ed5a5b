//! Thousands of simulated processes draw on one shared scope through allowances, against a
//! simulated store and a simulated clock (event-driven, deterministic per seed). Calls have
//! random worst cases and durations; they settle, release, or die with their process (whose
//! allowance the store then charges as spent). Sizes, timings and the policy are random.
//!
//! Checked after every event: the store never books past the limit, and it holds at least what
//! every process could have spent (its settled, unwritten spend and its open worst cases).
//! Checked at every refusal — the stranding bound of `budget::allowance`: with syncs applied at
//! once, a refusal more than `idle_return_ms` into a pressure episode strands nothing (the call
//! truly did not fit), and earlier in the episode stranding is at most what the holders that
//! have not synced since it began held when it began. At the end: nothing reserved, no holder
//! left, the books add up (spend == written settlements + crash charges), and the processes,
//! driven until no call fits, have spent >= 99.9% of the limit.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use proptest::prelude::*;
use wflo_core::Nanos;
use wflo_core::budget::allowance::{
    Allowance, AllowancePolicy, LocalReservation, NeedsRefill, ScopeFigures, SyncReason, SyncReply,
    SyncRequest,
};

/// splitmix64: small, deterministic, good enough to drive a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn per_mille(&mut self, p: u64) -> bool {
        self.next() % 1000 < p
    }
}

#[derive(Debug, Clone)]
struct Config {
    seed: u64,
    procs: usize,
    threads: usize,
    max_call: Nanos,
    limit: Nanos,
    policy: AllowancePolicy,
    /// Store round trip: the store applies a sync when sent, the reply arrives this much later.
    latency_ms: u64,
    /// Per call end: the process dies (all its calls with it) and restarts.
    crash_per_mille: u64,
    /// Per sync: the store is unreachable and applies nothing.
    outage_per_mille: u64,
    /// After this, a thread refused twice with no money given back in between stops.
    drive_ms: u64,
    /// Longest call and longest ordinary pause between a thread's calls.
    call_ms: u64,
    think_ms: u64,
    /// Per call end: the thread pauses 2-8 s instead, long enough for its allowance to go back.
    idle_per_mille: u64,
}

#[derive(Debug, Default)]
struct Figures {
    calls: u64,
    refusals: u64,
    syncs: u64,
    /// Of the syncs: refills and returns (the rest are write-backs).
    refills: u64,
    returns: u64,
    crashes: u64,
    outages: u64,
    episodes: u64,
    /// Calls and store syncs before the first refusal: the saving while headroom is ample.
    calls_before_pressure: u64,
    syncs_before_pressure: u64,
    /// The largest stranding at a refusal early in an episode, as a fraction of the limit.
    max_early_stranding: f64,
    /// At refusals after the early window: the least share of the limit spent or committed.
    min_late_utilisation: f64,
    late_refusals: u64,
    max_idle_return_lag_ms: u64,
    final_spent: Nanos,
}

struct Store {
    limit: Nanos,
    spent: Nanos,
    reserved: Nanos,
    alloc: Vec<Nanos>,
    holders: u64,
    last_refusal: Option<u64>,
    applied_seq: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Reply,
    Wake,
    End(usize),
    Start,
}

/// (time, order of scheduling, process, its incarnation, what happens): earliest first.
type Event = (u64, u64, usize, u64, Kind);

struct Proc {
    a: Allowance,
    incarnation: u64,
    /// Open calls: the local reservation and its worst case.
    open: Vec<Option<(LocalReservation, Nanos)>>,
    /// Calls waiting for a refill, by worst case.
    waiting: VecDeque<Nanos>,
    reply: Option<SyncReply>,
    /// The simulation's own books, independent of the allowance's.
    reserved: Nanos,
    unwritten: Nanos,
    pending_grant: Nanos,
    last_use: u64,
    live_threads: usize,
    /// The store's give-back count when this process's last refusal happened.
    refused_at_epoch: Option<u64>,
    /// Not synced since the current pressure episode began; with what it held then.
    held_at_episode: Option<Nanos>,
}

struct Sim {
    cfg: Config,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Event>>,
    store: Store,
    procs: Vec<Proc>,
    // Global sums of the simulation's books, so stranding is O(1) to compute.
    g_reserved: Nanos,
    g_unwritten: Nanos,
    g_pending: Nanos,
    /// Money the store holds for processes that did not sync since the episode began.
    g_unsynced_held: Nanos,
    episode_start: u64,
    give_backs: u64,
    recorded: Nanos,
    written: Nanos,
    crash_charged: Nanos,
    f: Figures,
}

impl Sim {
    fn new(cfg: Config) -> Sim {
        let procs = (0..cfg.procs)
            .map(|_| Proc {
                a: Allowance::new(&cfg.policy, 0),
                incarnation: 0,
                open: Vec::new(),
                waiting: VecDeque::new(),
                reply: None,
                reserved: 0,
                unwritten: 0,
                pending_grant: 0,
                last_use: 0,
                live_threads: cfg.threads,
                refused_at_epoch: None,
                held_at_episode: None,
            })
            .collect();
        let mut sim = Sim {
            rng: Rng(cfg.seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            store: Store {
                limit: cfg.limit,
                spent: 0,
                reserved: 0,
                alloc: vec![0; cfg.procs],
                holders: 0,
                last_refusal: None,
                applied_seq: vec![0; cfg.procs],
            },
            procs,
            g_reserved: 0,
            g_unwritten: 0,
            g_pending: 0,
            g_unsynced_held: 0,
            episode_start: 0,
            give_backs: 0,
            recorded: 0,
            written: 0,
            crash_charged: 0,
            f: Figures {
                min_late_utilisation: 1.0,
                ..Figures::default()
            },
            cfg,
        };
        for p in 0..sim.cfg.procs {
            for _ in 0..sim.cfg.threads {
                let at = sim.rng.range(0, 500);
                sim.at(at, p, Kind::Start);
            }
        }
        sim
    }

    fn at(&mut self, t: u64, p: usize, kind: Kind) {
        self.seq += 1;
        let inc = self.procs[p].incarnation;
        self.queue.push(Reverse((t, self.seq, p, inc, kind)));
    }

    fn run(mut self) -> Figures {
        while let Some(Reverse((t, _, p, inc, kind))) = self.queue.pop() {
            assert!(t >= self.now);
            self.now = t;
            if inc != self.procs[p].incarnation {
                continue; // an event of a process that died since
            }
            match kind {
                Kind::Start => self.start(p),
                Kind::End(slot) => self.end(p, slot),
                Kind::Reply => self.reply(p),
                Kind::Wake => {}
            }
            self.pump(p);
            self.check(p);
        }
        self.finish()
    }

    fn start(&mut self, p: usize) {
        let w = self.rng.range(1, self.cfg.max_call);
        self.procs[p].waiting.push_back(w);
    }

    fn end(&mut self, p: usize, slot: usize) {
        let now = self.now;
        let crash = self.now < self.cfg.drive_ms && self.rng.per_mille(self.cfg.crash_per_mille);
        if crash {
            return self.crash(p);
        }
        let (r, w) = self.procs[p].open[slot].take().unwrap();
        let pr = &mut self.procs[p];
        pr.reserved -= w;
        self.g_reserved -= w;
        pr.last_use = now;
        if self.rng.per_mille(150) {
            pr.a.release(r, now);
        } else {
            // Mostly near the worst case, sometimes far below it.
            let actual = if self.rng.per_mille(700) {
                self.rng.range(w / 2, w)
            } else {
                self.rng.range(0, w)
            };
            assert_eq!(pr.a.settle(r, actual, now), 0);
            pr.unwritten += actual;
            self.g_unwritten += actual;
            self.recorded += actual;
        }
        self.f.calls += 1;
        let think = if self.rng.per_mille(self.cfg.idle_per_mille) {
            self.rng.range(2_000, 8_000)
        } else {
            self.rng.range(0, self.cfg.think_ms)
        };
        self.at(now + think, p, Kind::Start);
    }

    /// The process dies: the store charges its whole allowance as spent (it may all have been
    /// spent), and a fresh process takes its place a little later.
    fn crash(&mut self, p: usize) {
        self.f.crashes += 1;
        let charge = self.store.alloc[p];
        self.store.spent += charge;
        self.store.reserved -= charge;
        self.store.alloc[p] = 0;
        if charge > 0 {
            self.store.holders -= 1;
        }
        self.store.applied_seq[p] = 0;
        self.crash_charged += charge;
        let pr = &mut self.procs[p];
        // What it could have spent is now booked as spent, so it leaves the live books.
        self.recorded -= pr.unwritten;
        self.g_reserved -= pr.reserved;
        self.g_unwritten -= pr.unwritten;
        self.g_pending -= pr.pending_grant;
        if let Some(h) = pr.held_at_episode.take() {
            self.g_unsynced_held -= h;
        }
        // Its reservations vanish with it; the store's charge covers them.
        pr.open.clear();
        *pr = Proc {
            a: Allowance::new(&self.cfg.policy, self.now),
            incarnation: pr.incarnation + 1,
            open: Vec::new(),
            waiting: VecDeque::new(),
            reply: None,
            reserved: 0,
            unwritten: 0,
            pending_grant: 0,
            last_use: self.now,
            live_threads: self.cfg.threads,
            refused_at_epoch: None,
            held_at_episode: None,
        };
        for _ in 0..self.cfg.threads {
            let at = self.now + self.rng.range(100, 1_000);
            self.at(at, p, Kind::Start);
        }
    }

    fn reply(&mut self, p: usize) {
        let reply = self.procs[p].reply.take().unwrap();
        self.deliver(p, reply);
    }

    fn deliver(&mut self, p: usize, reply: SyncReply) {
        let now = self.now;
        let pr = &mut self.procs[p];
        pr.a.finish_sync(reply, now);
        self.g_pending -= pr.pending_grant;
        pr.pending_grant = 0;
        if reply.refused {
            pr.waiting.pop_front().unwrap();
            self.f.refusals += 1;
            self.thread_refused(p);
        }
    }

    fn thread_refused(&mut self, p: usize) {
        let pr = &mut self.procs[p];
        if self.now >= self.cfg.drive_ms && pr.refused_at_epoch == Some(self.give_backs) {
            pr.live_threads -= 1; // nothing came free since its last refusal: stop
        } else {
            pr.refused_at_epoch = Some(self.give_backs);
            let at = self.now + self.rng.range(1, 200);
            self.at(at, p, Kind::Start);
        }
    }

    /// Serves waiting calls, runs whatever sync is due, closes an idle process, and sets the
    /// next wake-up.
    fn pump(&mut self, p: usize) {
        loop {
            let now = self.now;
            if self.procs[p].a.in_flight().is_some() {
                return; // its reply event comes
            }
            if let Some(&w) = self.procs[p].waiting.front() {
                match self.procs[p].a.reserve(w, now) {
                    Ok(r) => {
                        let pr = &mut self.procs[p];
                        pr.waiting.pop_front();
                        pr.reserved += w;
                        pr.last_use = now;
                        self.g_reserved += w;
                        let slot = match pr.open.iter().position(Option::is_none) {
                            Some(i) => i,
                            None => {
                                pr.open.push(None);
                                pr.open.len() - 1
                            }
                        };
                        pr.open[slot] = Some((r, w));
                        let end = now + self.rng.range(1, self.cfg.call_ms);
                        self.at(end, p, Kind::End(slot));
                        continue;
                    }
                    Err(NeedsRefill { need_nanos }) => {
                        assert_eq!(need_nanos, w);
                        if self.send(p, SyncReason::Refill(w)) {
                            continue;
                        }
                        return;
                    }
                }
            }
            let pr = &self.procs[p];
            let closing = pr.live_threads == 0 && pr.reserved == 0 && pr.waiting.is_empty();
            let why = match pr.a.due(now) {
                Some(why) => Some(why),
                None if closing && !pr.a.is_empty() => Some(SyncReason::Return),
                None => None,
            };
            match why {
                Some(why) => {
                    if !self.send(p, why) {
                        return;
                    }
                }
                None => break,
            }
        }
        if let Some(t) = self.procs[p].a.next_due_ms() {
            let t = t.max(self.now + 1);
            self.at(t, p, Kind::Wake);
        }
    }

    /// Sends a sync; the store applies it at once. True when its reply is already in.
    fn send(&mut self, p: usize, why: SyncReason) -> bool {
        let now = self.now;
        let req = self.procs[p].a.begin_sync(why, now).unwrap();
        self.f.syncs += 1;
        match why {
            SyncReason::Refill(_) => self.f.refills += 1,
            SyncReason::Return => self.f.returns += 1,
            SyncReason::WriteBack => {}
        }
        if self.rng.per_mille(self.cfg.outage_per_mille) {
            // Unreachable: nothing applied; a waiting call fails closed (not a budget refusal).
            self.f.outages += 1;
            self.procs[p].a.abort_sync(now);
            if let SyncReason::Refill(_) = why {
                self.procs[p].waiting.pop_front();
                self.thread_refused(p);
            }
            return true;
        }
        if why == SyncReason::Return
            && req.give_back_nanos > 0
            && self.procs[p].a.reserved_nanos() == 0
        {
            let lag = now - self.procs[p].last_use;
            self.f.max_idle_return_lag_ms = self.f.max_idle_return_lag_ms.max(lag);
        }
        let reply = self.apply(p, req);
        if self.cfg.latency_ms == 0 {
            self.deliver(p, reply);
            true
        } else {
            self.procs[p].reply = Some(reply);
            let at = now + self.rng.range(1, self.cfg.latency_ms);
            self.at(at, p, Kind::Reply);
            false
        }
    }

    /// The store's one statement for a sync.
    fn apply(&mut self, p: usize, req: SyncRequest) -> SyncReply {
        let st = &mut self.store;
        let policy = self.cfg.policy.clone();
        assert_eq!(
            req.seq,
            st.applied_seq[p] + 1,
            "each sync applied once, in order"
        );
        st.applied_seq[p] = req.seq;
        assert_eq!(req.overrun_nanos, 0);
        let shrink = req.write_back_nanos + req.give_back_nanos;
        let was_holder = st.alloc[p] > 0;
        assert!(
            shrink <= st.alloc[p],
            "a sync never returns more than was leased"
        );
        st.alloc[p] -= shrink;
        st.reserved -= shrink;
        st.spent += req.write_back_nanos;
        self.written += req.write_back_nanos;
        let pr = &mut self.procs[p];
        pr.unwritten -= req.write_back_nanos;
        self.g_unwritten -= req.write_back_nanos;
        if req.give_back_nanos > 0 {
            self.give_backs += 1;
        }
        if let Some(h) = pr.held_at_episode.take() {
            self.g_unsynced_held -= h;
        }
        let mut reply = SyncReply {
            granted_nanos: 0,
            refused: false,
            pressure: false,
        };
        if req.need_nanos > 0 {
            let pressure = policy.under_pressure(self.now, st.last_refusal);
            let figures = ScopeFigures {
                limit_nanos: st.limit,
                spent_nanos: st.spent,
                reserved_nanos: st.reserved,
                other_holders: st.holders - u64::from(was_holder),
                pressure,
            };
            match policy.grant(&figures, req.need_nanos, req.want_nanos) {
                Some(g) => {
                    assert!(g >= req.need_nanos && g <= figures.headroom_nanos());
                    st.alloc[p] += g;
                    st.reserved += g;
                    pr.pending_grant = g;
                    self.g_pending += g;
                    reply.granted_nanos = g;
                }
                None => {
                    if !pressure {
                        self.new_episode();
                    }
                    self.store.last_refusal = Some(self.now);
                    reply.refused = true;
                    self.check_refusal(req.need_nanos);
                }
            }
        }
        let st = &mut self.store;
        let is_holder = st.alloc[p] > 0;
        st.holders = st.holders + u64::from(is_holder) - u64::from(was_holder);
        reply.pressure = policy.under_pressure(self.now, st.last_refusal);
        reply
    }

    fn new_episode(&mut self) {
        if self.f.episodes == 0 {
            self.f.calls_before_pressure = self.f.calls;
            self.f.syncs_before_pressure = self.f.syncs;
        }
        self.f.episodes += 1;
        self.episode_start = self.now;
        self.g_unsynced_held = 0;
        for (p, pr) in self.procs.iter_mut().enumerate() {
            let held = self.store.alloc[p];
            pr.held_at_episode = (held > 0).then_some(held);
            self.g_unsynced_held += held;
        }
    }

    /// The stranding bound, at a refusal of a call with worst case `need`.
    fn check_refusal(&mut self, need: Nanos) {
        let headroom = self.store.limit - self.store.spent - self.store.reserved;
        assert!(need > headroom);
        // Leased to processes but neither reserved, nor spent, nor about to be reserved.
        let stranded = self.store.reserved - self.g_reserved - self.g_unwritten - self.g_pending;
        let limit = self.store.limit as f64;
        // With round trips in flight the bound holds only up to the money those carry, so it
        // is asserted for syncs applied at once and merely measured otherwise.
        let exact = self.cfg.latency_ms == 0;
        if self.now > self.episode_start + self.cfg.policy.idle_return_ms {
            assert!(
                !exact || stranded == 0,
                "a late refusal strands {stranded} (t={}, episode from {})",
                self.now,
                self.episode_start
            );
            self.f.late_refusals += 1;
            let committed = (self.store.limit - headroom - stranded) as f64 / limit;
            self.f.min_late_utilisation = self.f.min_late_utilisation.min(committed);
        } else {
            assert!(
                !exact || stranded <= self.g_unsynced_held,
                "early stranding {stranded} beyond what unsynced holders held {}",
                self.g_unsynced_held
            );
            self.f.max_early_stranding = self.f.max_early_stranding.max(stranded as f64 / limit);
        }
    }

    fn check(&self, p: usize) {
        let st = &self.store;
        assert!(st.spent + st.reserved <= st.limit, "booked past the limit");
        // What all processes could have spent is booked.
        assert!(self.g_reserved + self.g_unwritten + self.g_pending <= st.reserved);
        let pr = &self.procs[p];
        assert!(
            pr.reserved + pr.unwritten + pr.pending_grant <= st.alloc[p],
            "process {p} could spend more than its allowance"
        );
        assert_eq!(pr.a.reserved_nanos(), pr.reserved);
        if self.cfg.latency_ms == 0 {
            assert_eq!(pr.a.granted_nanos(), st.alloc[p]);
        }
    }

    fn finish(mut self) -> Figures {
        let st = &self.store;
        assert_eq!(st.reserved, 0, "nothing reserved at the end");
        assert_eq!(st.holders, 0);
        assert!(st.alloc.iter().all(|&a| a == 0));
        assert!(
            self.procs
                .iter()
                .all(|p| p.a.is_empty() && p.waiting.is_empty())
        );
        assert!(st.spent <= st.limit);
        assert_eq!(
            st.spent,
            self.written + self.crash_charged,
            "the books add up"
        );
        assert_eq!(
            self.written, self.recorded,
            "every settlement was written back"
        );
        self.f.final_spent = st.spent;
        self.f
    }
}

fn run(cfg: Config) -> Figures {
    let limit = cfg.limit;
    let f = Sim::new(cfg.clone()).run();
    let reached = f.final_spent as f64 / limit as f64;
    assert!(
        reached >= 0.999,
        "driven to the limit, spend reached only {reached:.5} ({cfg:?}, {f:?})"
    );
    assert!(f.refusals > 0, "the run reached the limit");
    // A return due while a sync is in flight waits for that round trip.
    assert!(f.max_idle_return_lag_ms <= cfg.policy.idle_return_ms + cfg.latency_ms);
    f
}

fn config(seed: u64, procs: usize, latency_ms: u64) -> Config {
    let max_call = 1_000_000; // $0.001 worst case
    Config {
        seed,
        procs,
        threads: 2,
        max_call,
        limit: max_call * 10_000,
        policy: AllowancePolicy::default(),
        latency_ms,
        crash_per_mille: 2,
        outage_per_mille: 0,
        drive_ms: 4_000,
        call_ms: 1_500,
        think_ms: 300,
        idle_per_mille: 30,
    }
}

#[test]
fn allowance_sim_thousands_of_holders_never_overspend_and_strand_nothing_late() {
    let mut cfg = config(7, 3_000, 0);
    cfg.limit = cfg.max_call * 20_000;
    let f = run(cfg);
    eprintln!("3000 processes x 2 threads, syncs applied at once: {f:?}");
    // A late refusal leaves less than one worst case (1/20_000 of the limit) uncommitted.
    assert!(f.late_refusals > 0 && f.min_late_utilisation >= 0.99995);
    assert!(f.crashes > 0 && f.episodes > 0);
}

#[test]
fn allowance_sim_busy_processes_serve_many_calls_per_store_sync() {
    // The benchmark's shape: 8 processes x 16 threads making short calls back to back.
    let mut cfg = config(5, 8, 0);
    cfg.threads = 16;
    cfg.call_ms = 20;
    cfg.think_ms = 2;
    cfg.idle_per_mille = 0;
    cfg.crash_per_mille = 0;
    cfg.limit = cfg.max_call * 20_000;
    cfg.drive_ms = 60_000;
    let f = run(cfg);
    eprintln!("8 processes x 16 threads, short calls: {f:?}");
    // About one write-back per process per 100 ms, each carrying ~150 settlements.
    assert!(
        f.calls_before_pressure > 100 * f.syncs_before_pressure,
        "{f:?}"
    );
    assert!(f.min_late_utilisation >= 0.99999);
}

#[test]
fn allowance_sim_with_round_trips_and_outages_stays_within_the_limit() {
    let mut cfg = config(11, 2_000, 5);
    cfg.outage_per_mille = 5;
    let f = run(cfg);
    eprintln!("2000 processes x 2 threads, 1-5 ms round trips, outages: {f:?}");
    assert!(f.outages > 0);
    assert!(f.min_late_utilisation >= 0.999);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn allowance_sim_random_fleets(
        seed in any::<u64>(),
        procs in 1usize..600,
        threads in 1usize..5,
        max_call in 1u64..10_000_000,
        budget_calls in 2_000u64..20_000,
        fraction in 0.01f64..=1.0,
        idle_return_ms in 50u64..2_000,
        write_back_ms in 1u64..200,
        min_grant in 0u64..50_000_000,
        max_grant_calls in 1u64..5_000,
        latency_ms in prop::sample::select(vec![0u64, 0, 3, 20]),
        crash_per_mille in 0u64..10,
        outage_per_mille in 0u64..10,
    ) {
        let policy = AllowancePolicy {
            enabled: true,
            idle_return_ms,
            write_back_ms,
            pressure_ms: idle_return_ms * 2,
            headroom_fraction: fraction,
            min_grant_nanos: min_grant,
            max_grant_nanos: (max_call * max_grant_calls).max(min_grant),
        };
        policy.validate().unwrap();
        run(Config {
            seed,
            procs,
            threads,
            max_call,
            limit: max_call * budget_calls,
            policy,
            latency_ms,
            crash_per_mille,
            outage_per_mille,
            drive_ms: 3_000,
            call_ms: 1_500,
            think_ms: 300,
            idle_per_mille: 30,
        });
    }
}

#[test]
fn allowance_sim_with_allowances_off_is_per_call_and_exact() {
    let mut cfg = config(3, 300, 0);
    cfg.policy.enabled = false;
    let f = run(cfg);
    // Every call leases exactly its worst case and syncs after: at least two syncs a call.
    assert!(f.syncs >= 2 * f.calls, "{f:?}");
    assert_eq!(f.max_early_stranding, 0.0);
}
