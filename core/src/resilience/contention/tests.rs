use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::Engine;

fn lock(engine: &Engine, name: &str, max: u32) -> ResourceLock {
    engine
        .resource(
            name,
            LockConfig {
                max_concurrent: max,
                timeout_ms: 2_000,
                contention_threshold_ms: 20,
                lease_ms: None,
            },
        )
        .unwrap()
}

#[test]
fn a_semaphore_never_has_more_holders_than_its_limit() {
    let engine = Engine::in_memory();
    let sem = lock(&engine, "gpu", 2);
    let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..6 {
            let (sem, inside, most) = (&sem, &inside, &most);
            s.spawn(move || {
                for _ in 0..5 {
                    let mut p = sem.acquire(&format!("wf-{t}"), None).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    p.release().unwrap();
                }
            });
        }
    });
    assert_eq!(most.load(Ordering::SeqCst), 2);
    let stats = sem.stats().unwrap();
    assert_eq!(stats.acquisitions, 30);
    assert!(stats.holders.is_empty());
    assert!(stats.max_wait_ms <= 2_000);
}

#[test]
fn a_busy_lock_times_out_with_who_holds_it_and_counts_contention() {
    let engine = Engine::in_memory();
    let l = lock(&engine, "db-migration", 1);
    let held = l.acquire("wf-a", None).unwrap();
    let e = l.acquire("wf-b", Some(60)).unwrap_err();
    assert_eq!(e.code(), crate::ErrorCode::ResourceBusy);
    match &e {
        Error::ResourceBusy {
            resource,
            waited_ms,
            holders,
        } => {
            assert_eq!(resource, "db-migration");
            assert!(*waited_ms >= 60);
            assert_eq!(holders.len(), 1);
            assert!(holders[0].starts_with("wf-a ("), "{holders:?}");
        }
        other => panic!("{other:?}"),
    }
    let stats = l.stats().unwrap();
    assert_eq!(
        (stats.acquisitions, stats.timeouts, stats.contentions),
        (1, 1, 1)
    );
    assert_eq!(stats.holders[0].workflow_id, "wf-a");
    drop(held);
    // Freed by the drop: taken at once, no contention.
    let p = l.acquire("wf-b", Some(0)).unwrap();
    assert!(p.waited_ms() < 20);
    l.reset_stats().unwrap();
    assert_eq!(l.stats().unwrap().acquisitions, 0);
    assert_eq!(l.stats().unwrap().holders.len(), 1, "holds survive a reset");
}

#[test]
fn a_long_wait_is_contention_and_an_expired_lease_frees_the_slot() {
    let engine = Engine::in_memory();
    let l = engine
        .resource(
            "slow",
            LockConfig {
                lease_ms: Some(80),
                contention_threshold_ms: 30,
                timeout_ms: 2_000,
                ..LockConfig::default()
            },
        )
        .unwrap();
    // A holder that never releases (a crashed process): its lease ends after 80 ms.
    let crashed = l.acquire("wf-dead", None).unwrap();
    std::mem::forget(crashed);
    let p = l.acquire("wf-next", None).unwrap();
    assert!(p.waited_ms() >= 70, "waited {}", p.waited_ms());
    let stats = l.stats().unwrap();
    assert_eq!((stats.acquisitions, stats.contentions), (2, 1));
    assert!(p.renew().unwrap());
}

#[test]
fn settings_and_names_are_checked() {
    let engine = Engine::in_memory();
    assert!(LockConfig::from_json("").is_ok());
    for bad in [
        r#"{"max_concurrent": 0}"#,
        r#"{"lease_ms": 0}"#,
        r#"{"timeout": 1}"#,
    ] {
        let e = LockConfig::from_json(bad).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
    }
    for bad in ["", "a\0b"] {
        assert!(engine.resource(bad, LockConfig::default()).is_err());
    }
}
