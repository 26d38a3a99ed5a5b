#!/usr/bin/env python3
"""`wflo serve` in headless Chromium, driven over the DevTools protocol (a pipe: no extra
package), while a slow agent (cli/examples/serve_feed.rs) keeps recording calls.

    python3 tests/serve/test_browser.py

Checks, in a real browser:
  list       the running execution's spend cell changes without a reload (same document,
             one navigation), the totals follow, a new execution's row appears;
  report     /executions/ID re-renders as calls land (its calls card moves), no reload;
  hostile    names with markup (execution, step, model, a second execution appearing live)
             show as text: no element, no event handler, no alert() call;
  policy     no Content-Security-Policy violation on any page (the inline scripts carry the
             response's nonce; nothing else runs or loads).
Screenshots of the list, a report and the scopes go to $WFLO_CACHE/serve-screenshot*.png
(else target/) for a human to look at.
Needs Chromium (tests/report/install-chromium.sh) and the serve_feed example built.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import base64
from pathlib import Path

from common import FEED, REPO, WFLO, check, feed, need, serve, spawn, stop, stop_all, summary, wait_for

CHROMIUM = "/usr/bin/chromium"

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_STEP = '"><img src=x onerror=alert(2)>'
HOSTILE_MODEL = "gpt-<b onmouseover=alert(3)>4o</b>"
HOSTILE_LATE = "'\"><svg onload=alert(5)>late"
HOSTILE_SCOPE = "team:<i onclick=alert(6)>ops</i>"

# Runs before any page script: records alert() calls and CSP violations.
WATCHERS = """
window.__alerts = [];
window.alert = (m) => window.__alerts.push(String(m));
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 and 4 (--remote-debugging-pipe):
    JSON messages separated by NUL bytes."""

    def __init__(self, profile):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = spawn(
            [
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
                "--window-size=1280,1100",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            preexec_fn=fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable"):
            self.call(method, session=True)
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": WATCHERS}, session=True)

    def _read(self):
        while b"\0" not in self._buf:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        until = time.monotonic() + 30
        while time.monotonic() < until:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                return True
            self.eval("1")  # pumps the pipe
            time.sleep(0.05)
        return False

    def eval(self, expression):
        r = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))


def page_is_clean(b, name):
    """No element or handler came from the store's strings; our one script; no violation."""
    bad = b.eval(
        "Array.from(document.querySelectorAll('*')).filter(e => "
        "Array.from(e.attributes).some(a => a.name.startsWith('on'))).length"
    )
    check(bad == 0, f"{name}: no element has an event-handler attribute")
    check(
        b.eval("document.querySelectorAll('img, b, i, iframe, object, embed').length") == 0,
        f"{name}: no <img>, <b>, <i>, <iframe>",
    )
    check(b.eval("document.scripts.length") == 1, f"{name}: one script, the page's own")
    check(b.eval("window.__alerts.length") == 0, f"{name}: alert() was never called")
    csp = b.eval("window.__csp")
    check(csp == [], f"{name}: no Content-Security-Policy violation {csp or ''}")


