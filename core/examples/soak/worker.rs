//! One worker process of the soak: steady threads and a racer (see main.rs), its RSS sampled
//! every 2 s; prints one JSON report line when its time is up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use wflo_core::store::Period;
use wflo_core::{CallRequest, Engine, Error, ExecutionOptions, ExecutionStatus, Usage};

use crate::histogram::Histogram;
use crate::{PRICES, TENANT_LIMIT, WINDOW_MS};

const CALLS_PER_EXECUTION: u64 = 200;
const CHECKPOINT_EVERY: u64 = 25;

#[derive(Default, Serialize, Deserialize)]
pub struct Report {
    pub pid: u32,
    pub ok: u64,
    pub refused: u64,
    /// Unexpected errors by message (a soak must have none).
    pub errors: BTreeMap<String, u64>,
    /// The cost of every call settled with `Ok`.
    pub settled_nanos: u64,
    pub latency: Histogram,
    pub checkpoint: Histogram,
    /// RSS in KiB, every 2 s.
    pub rss_kib: Vec<u64>,
}

impl Report {
    /// (first, after the first tenth of the run, last, max) RSS in KiB.
    pub fn rss_summary(&self) -> (u64, u64, u64, u64) {
        let s = &self.rss_kib;
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        (
            at(0),
            at(s.len() / 10),
            s.last().copied().unwrap_or(0),
            s.iter().copied().max().unwrap_or(0),
        )
    }

    fn add(&mut self, other: Report) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.settled_nanos += other.settled_nanos;
        for (e, n) in other.errors {
            *self.errors.entry(e).or_default() += n;
        }
        self.latency.merge(&other.latency);
        self.checkpoint.merge(&other.checkpoint);
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A request of a varying size, and what it used (up to its cap).
fn call_of(i: u64) -> (CallRequest<'static>, Usage) {
    let n = i.wrapping_mul(2_654_435_761) % 200;
    let req = CallRequest {
        model: "soak-model",
        input_tokens: 500,
        input_estimated: Some(false),
        max_output_tokens: Some(200),
        ..Default::default()
    };
    let usage = Usage {
        input: 500,
        output: n,
        ..Default::default()
    };
    (req, usage)
}

/// One tracked call; its latency is recorded whatever the outcome.
fn tracked(exec: &wflo_core::Execution, i: u64, report: &mut Report) -> Result<(), Error> {
    let (req, usage) = call_of(i);
    let t = Instant::now();
    let outcome = exec.reserve(&req).and_then(|mut r| r.settle(usage));
    report.latency.record(t.elapsed().as_nanos() as u64);
    match outcome {
        Ok(rec) => {
            report.ok += 1;
            report.settled_nanos += rec.cost_nanos;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn note_error(report: &mut Report, e: &Error) {
    // Messages differ by ids; keep their first words so the map stays small.
    let key: String = e.to_string().chars().take(120).collect();
    *report.errors.entry(key).or_default() += 1;
}

fn steady(engine: Engine, run: String, deadline: Instant) -> Report {
    let mut report = Report::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let exec = match engine.start_execution(ExecutionOptions {
            name: format!("{run}:steady"),
            shared_scopes: vec![format!("{run}-global")],
            ..Default::default()
        }) {
            Ok(x) => x,
            Err(e) => {
                note_error(&mut report, &e);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        for n in 1..=CALLS_PER_EXECUTION {
            if Instant::now() >= deadline {
                break;
            }
            i += 1;
            if let Err(e) = tracked(&exec, i, &mut report) {
                note_error(&mut report, &e);
            }
            if n % CHECKPOINT_EVERY == 0 {
                let state = format!("{{\"call\":{n},\"notes\":\"{}\"}}", "s".repeat(400));
                let t = Instant::now();
                match exec.checkpoint(&format!("step-{n}"), &state) {
                    Ok(_) => report.checkpoint.record(t.elapsed().as_nanos() as u64),
                    Err(e) => note_error(&mut report, &e),
                }
            }
        }
        if let Err(e) = exec.finish(ExecutionStatus::Completed) {
            note_error(&mut report, &e);
        }
    }
    report
}

/// Races the other processes' racers for each window's tenant limit.
fn racer(engine: Engine, run: String, t0: u64, deadline: Instant) -> Report {
    let mut report = Report::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let k = now_ms().saturating_sub(t0) / WINDOW_MS;
        let tenant = format!("{run}-t{k}");
        let started = engine
            .define_shared_scope(&tenant, Some(TENANT_LIMIT), Period::None)
            .and_then(|()| {
                engine.start_execution(ExecutionOptions {
                    name: format!("{run}:racer:{k}"),
                    shared_scopes: vec![format!("{run}-global"), tenant],
                    ..Default::default()
                })
            });
        let exec = match started {
            Ok(x) => x,
            Err(e) => {
                note_error(&mut report, &e);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        while Instant::now() < deadline && now_ms().saturating_sub(t0) / WINDOW_MS == k {
            i += 1;
            match tracked(&exec, i, &mut report) {
                Ok(()) => {}
                Err(Error::BudgetExceeded(_)) => {
                    report.refused += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => note_error(&mut report, &e),
            }
        }
        if let Err(e) = exec.finish(ExecutionStatus::Completed) {
            note_error(&mut report, &e);
        }
    }
    report
}

pub fn run(url: &str, run: &str, t0: u64, threads: usize, seconds: u64) {
    let engine = Engine::open(Some(url)).unwrap();
    engine.set_prices_json(PRICES).unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let rss = Arc::new(Mutex::new(vec![rss_kib()]));
    let sampler = {
        let rss = rss.clone();
        std::thread::spawn(move || {
            while Instant::now() + Duration::from_secs(2) <= deadline {
                std::thread::sleep(Duration::from_secs(2));
                rss.lock().push(rss_kib());
            }
        })
    };
    let mut handles: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, run) = (engine.clone(), run.to_owned());
            std::thread::spawn(move || steady(engine, run, deadline))
        })
        .collect();
    let (engine2, run2) = (engine.clone(), run.to_owned());
    handles.push(std::thread::spawn(move || {
        racer(engine2, run2, t0, deadline)
    }));
    let mut report = Report {
        pid: std::process::id(),
        ..Report::default()
    };
    for h in handles {
        report.add(h.join().unwrap());
    }
    sampler.join().unwrap();
    report.rss_kib = rss.lock().clone();
    report.rss_kib.push(rss_kib());
    if let Err(e) = engine.close() {
        note_error(&mut report, &e);
    }
    println!("{}", serde_json::to_string(&report).unwrap());
}
