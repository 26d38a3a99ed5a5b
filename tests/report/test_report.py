#!/usr/bin/env python3
"""Browser test of `wflo report --html`: renders real reports in headless Chromium.

    python3 tests/report/test_report.py

Builds nothing: takes the `wflo` binary from $WFLO_BIN (default: $CARGO_TARGET_DIR/debug/wflo,
else target/debug/wflo under the repository root). Installs Debian's Chromium first when it is missing
(tests/report/install-chromium.sh). Python 3 standard library only.

Three pages are rendered and checked:
  demo     `wflo demo`'s execution: one mark per call, one per checkpoint, the rollback;
  hostile  the same execution with markup in its name, step, model, checkpoint and error text:
           none of it may become an element, all of it must show as text;
  many     300 calls and no budget: still one mark per call, and "no budget".
The screenshot of the demo page is copied to $WFLO_CACHE/report-screenshot.png (or
target/report-screenshot.png) for a human to look at.
"""

import html.parser
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = "/usr/bin/chromium"

HOSTILE_STEP = "<script>alert(1)</script>"
HOSTILE_NAME = '"><img src=x onerror=alert(1)>'
HOSTILE_MODEL = "gpt-<b onmouseover=alert(2)>4o</b>"
HOSTILE_CHECKPOINT = "<svg onload=alert(3)>'cp'"
HOSTILE_ERROR = "</td></tr></table><script>alert(4)</script>"

results = []  # (ok, message)


def check(ok, message):
    results.append((bool(ok), message))
    print(("  PASS  " if ok else "  FAIL  ") + message, flush=True)
    return ok


def run(args, **kw):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180, **kw)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


class Dom(html.parser.HTMLParser):
    """Counts elements by tag and class, notes attributes, and collects the text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = {}
        self.classes = {}
        self.elements = []  # (tag, attrs dict)
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for c in (a.get("class") or "").split():
            self.classes[c] = self.classes.get(c, 0) + 1
        self.elements.append((tag, a))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def count(self, cls):
        return self.classes.get(cls, 0)

    def all_text(self):
        return "".join(self.text)


def chromium(page, out_dir, what):
    """Runs headless Chromium on `page`: `what` is 'dom' (returns the DOM) or a PNG path."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=out_dir)
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        # Belt and braces: the page must load nothing, and nothing could resolve anyway.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
    ]
    if what == "dom":
        args.append("--dump-dom")
    else:
        args += [f"--screenshot={what}", "--window-size=1280,2000"]
    args.append(Path(page).resolve().as_uri())
    try:
        return run(args)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def copy_db(src, dst):
    """A consistent copy of a SQLite database (WAL included) through the backup API."""
    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
        s.backup(d)


def show(wflo, exec_id, db):
    return json.loads(run([wflo, "show", exec_id, "--json", "--db", db]))


def check_page(name, page, info, out_dir, dom_check=None):
    print(f"\n[{name}] {page}")
    dom_text = chromium(page, out_dir, "dom")
    dom = Dom()
    dom.feed(dom_text)
    calls = len(info["calls"])
    checkpoints = len(info["checkpoints"])
    rollbacks = len(info["rollbacks"])
    superseded = sum(1 for c in info["checkpoints"] if c["superseded"])
    refused = sum(1 for c in info["calls"] if c["status"] == "refused")
    check(dom.tags.get("svg", 0) >= 1, f"{name}: the page has inline SVG charts")
    check(dom.count("call-mark") == calls, f"{name}: {dom.count('call-mark')} call marks for {calls} calls")
    marks = [a for t, a in dom.elements if "call-mark" in (a.get("class") or "").split()]
    check(
        sorted(int(a.get("data-seq", -1)) for a in marks) == sorted(c["seq"] for c in info["calls"]),
        f"{name}: one mark per call sequence number",
    )
    check(
        sum(1 for a in marks if a.get("data-status") == "refused") == refused,
        f"{name}: {refused} refused call(s) marked as refused",
    )
    check(
        dom.count("checkpoint-mark") == checkpoints,
        f"{name}: {dom.count('checkpoint-mark')} checkpoint marks for {checkpoints} checkpoints",
    )
    sup_marks = sum(
        1
        for _, a in dom.elements
        if "checkpoint-mark" in (a.get("class") or "").split() and a.get("data-superseded") == "true"
    )
    check(sup_marks == superseded, f"{name}: {superseded} superseded checkpoint(s) drawn as such")
    check(
        dom.count("rollback-mark") == rollbacks,
        f"{name}: {dom.count('rollback-mark')} rollback mark(s) for {rollbacks} rollback(s)",
    )
    # Self-contained: no script at all, nothing fetched.
    check(dom.tags.get("script", 0) == 0 and "<script" not in dom_text.lower(), f"{name}: no <script> in the DOM")
    fetching = [
        (t, a)
        for t, a in dom.elements
        if t in ("img", "link", "iframe", "object", "embed", "video", "audio", "source", "image")
        or any(k in a for k in ("src", "href", "srcset", "xlink:href", "background"))
    ]
    check(not fetching, f"{name}: no element loads anything {fetching[:3] if fetching else ''}")
    handlers = [(t, k) for t, a in dom.elements for k in a if k.startswith("on")]
    check(not handlers, f"{name}: no event-handler attributes {handlers[:3] if handlers else ''}")
    if dom_check:
        dom_check(dom, dom_text)
    png = out_dir / f"{name}.png"
    chromium(page, out_dir, png)
    size = png.stat().st_size if png.exists() else 0
    dims = png_size(png) if size else None
    check(size > 20_000 and dims == (1280, 2000), f"{name}: screenshot {png.name} {dims} {size} bytes")
    return png


