//! SQLite under storage faults: a full filesystem, a file-size limit, and another process
//! holding the write lock. In each case the failing write returns `STORAGE` (never a panic or
//! a hang), what was acknowledged before stays intact, the file passes `PRAGMA
//! integrity_check`, and writes work again once the fault is gone.
//!
//! Child processes are this test binary started again with `WFLO_FAULT_CHILD` set: the
//! `fault_child` test then plays their part (and does nothing in a normal run).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use wflo_core::store::{Period, SqliteOptions, SqliteStore};
use wflo_core::{CallRequest, CallStatus, Engine, ErrorCode, Execution, ExecutionOptions, Usage};

const PRICES: &str =
    r#"{"models":[{"name":"f-model","input":1000000,"output":4000000,"max_output":1000}]}"#;

fn open(path: &str, busy_timeout: Duration) -> Engine {
    let store = SqliteStore::open(
        path,
        SqliteOptions {
            busy_timeout,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    common::engine_with_store(store, PRICES)
}

fn req() -> CallRequest<'static> {
    CallRequest {
        model: "f-model",
        input_tokens: 200,
        input_estimated: Some(false),
        max_output_tokens: Some(100),
        ..Default::default()
    }
}

fn call(exec: &Execution, i: u64) -> wflo_core::Result<wflo_core::CallRecord> {
    exec.reserve(&req())?.settle(Usage {
        input: 200,
        output: 1 + i % 100,
        ..Default::default()
    })
}

/// A checkpoint state that does not compress (the store compresses large states), so it
/// really takes `len` bytes of the filesystem.
fn noisy_state(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let noise: String = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdef"[(x & 15) as usize])
        })
        .collect();
    format!("{{\"seed\":{seed},\"noise\":\"{noise}\"}}")
}

fn integrity(path: &str) -> String {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// The error names the condition: SQLite says "full" for ENOSPC, and "disk I/O error" with
/// the store's hint for EFBIG (a file-size limit).
fn is_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("a write failed")
}

/// A tmpfs of a few MB mounted for one test (root only), unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFs { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem with one file until it says it is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a_u8; 16 * 1024];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
            return;
        }
    }
}