def main():
    print("wflo serve in headless Chromium")
    need(WFLO, "build it with `cargo build -p wflo-cli`, or set WFLO_BIN")
    need(FEED, "build it with `cargo build -p wflo-cli --example serve_feed`")
    need(CHROMIUM, "tests/report/install-chromium.sh")
    tmp = Path(tempfile.mkdtemp(prefix="wflo-serve-browser-"))
    try:
        db = tmp / "live.db"
        agent, exec_id = feed(
            db, "--name", HOSTILE_NAME, "--step", HOSTILE_STEP, "--model", HOSTILE_MODEL,
            "--budget", "5", "--calls", "200", "--interval-ms", "250",
            "--shared", f"{HOSTILE_SCOPE}=0.5",
        )
        _, url = serve(db, "--poll-ms", "200", "--scope", HOSTILE_SCOPE)
        b = Browser(tmp / "profile")

        # The list: spend changes in place.
        check(b.navigate(url + "/"), "the list page loads")
        b.eval("window.__marker = 'same document'")
        cell = f"document.querySelector('tr[data-id=\"{exec_id}\"] [data-k=spent]')"
        first = b.eval(f"{cell} && {cell}.textContent")
        check(bool(first), f"the running execution is listed, spent {first}")
        seen = {first}

        def moved():
            seen.add(b.eval(f"{cell}.textContent"))
            return len(seen) >= 3

        check(wait_for("the spend to change", moved, timeout=20), f"its spend changed without a reload: {sorted(seen)}")
        check(b.eval("window.__marker") == "same document", "same document throughout (window state kept)")
        check(b.eval("performance.getEntriesByType('navigation').length") == 1, "one navigation")
        check(int(b.eval("document.body.dataset.events || '0'")) >= 3, "events arrived over the stream")
        name = b.eval(f"document.querySelector('tr[data-id=\"{exec_id}\"] [data-k=name]').textContent")
        check(name == HOSTILE_NAME, f"the hostile name shows as text: {name!r}")
        total = b.eval("document.querySelector('[data-total=spent]').textContent")
        check(total.startswith("$"), f"the total spend card reads {total}")

        # A second execution appears live, its hostile name as text.
        late, late_id = feed(db, "--name", HOSTILE_LATE, "--calls", "2", "--interval-ms", "100", "--finish")
        row = f"document.querySelector('tr[data-id=\"{late_id}\"] [data-k=name]')"
        appeared = wait_for("the new row", lambda: b.eval(f"{row} && {row}.textContent"), timeout=15)
        check(appeared == HOSTILE_LATE, f"a new execution's row appeared with its name as text: {appeared!r}")
        status = f"document.querySelector('tr[data-id=\"{late_id}\"] [data-k=status]').textContent"
        check(wait_for("it to complete", lambda: b.eval(status) == "completed", timeout=15), "and its status became completed")
        check(b.eval("window.__marker") == "same document", "still no reload")
        page_is_clean(b, "list")
        shot_dir = Path(os.environ["WFLO_CACHE"]) if os.environ.get("WFLO_CACHE") else REPO / "target"
        shot_dir.mkdir(parents=True, exist_ok=True)
        b.screenshot(shot_dir / "serve-screenshot.png")
        stop(late)

        # The report: live while the execution runs.
        check(b.navigate(f"{url}/executions/{exec_id}"), "the execution page loads")
        b.eval("window.__marker = 'report'")
        calls = (
            "Array.from(document.querySelectorAll('.card')).find(c => "
            "c.querySelector('.k').textContent === 'Calls').querySelector('.v').textContent"
        )
        before = b.eval(calls)
        after = wait_for("the calls card to move", lambda: (lambda v: v if v != before else None)(b.eval(calls)), timeout=20)
        check(after is not None, f"the report re-rendered as calls landed: calls {before} → {after}")
        check(b.eval("window.__marker") == "report", "without a reload")
        check(int(b.eval("document.body.dataset.refreshes || '0'")) >= 1, "by swapping in the re-rendered page")
        h1 = b.eval("document.querySelector('h1').firstChild.textContent")
        check(h1 == HOSTILE_NAME, f"the heading shows the name as text: {h1!r}")
        text = b.eval("document.body.innerText")
        check(HOSTILE_STEP in text and HOSTILE_MODEL in text, "the step and model show as text")
        page_is_clean(b, "report")
        b.screenshot(shot_dir / "serve-screenshot-report.png")

        # Prices: a hostile name asked for, answered as text.
        check(b.navigate(f"{url}/prices?model=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), "the prices page loads")
        check(HOSTILE_NAME in b.eval("document.body.innerText"), "the unknown model is named as text")
        page_is_clean(b, "prices")
        check(b.navigate(f"{url}/prices?model=claude-sonnet-4-6"), "a real model's price")
        check("$3.00" in b.eval("document.body.innerText"), "claude-sonnet-4-6 input at $3.00 per 1M tokens")

        # Scopes: the shared scope's figures and burn-down move as the agent spends.
        check(b.navigate(f"{url}/scopes"), "the scopes page loads")
        b.eval("window.__marker = 'scopes'")
        spent = (
            "Array.from(document.querySelectorAll('.card')).find(c => "
            "c.querySelector('.k').textContent === 'Spent').querySelector('.v').textContent"
        )
        before = b.eval(spent)
        after = wait_for("the scope's spend to move", lambda: (lambda v: v if v != before else None)(b.eval(spent)), timeout=20)
        check(after is not None, f"the scope's spend moved without a reload: {before} → {after}")
        check(b.eval("window.__marker") == "scopes", "same document")
        h2 = b.eval("document.querySelector('.scope h2').textContent")
        check(h2 == HOSTILE_SCOPE, f"the scope's name shows as text: {h2!r}")
        points = b.eval("document.querySelector('svg.scope-burn .burn-spent').getAttribute('points').trim().split(' ').length")
        check(points >= 2, f"its burn-down has {points} points")
        page_is_clean(b, "scopes")
        b.screenshot(shot_dir / "serve-screenshot-scopes.png")
        stop(agent)

        # The watchers themselves: a script without the nonce is blocked and reported.
        b.eval("const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s)")
        blocked = wait_for("the violation report", lambda: b.eval("window.__csp.length"), timeout=5)
        check(blocked and not b.eval("window.__ran"), "a script without the nonce is blocked, and the watcher sees it")
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    t0 = time.monotonic()
    code = main()
    print(f"({time.monotonic() - t0:.1f} s)")
    sys.exit(code)
