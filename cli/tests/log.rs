//! WFLO_LOG: the engine's events on stderr, one line each, only when asked.

use std::process::{Command, Output};

fn demo(log: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wflo"));
    cmd.args(["demo", "--db", "memory://", "--report"])
        .arg(dir.path().join("r.html"))
        .env_remove("WFLO_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("WFLO_PRICES")
        .env_remove("WFLO_LOG");
    if let Some(level) = log {
        cmd.env("WFLO_LOG", level);
    }
    cmd.output().unwrap()
}

#[test]
fn events_are_logged_at_the_level_asked_and_not_otherwise() {
    let quiet = demo(None);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("wflo: info"));

    let info = demo(Some("info"));
    assert!(info.status.success());
    let err = String::from_utf8_lossy(&info.stderr);
    for kind in ["refused", "clamped", "checkpoint", "rollback"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("wflo: info {kind}: "))),
            "no {kind} in {err}"
        );
    }
    assert!(err.contains("requested_nanos="), "{err}");
    // DEBUG events (one per call) only at debug.
    assert!(!err.contains(" settled: "));
    let debug = demo(Some("debug"));
    assert!(String::from_utf8_lossy(&debug.stderr).contains("wflo: debug settled: call settled"));

    let bad = Command::new(env!("CARGO_BIN_EXE_wflo"))
        .args(["models"])
        .env("WFLO_LOG", "loud")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("WFLO_LOG must be off, error, warn, info, debug or trace")
    );
}