def main():
    print("browser test of wflo report --html")
    subprocess.run([str(HERE / "install-chromium.sh")], check=True)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"FAIL: {CHROMIUM} is missing")
        return 1
    print(run([CHROMIUM, "--version"]).strip())
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    wflo = os.environ.get("WFLO_BIN") or str(target / "debug" / "wflo")
    if not os.access(wflo, os.X_OK):
        print(f"FAIL: no wflo binary at {wflo} (build it, or set WFLO_BIN)")
        return 1
    print(f"wflo: {wflo}")

    with tempfile.TemporaryDirectory(prefix="wflo-report-test-") as tmp:
        tmp = Path(tmp)
        db = tmp / "d.db"
        out = run([wflo, "demo", "--db", db, "--report", tmp / "demo.html"], cwd=tmp)
        m = re.search(r"^wflo demo: execution (\S+) with a budget", out, re.M)
        page = re.search(r"^HTML report: (.+)$", out, re.M)
        if not (check(m and page, "demo printed its execution id and report path")):
            print(out)
            return 1
        exec_id, demo_page = m.group(1), Path(page.group(1).strip())
        if not demo_page.is_absolute():
            demo_page = tmp / demo_page
        info = show(wflo, exec_id, db)
        check(len(info["calls"]) > 0 and info["rollbacks"], "the demo made calls and a rollback")
        shot = check_page("demo", demo_page, info, tmp)

        # The same execution with markup in every user-supplied string.
        hdb = tmp / "hostile.db"
        copy_db(db, hdb)
        with sqlite3.connect(hdb) as c:
            c.execute("UPDATE llm_calls SET step = ? WHERE seq = 1", (HOSTILE_STEP,))
            c.execute("UPDATE llm_calls SET requested_model = ?, model = ? WHERE seq = 2", (HOSTILE_MODEL,) * 2)
            c.execute("UPDATE llm_calls SET error = ? WHERE status = 'refused'", (HOSTILE_ERROR,))
            c.execute("UPDATE workflow_executions SET name = ?", (HOSTILE_NAME,))
            c.execute("UPDATE checkpoints SET name = ? WHERE sequence = 1", (HOSTILE_CHECKPOINT,))
            c.execute("UPDATE checkpoint_rollbacks SET checkpoint_name = ?", (HOSTILE_CHECKPOINT,))
        hostile = tmp / "hostile.html"
        run([wflo, "report", exec_id, "--html", hostile, "--db", hdb])

        def hostile_dom(dom, dom_text):
            check(dom.tags.get("img", 0) == 0, "hostile: no <img> element")
            check(dom.tags.get("b", 0) == 0, "hostile: no <b> element")
            stray = [
                a for t, a in dom.elements
                if t == "svg"
                and not ({"burn-down", "bars"} & set((a.get("class") or "").split()) or a.get("aria-hidden") == "true")
            ]
            check(not stray, f"hostile: no <svg> element beyond the report's own {stray[:2] if stray else ''}")
            text = dom.all_text()
            for s in (HOSTILE_STEP, HOSTILE_NAME, HOSTILE_MODEL, HOSTILE_CHECKPOINT, HOSTILE_ERROR):
                check(s in text, f"hostile: {s!r} shows as text")
            check(HOSTILE_NAME in dom.all_text() and "<title>" in dom_text.lower(), "hostile: the name is in the page title as text")

        check_page("hostile", hostile, show(wflo, exec_id, hdb), tmp, hostile_dom)

        # Hundreds of calls and no budget.
        mdb = tmp / "many.db"
        copy_db(db, mdb)
        with sqlite3.connect(mdb) as c:
            cols = [r[1] for r in c.execute("PRAGMA table_info(llm_calls)")]
            last = c.execute("SELECT * FROM llm_calls WHERE execution_id = ? ORDER BY seq DESC LIMIT 1", (exec_id,)).fetchone()
            row = dict(zip(cols, last))
            for seq in range(row["seq"] + 1, 301):
                r = dict(row, seq=seq, step=f"step-{seq % 7}",
                         started_at_ms=row["started_at_ms"] + seq * 50,
                         finished_at_ms=row["finished_at_ms"] + seq * 50,
                         status="refused" if seq % 50 == 0 else "ok",
                         cost_nanos=0 if seq % 50 == 0 else row["cost_nanos"] + seq * 100)
                c.execute(f"INSERT INTO llm_calls ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                          [r[k] for k in cols])
            c.execute("UPDATE workflow_executions SET budget_nanos = NULL")
        many = tmp / "many.html"
        run([wflo, "report", exec_id, "--html", many, "--db", mdb])

        def many_dom(dom, dom_text):
            check("no budget" in dom.all_text(), "many: says 'no budget'")
            check(dom.count("budget-line") == 0, "many: no budget line")

        many_info = show(wflo, exec_id, mdb)
        check(len(many_info["calls"]) == 300, f"many: the execution has {len(many_info['calls'])} calls")
        many_shot = check_page("many", many, many_info, tmp, many_dom)

        dest_dir = Path(os.environ["WFLO_CACHE"]) if os.environ.get("WFLO_CACHE") else REPO / "target"
        dest_dir.mkdir(parents=True, exist_ok=True)
        if shot and shot.exists():
            shutil.copy(shot, dest_dir / "report-screenshot.png")
            shutil.copy(demo_page, dest_dir / "report-demo.html")
            print(f"\nscreenshot: {dest_dir / 'report-screenshot.png'} (page: {dest_dir / 'report-demo.html'})")
        if many_shot and many_shot.exists():
            shutil.copy(many_shot, dest_dir / "report-screenshot-many.png")

    failed = [m for ok, m in results if not ok]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        print("FAIL")
        for m in failed:
            print("  - " + m)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
