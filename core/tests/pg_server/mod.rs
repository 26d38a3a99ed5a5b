//! A PostgreSQL server of a test's own, which the test may stop and start again (the shared
//! server of tests/pg/with-postgres.sh must stay up for the other tests). The same recipe as
//! that script: the machine's /usr/lib/postgresql/*/bin (or `WFLO_TEST_PG_BIN`), initdb into a
//! temporary directory, a free loopback port, and — since initdb refuses to run as root — the
//! `postgres` user when the test runs as root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_root: bool,
}

fn pg_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("WFLO_TEST_PG_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    /// initdb and start a server; `None` (reported as skipped) when the machine has no
    /// PostgreSQL, which fails the test instead when `WFLO_REQUIRE_POSTGRES=1`.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var("WFLO_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "no PostgreSQL under /usr/lib/postgresql/*/bin and WFLO_REQUIRE_POSTGRES=1"
            );
            eprintln!("SKIPPED: no PostgreSQL server binaries on this machine");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("wflo-pg-fault.")
            .tempdir()
            .unwrap();
        let as_root = is_root();
        if as_root {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let server = PgServer {
            bin,
            dir,
            port: free_port(),
            as_root,
        };
        // -N: no fsync of the fresh cluster (a throw-away server; 1 s instead of 4).
        server.pg("initdb", |c| {
            c.args(["-N", "-U", "wflo", "--auth=trust", "-E", "UTF8", "-D"])
                .arg(server.data());
        });
        server.start_again();
        Some(server)
    }

    /// The server's URL (its `postgres` database; the user `wflo` is its superuser).
    pub fn url(&self) -> String {
        format!("postgres://wflo@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server's programs, as `postgres` when we are root.
    fn pg(&self, program: &str, args: impl FnOnce(&mut Command)) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        args(&mut cmd);
        run(&mut cmd)
    }

    /// Starts the server (again) on the same data directory and port, and waits until it
    /// accepts connections.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &opts, "start"]);
        });
    }

    /// Stops the server the way an operator does (`-m fast`: open transactions are rolled
    /// back and every client is disconnected) and waits until it is down.
    pub fn stop(&self) {
        self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "stop"]);
        });
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = cmd
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
