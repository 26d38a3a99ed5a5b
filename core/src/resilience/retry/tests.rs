use super::*;

fn http(status: u16) -> Failure {
    Failure {
        kind: FailureKind::Http,
        status: Some(status),
        headers: vec![],
        message: String::new(),
    }
}

fn no_jitter() -> RetryPolicy {
    RetryPolicy {
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

fn delays(policy: RetryPolicy, failure: &Failure) -> Vec<u64> {
    let mut r = Retrier::new(policy, 0).unwrap();
    let mut out = vec![];
    let mut now = 0;
    while let Decision::Retry { delay_ms, .. } = r.next(failure, now) {
        out.push(delay_ms);
        now += delay_ms;
    }
    out
}

#[test]
fn the_three_backoffs_grow_as_documented_and_are_capped() {
    let f = http(503);
    assert_eq!(delays(no_jitter(), &f), vec![1_000, 2_000, 4_000]);
    let linear = RetryPolicy {
        backoff: Backoff::Linear,
        max_retries: 4,
        ..no_jitter()
    };
    assert_eq!(delays(linear, &f), vec![1_000, 2_000, 3_000, 4_000]);
    let fixed = RetryPolicy {
        backoff: Backoff::Fixed,
        base_delay_ms: 250,
        ..no_jitter()
    };
    assert_eq!(delays(fixed, &f), vec![250, 250, 250]);
    let capped = RetryPolicy {
        max_retries: 8,
        max_delay_ms: 10_000,
        ..no_jitter()
    };
    assert_eq!(
        delays(capped, &f),
        vec![1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000]
    );
}

#[test]
fn jitter_stays_within_its_fraction_and_is_reproducible_with_a_seed() {
    let p = RetryPolicy {
        max_retries: 50,
        max_delay_ms: 1_000,
        jitter: 0.25,
        seed: Some(7),
        ..RetryPolicy::default()
    };
    let a = delays(p.clone(), &http(429));
    assert_eq!(a, delays(p, &http(429)));
    assert_eq!(a.len(), 50);
    assert!(a.iter().all(|d| (750..=1_250).contains(d)), "{a:?}");
    // Not all equal: the jitter did something.
    assert!(a.iter().any(|d| *d != a[0]));
}

#[test]
fn only_retryable_failures_are_retried() {
    let p = RetryPolicy::default();
    for s in [408, 429, 500, 502, 503, 504, 529] {
        assert!(p.retryable(&http(s)), "{s}");
    }
    for s in [400, 401, 403, 404, 409, 422] {
        assert!(!p.retryable(&http(s)), "{s}");
    }
    let refused = Failure {
        kind: FailureKind::Refused,
        status: None,
        headers: vec![],
        message: "budget exceeded".into(),
    };
    assert!(!p.retryable(&refused));
    let mut r = Retrier::new(p, 0).unwrap();
    match r.next(&http(400), 0) {
        Decision::GiveUp { why, reason } => {
            assert_eq!(why, GiveUpWhy::NotRetryable);
            assert!(reason.contains("not retryable"), "{reason}")
        }
        d => panic!("{d:?}"),
    }
    let only_429 = RetryPolicy {
        retry_statuses: Some(vec![429]),
        retry_timeouts: false,
        ..RetryPolicy::default()
    };
    assert!(!only_429.retryable(&http(503)));
    assert!(!only_429.retryable(&Failure {
        kind: FailureKind::Timeout,
        status: None,
        headers: vec![],
        message: String::new()
    }));
}

#[test]
fn retry_after_is_honoured_when_longer_than_the_backoff() {
    let mut f = http(429);
    f.headers = vec![("Retry-After".into(), "7".into())];
    assert_eq!(delays(no_jitter(), &f), vec![7_000, 7_000, 7_000]);
    f.headers = vec![("retry-after-ms".into(), "1500".into())];
    assert_eq!(delays(no_jitter(), &f), vec![1_500, 2_000, 4_000]);
}

#[test]
fn the_deadline_stops_a_retry_that_would_end_past_it() {
    let p = RetryPolicy {
        max_retries: 10,
        deadline_ms: Some(5_000),
        ..no_jitter()
    };
    // 1 s + 2 s end at 3 s; the next (4 s) would end at 7 s > 5 s.
    assert_eq!(delays(p.clone(), &http(500)), vec![1_000, 2_000]);
    let mut r = Retrier::new(p, 0).unwrap();
    r.next(&http(500), 1_000);
    r.next(&http(500), 3_000);
    match r.next(&http(500), 3_500) {
        Decision::GiveUp { why, reason } => {
            assert_eq!(why, GiveUpWhy::Deadline);
            assert!(reason.contains("deadline"), "{reason}")
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn exhaustion_says_how_many_attempts_were_made() {
    let mut r = Retrier::new(no_jitter(), 0).unwrap();
    assert_eq!(r.attempt(), 1);
    for n in 2..=4 {
        match r.next(&http(503), 0) {
            Decision::Retry { attempt, .. } => assert_eq!(attempt, n),
            d => panic!("{d:?}"),
        }
    }
    match r.next(&http(503), 0) {
        Decision::GiveUp { why, reason } => {
            assert_eq!(why, GiveUpWhy::Exhausted);
            assert!(reason.contains("gave up after 4 attempts"), "{reason}")
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn a_refused_retry_says_what_failed_before_it() {
    let mut r = Retrier::new(no_jitter(), 0).unwrap();
    let budget = || {
        Error::BudgetExceeded(Box::new(crate::BudgetExceeded {
            scope: "x".into(),
            limit_nanos: 10,
            spent_nanos: 9,
            reserved_nanos: 0,
            requested_nanos: 5,
            retry_note: None,
            hint: None,
        }))
    };
    // A first attempt's refusal is the plain refusal.
    assert_eq!(r.refused(budget()), budget());
    let mut f = http(429);
    f.message = "429 Too Many Requests".into();
    r.next(&f, 0);
    let e = r.refused(budget());
    assert_eq!(e.code(), crate::ErrorCode::BudgetExceeded);
    let text = e.to_string();
    assert!(
        text.contains("attempt 2 not sent: attempt 1 failed: 429 Too Many Requests"),
        "{text}"
    );
}

#[test]
fn policies_are_checked() {
    assert!(RetryPolicy::from_json("").is_ok());
    let p = RetryPolicy::from_json(r#"{"backoff": "linear", "max_retries": 5}"#).unwrap();
    assert_eq!(
        (p.backoff, p.max_retries, p.base_delay_ms),
        (Backoff::Linear, 5, 1_000)
    );
    for bad in [
        r#"{"multiplier": 0.5}"#,
        r#"{"jitter": 2}"#,
        r#"{"max_delay_ms": 10, "base_delay_ms": 100}"#,
        r#"{"retry_statuses": [42]}"#,
        r#"{"max_retry": 3}"#,
        r#"{"max_retries": 1000}"#,
    ] {
        let e = RetryPolicy::from_json(bad).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
    }
}

#[test]
fn rate_limit_headers_are_read() {
    let h = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        retry_after_ms(&h(&[("retry-after", "1.5")]), 0),
        Some(1_500)
    );
    let now = 1_445_412_480_000; // 2015-10-21 07:28:00 GMT
    assert_eq!(
        retry_after_ms(&h(&[("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")]), now),
        Some(30_000)
    );
    assert_eq!(
        retry_after_ms(
            &h(&[
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-reset-tokens", "6m0s")
            ]),
            0
        ),
        Some(360_000)
    );
    assert_eq!(
        retry_after_ms(&h(&[("x-ratelimit-reset-tokens", "20ms")]), 0),
        Some(20)
    );
    assert_eq!(
        retry_after_ms(
            &h(&[(
                "anthropic-ratelimit-requests-reset",
                "2015-10-21T07:28:12.5Z"
            )]),
            now
        ),
        Some(12_500)
    );
    assert_eq!(
        retry_after_ms(
            &h(&[(
                "anthropic-ratelimit-tokens-reset",
                "2015-10-21T09:28:02+02:00"
            )]),
            now
        ),
        Some(2_000)
    );
    // Unreadable values are ignored, not guessed.
    assert_eq!(retry_after_ms(&h(&[("retry-after", "soon")]), 0), None);
    assert_eq!(
        retry_after_ms(&h(&[("x-ratelimit-reset-tokens", "5y")]), 0),
        None
    );
    assert_eq!(retry_after_ms(&[], 0), None);
}

#[test]
fn a_refusal_raised_elsewhere_gets_the_same_note() {
    let mut r = Retrier::new(no_jitter(), 0).unwrap();
    assert_eq!(r.refused_message("budget exceeded"), "budget exceeded");
    r.next(&http(503), 0);
    let m = r.refused_message("budget exceeded");
    assert_eq!(
        m,
        "budget exceeded (attempt 2 not sent: attempt 1 failed: HTTP 503)"
    );
    assert_eq!(r.refused_message(&m), m, "not added twice");
    assert_eq!(r.delay_ms(3), 4_000);
}