#[test]
fn a_full_filesystem_fails_the_write_with_storage_and_corrupts_nothing() {
    let Some(fs) = SmallFs::mount("4m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (not root); the file-size-limit test covers the same ground"
        );
        return;
    };
    let db = fs.path("wflo.db").to_string_lossy().into_owned();
    let engine = open(&db, Duration::from_secs(2));
    let scope = common::unique("full");
    engine
        .define_shared_scope(&scope, Some(1_000_000_000_000), Period::None)
        .unwrap();
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "full".into(),
            shared_scopes: vec![scope.clone()],
            ..Default::default()
        })
        .unwrap();
    let mut calls = Vec::new();
    let mut checkpoints = Vec::new();
    for i in 0..5 {
        calls.push(call(&exec, i).unwrap());
        let state = noisy_state(i, 8_000);
        checkpoints.push((
            exec.checkpoint(&format!("before-{i}"), &state).unwrap(),
            state,
        ));
    }

    fill(&fs.path("filler"));
    // Keep going until the store needs space it cannot get.
    let mut failure = None;
    for i in 5..200 {
        match call(&exec, i) {
            Ok(rec) => calls.push(rec),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        let state = noisy_state(i, 16_000);
        match exec.checkpoint(&format!("during-{i}"), &state) {
            Ok(info) => checkpoints.push((info, state)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("writes kept succeeding on a full filesystem");
    assert_eq!(failure.code(), ErrorCode::Storage, "{failure}");
    assert!(is_full(&failure.to_string()), "{failure}");
    eprintln!("on a full filesystem: {failure}");
    // A reservation on the shared scope now fails closed, as every write does.
    let refused = exec.reserve(&req()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Storage, "{refused}");

    assert_eq!(integrity(&db), "ok", "the database is damaged");
    for (info, state) in &checkpoints {
        assert_eq!(
            &exec.checkpoint_state(info.id).unwrap(),
            state,
            "{}",
            info.name
        );
    }

    std::fs::remove_file(fs.path("filler")).unwrap();
    calls.push(call(&exec, 999).unwrap());
    let state = noisy_state(999, 16_000);
    checkpoints.push((exec.checkpoint("after", &state).unwrap(), state));
    engine.flush().unwrap();
    assert_eq!(integrity(&db), "ok");

    // Every call acknowledged — those settled while the disk was full waited in memory — is in
    // the file, and the scope's spend is exactly theirs.
    let stored = exec.calls().unwrap();
    assert_eq!(stored.len(), calls.len());
    for (s, c) in stored.iter().zip(&calls) {
        assert_eq!(
            (s.seq, s.cost_nanos, s.status),
            (c.seq, c.cost_nanos, CallStatus::Ok)
        );
    }
    let figures = engine.shared_scope(&scope).unwrap();
    assert_eq!(figures.reserved_nanos, 0);
    assert_eq!(
        figures.spent_nanos,
        calls.iter().map(|c| c.cost_nanos).sum::<u64>()
    );
    let saved = exec.checkpoints().unwrap();
    assert_eq!(saved.len(), checkpoints.len());
    engine.close().unwrap();
}

/// The child's side; see the module documentation.
#[test]
fn fault_child() {
    match std::env::var("WFLO_FAULT_CHILD").as_deref() {
        Ok("fsize") => fsize_child(),
        Ok("lock") => lock_child(),
        _ => {}
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

fn child(role: &str, db: &str, shell_prefix: Option<&str>) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match shell_prefix {
        Some(prefix) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(["--exact", "fault_child", "--nocapture", "--test-threads=1"])
        .env("WFLO_FAULT_CHILD", role)
        .env("WFLO_FAULT_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// The text after `@@{tag} ` in a child's output line.
fn marked<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.split_once(&format!("@@{tag} "))
        .map(|(_, rest)| rest.trim())
}

/// Writes under a file-size limit until a write fails; reports what was acknowledged.
fn fsize_child() {
    let db = env("WFLO_FAULT_DB");
    let engine = open(&db, Duration::from_secs(2));
    let exec = engine.resume_execution(&env("WFLO_FAULT_EXEC")).unwrap();
    for i in 0..1000u64 {
        let outcome = call(&exec, i).and_then(|rec| {
            let state = noisy_state(i, 16_000);
            let info = exec.checkpoint(&format!("limited-{i}"), &state)?;
            Ok((rec, info, state.len()))
        });
        match outcome {
            Ok((rec, info, len)) => println!("@@ack {} {} {len} {}", info.id, info.name, rec.seq),
            Err(e) => {
                println!("@@fail {} {e}", e.code());
                break;
            }
        }
    }
    // Leave without closing: a close would only fail the same way, and a process that stops
    // here is what the parent must recover from.
    std::process::exit(0);
}

#[test]
fn a_file_size_limit_fails_the_write_with_storage_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let engine = open(&db, Duration::from_secs(2));
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "fsize".into(),
            ..Default::default()
        })
        .unwrap();
    let mut before = Vec::new();
    for i in 0..3 {
        let rec = call(&exec, i).unwrap();
        let state = noisy_state(i, 4_000);
        before.push((
            exec.checkpoint(&format!("before-{i}"), &state).unwrap(),
            state,
            rec,
        ));
    }
    let id = exec.id().to_owned();
    drop(exec);
    engine.close().unwrap();

    // RLIMIT_FSIZE of 2048 blocks (1 MiB for dash, 2 MiB for bash): a write past it fails
    // with EFBIG, as SIGXFSZ is ignored.
    let out = child("fsize", &db, Some("trap '' XFSZ; ulimit -f 2048"))
        .env("WFLO_FAULT_EXEC", &id)
        .output()
        .unwrap();
    assert!(out.status.success(), "the child failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let acked: Vec<(u64, String, usize, u64)> = text
        .lines()
        .filter_map(|l| marked(l, "ack"))
        .map(|rest| {
            let p: Vec<&str> = rest.split(' ').collect();
            (
                p[0].parse().unwrap(),
                p[1].to_owned(),
                p[2].parse().unwrap(),
                p[3].parse().unwrap(),
            )
        })
        .collect();
    let failure = text
        .lines()
        .find_map(|l| marked(l, "fail"))
        .expect("the child never hit the limit")
        .to_owned();
    eprintln!(
        "under a file-size limit: {} checkpoints, then {failure}",
        acked.len()
    );
    assert!(failure.starts_with("STORAGE "), "{failure}");
    assert!(is_full(&failure), "{failure}");
    assert!(
        acked.len() >= 10,
        "the limit was hit too early to mean anything"
    );

    assert_eq!(integrity(&db), "ok", "the database is damaged");
    // Without the limit: everything acknowledged is there, and writing works.
    let engine = open(&db, Duration::from_secs(2));
    let exec = engine.resume_execution(&id).unwrap();
    let saved = exec.checkpoints().unwrap();
    for (info, state, _) in &before {
        assert_eq!(&exec.checkpoint_state(info.id).unwrap(), state);
    }
    for (cp, name, len, _) in &acked {
        let info = saved
            .iter()
            .find(|c| c.id == *cp)
            .unwrap_or_else(|| panic!("acknowledged checkpoint {name} lost"));
        assert_eq!(&info.name, name);
        assert_eq!(exec.checkpoint_state(*cp).unwrap().len(), *len);
    }
    // A checkpoint makes the calls before it durable with it.
    let last_seq = acked.last().unwrap().3;
    let calls = exec.calls().unwrap();
    for seq in 1..=last_seq {
        assert!(
            calls.iter().any(|c| c.seq == seq),
            "acknowledged call #{seq} lost"
        );
    }
    call(&exec, 1).unwrap();
    exec.checkpoint("after", "{\"ok\":true}").unwrap();
    engine.close().unwrap();
    assert_eq!(integrity(&db), "ok");
}

/// Holds the write lock (`BEGIN IMMEDIATE`) until its stdin closes.
fn lock_child() {
    let c = Connection::open(env("WFLO_FAULT_DB")).unwrap();
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    println!("\n@@locked now");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    c.execute_batch("COMMIT").unwrap();
    println!("@@released now");
}

#[test]
fn another_process_holding_the_write_lock_makes_writes_wait_then_fail_with_storage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wflo.db").to_string_lossy().into_owned();
    let busy = Duration::from_millis(800);
    let engine = open(&db, busy);
    let scope = common::unique("lock");
    // Per call: every reservation is a write (an allowance would serve it from memory).
    common::define_per_call(&engine, &scope, Some(1_000_000_000_000), Period::None);
    let exec = engine
        .start_execution(ExecutionOptions {
            name: "lock".into(),
            shared_scopes: vec![scope.clone()],
            ..Default::default()
        })
        .unwrap();
    let mut calls = vec![call(&exec, 0).unwrap()];
    exec.checkpoint("before", "{\"n\":0}").unwrap();

    let lock = |db: &str| {
        let mut holder = child("lock", db, None)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
        assert!(
            lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| marked(&l, "locked").is_some()),
            "the lock holder did not start"
        );
        (holder, lines)
    };

    // Held for good: a write waits the busy timeout, then fails with STORAGE naming the lock.
    let (mut holder, mut lines) = lock(&db);
    for what in ["reserve", "checkpoint"] {
        let t = Instant::now();
        let err = match what {
            "reserve" => exec.reserve(&req()).map(|_| ()).unwrap_err(),
            _ => exec.checkpoint("blocked", "{}").map(|_| ()).unwrap_err(),
        };
        let waited = t.elapsed();
        eprintln!("{what} with the lock held elsewhere: {err} after {waited:?}");
        assert_eq!(err.code(), ErrorCode::Storage, "{err}");
        let m = err.to_string();
        assert!(m.contains("locked") || m.contains("busy"), "{m}");
        assert!(waited >= busy * 9 / 10, "{what} gave up after {waited:?}");
        assert!(
            waited < busy * 2 + Duration::from_secs(2),
            "{what} hung: {waited:?}"
        );
    }
    // Readers are not blocked by a writer (WAL).
    assert_eq!(engine.shared_scope(&scope).unwrap().reserved_nanos, 0);
    drop(holder.stdin.take());
    assert!(lines.any(|l| l.is_ok_and(|l| marked(&l, "released").is_some())));
    assert!(holder.wait().unwrap().success());
    calls.push(call(&exec, 1).unwrap());

    // Held briefly: the write waits for it and then succeeds.
    let (mut holder, mut lines) = lock(&db);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(holder.stdin.take());
        assert!(lines.any(|l| l.is_ok_and(|l| marked(&l, "released").is_some())));
        holder.wait().unwrap()
    });
    let t = Instant::now();
    exec.checkpoint("waited", "{\"n\":2}").unwrap();
    let waited = t.elapsed();
    assert!(release.join().unwrap().success());
    eprintln!("a checkpoint waited {waited:?} for a lock held 300 ms");
    assert!(
        waited >= Duration::from_millis(250),
        "it did not wait: {waited:?}"
    );
    calls.push(call(&exec, 2).unwrap());

    engine.flush().unwrap();
    let stored = exec.calls().unwrap();
    assert_eq!(stored.len(), calls.len());
    let figures = engine.shared_scope(&scope).unwrap();
    assert_eq!(figures.reserved_nanos, 0);
    assert_eq!(
        figures.spent_nanos,
        calls.iter().map(|c| c.cost_nanos).sum::<u64>()
    );
    let names: Vec<String> = exec
        .checkpoints()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["before", "waited"]);
    engine.close().unwrap();
    assert_eq!(integrity(&db), "ok");
}
