"""A PostgreSQL server over a data directory that outlives one run, for the history section:
its generated store (millions of rows) is kept under /tmp/wflo-history and reused while the
scale is the same, instead of being rebuilt in tests/pg/with-postgres.sh's throwaway server.

  start(dir) -> url   initdb on first use, then pg_ctl start on a free loopback port
  stop(dir)           pg_ctl stop (the data stays; delete the directory to drop it)

The server runs as the `postgres` user when we are root (initdb refuses root), like
with-postgres.sh, with fsync off as there: figures are about plans and reads, not durability.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Optional


def pg_bin() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
    return Path(found[-1]) if found and (Path(found[-1]) / "initdb").exists() else None


def _as_pg(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.getuid() == 0 else argv


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(root: Path) -> str:
    bin_ = pg_bin()
    if bin_ is None:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    root.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    if not (data / "PG_VERSION").exists():
        subprocess.run(_as_pg([str(bin_ / "initdb"), "-D", str(data), "-U", "wflo", "--auth=trust", "-E", "UTF8"]),
                       check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c shared_buffers=512MB -c maintenance_work_mem=512MB -c max_wal_size=1GB -c max_connections=50")
    subprocess.run(_as_pg([str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "120",
                           "-o", opts, "start"]), check=True, stdout=subprocess.DEVNULL)
    url = f"postgres://wflo@127.0.0.1:{port}/wflo"
    exists = subprocess.run(["psql", f"postgres://wflo@127.0.0.1:{port}/postgres", "-tAc",
                             "SELECT 1 FROM pg_database WHERE datname = 'wflo'"], capture_output=True, text=True, check=True)
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", f"postgres://wflo@127.0.0.1:{port}/postgres", "-qc", "CREATE DATABASE wflo"], check=True)
    return url


def stop(root: Path) -> None:
    bin_ = pg_bin()
    if bin_ is not None and (root / "data" / "postmaster.pid").exists():
        subprocess.run(_as_pg([str(bin_ / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
