//! What the CLI's test files share: running the real `wflo` binary (with no database URL
//! from the environment) and starting its mock server.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// Runs `wflo args` (in `dir`, else here) with no WFLO_DATABASE_URL / DATABASE_URL / WFLO_PRICES.
pub fn wflo_in(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wflo"));
    cmd.args(args)
        .env_remove("WFLO_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("WFLO_PRICES");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.output().unwrap()
}

pub fn wflo(args: &[&str]) -> Output {
    wflo_in(None, args)
}

/// The stdout of `wflo args`, which must succeed.
pub fn ok(args: &[&str]) -> String {
    let out = wflo(args);
    assert!(
        out.status.success(),
        "wflo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON `wflo args` prints.
pub fn json(args: &[&str]) -> Value {
    let text = ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("wflo {args:?}: {e} in:\n{text}"))
}

/// Starts `wflo mock-llm --port 0`: the process and the base URL its banner names (checked to
/// be on loopback).
pub fn mock_llm() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wflo"))
        .args(["mock-llm", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}
