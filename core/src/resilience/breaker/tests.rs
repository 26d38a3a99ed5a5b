use super::*;
use crate::clock::ManualClock;

/// A breaker on a store of its own: in memory, or kept in the store when `config.shared`.
fn breaker(config: BreakerConfig) -> (Breaker, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000));
    let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::new());
    (
        Breaker::new("openai", config, clock.clone(), store, "test:1").unwrap(),
        clock,
    )
}

/// Runs a state-machine test on a breaker of one process and on a shared one.
fn in_both_modes(test: impl Fn(bool)) {
    test(false);
    test(true);
}

fn config(failures: u32, recovery_ms: u64, successes: u32, shared: bool) -> BreakerConfig {
    BreakerConfig {
        failure_threshold: failures,
        recovery_timeout_ms: recovery_ms,
        success_threshold: successes,
        shared,
        ..BreakerConfig::default()
    }
}

#[test]
fn opens_after_n_consecutive_failures_and_refuses_until_the_timeout() {
    in_both_modes(|shared| {
        let (b, clock) = breaker(config(3, 10_000, 2, shared));
        for _ in 0..2 {
            b.check().unwrap();
            b.record_failure().unwrap();
        }
        // A success in between resets the count: consecutive failures open it, not total.
        b.check().unwrap();
        b.record_success().unwrap();
        for _ in 0..2 {
            b.check().unwrap();
            b.record_failure().unwrap();
        }
        assert_eq!(b.state().unwrap(), BreakerState::Closed);
        b.check().unwrap();
        b.record_failure().unwrap();
        assert_eq!(b.state().unwrap(), BreakerState::Open);
        clock.advance(4_000);
        let e = b.check().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::CircuitOpen);
        assert_eq!(
            e,
            Error::CircuitOpen {
                name: "openai".into(),
                failures: 3,
                retry_in_ms: 6_000
            }
        );
        assert_eq!(b.status().unwrap().rejected, 1);
        assert_eq!(b.status().unwrap().retry_in_ms, Some(6_000));
        clock.advance(6_000);
        assert_eq!(b.state().unwrap(), BreakerState::HalfOpen);
        b.check().unwrap();
    });
}

#[test]
fn half_open_closes_after_m_successes_and_reopens_on_a_failure() {
    in_both_modes(|shared| {
        let (b, clock) = breaker(config(1, 1_000, 2, shared));
        b.record_failure().unwrap();
        clock.advance(1_000);
        b.check().unwrap();
        b.record_success().unwrap();
        assert_eq!(b.state().unwrap(), BreakerState::HalfOpen);
        b.check().unwrap();
        b.record_failure().unwrap();
        assert_eq!(
            b.state().unwrap(),
            BreakerState::Open,
            "a failed trial reopens it"
        );
        clock.advance(999);
        assert!(b.check().is_err());
        clock.advance(1);
        b.check().unwrap();
        b.record_success().unwrap();
        b.check().unwrap();
        b.record_success().unwrap();
        assert_eq!(b.state().unwrap(), BreakerState::Closed);
        let reasons: Vec<_> = b
            .status()
            .unwrap()
            .transitions
            .iter()
            .map(|t| (t.from, t.to, t.reason.clone()))
            .collect();
        use BreakerState::*;
        assert_eq!(
            reasons,
            vec![
                (Closed, Open, "1 consecutive failures".into()),
                (Open, HalfOpen, "recovery timeout passed".into()),
                (HalfOpen, Open, "a trial call failed".into()),
                (Open, HalfOpen, "recovery timeout passed".into()),
                (HalfOpen, Closed, "2 successful trial calls".into()),
            ]
        );
    });
}

#[test]
fn a_failure_rate_over_the_window_opens_it() {
    in_both_modes(|shared| {
        let (b, _) = breaker(BreakerConfig {
            failure_threshold: 100,
            failure_rate: Some(0.5),
            window: 10,
            min_calls: 6,
            shared,
            ..BreakerConfig::default()
        });
        // Alternating: never 100 in a row, but half of the window fails.
        for i in 0..5 {
            if i % 2 == 0 {
                b.record_failure().unwrap();
            } else {
                b.record_success().unwrap();
            }
        }
        assert_eq!(
            b.state().unwrap(),
            BreakerState::Closed,
            "5 calls: under min_calls"
        );
        b.record_success().unwrap();
        b.record_failure().unwrap(); // 7 calls, 4 failed
        assert_eq!(b.state().unwrap(), BreakerState::Open);
        assert!(
            b.status().unwrap().transitions[0]
                .reason
                .contains("57% of the last 7")
        );
    });
}

#[test]
fn reset_closes_and_forgets() {
    in_both_modes(|shared| {
        let (b, _) = breaker(config(1, 60_000, 1, shared));
        b.record_failure().unwrap();
        assert!(b.check().is_err());
        b.reset().unwrap();
        assert_eq!(b.state().unwrap(), BreakerState::Closed);
        b.check().unwrap();
        assert_eq!(b.status().unwrap().failure_count, 0);
        assert_eq!(b.status().unwrap().total_failures, 1);
    });
}

#[test]
fn settings_and_names_are_checked() {
    assert!(BreakerConfig::from_json("").is_ok());
    for bad in [
        r#"{"failure_threshold": 0}"#,
        r#"{"failure_rate": 1.5}"#,
        r#"{"window": 5, "min_calls": 6}"#,
        r#"{"threshold": 3}"#,
    ] {
        let e = BreakerConfig::from_json(bad).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
    }
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    for bad in ["", "a\0b"] {
        let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::new());
        assert!(Breaker::new(bad, BreakerConfig::default(), clock.clone(), store, "t:1").is_err());
    }
}

#[test]
fn the_engine_gives_every_caller_one_breaker_per_name() {
    let engine = crate::Engine::in_memory();
    let a = engine
        .breaker("tool:search", Some(config(1, 1_000, 1, false)))
        .unwrap();
    let b = engine.breaker("tool:search", None).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(b.config().failure_threshold, 1, "the first settings stand");
    a.record_failure().unwrap();
    assert_eq!(
        engine
            .breakers()
            .unwrap()
            .iter()
            .map(|s| (s.name.as_str(), s.state))
            .collect::<Vec<_>>(),
        vec![("tool:search", BreakerState::Open)]
    );
}

#[test]
fn a_shared_breaker_steps_by_the_settings_it_was_first_stepped_with_until_a_reset() {
    let store: Arc<dyn crate::store::Store> = Arc::new(crate::store::MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1_000));
    let process = |failures: u32| {
        Breaker::new(
            "provider:openai",
            config(failures, 60_000, 1, true),
            clock.clone(),
            store.clone(),
            "host:1",
        )
        .unwrap()
    };
    let (first, other) = (process(1), process(3));
    first.check().unwrap();
    // The other process was given 3 failures; the fleet's breaker opens on the first one.
    other.record_failure().unwrap();
    assert_eq!(other.state().unwrap(), BreakerState::Open);
    assert_eq!(
        first.check().unwrap_err().code(),
        crate::ErrorCode::CircuitOpen
    );
    // A reset adopts the resetting process's settings: now it takes 3.
    other.reset().unwrap();
    first.record_failure().unwrap();
    first.record_failure().unwrap();
    assert_eq!(first.state().unwrap(), BreakerState::Closed);
    first.record_failure().unwrap();
    assert_eq!(other.state().unwrap(), BreakerState::Open);
}
