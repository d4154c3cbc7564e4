"""Open a report in headless Chromium and check it: console errors, requests, DOM facts, a screenshot.

Talks the DevTools protocol over ``--remote-debugging-pipe`` (no port, no websocket, no extra package).
The network is cut three ways: the page's own Content-Security-Policy, a proxy that points nowhere, and a
host resolver that resolves nothing; every request the page makes is recorded anyway, so a test can
assert there was none besides the file itself.

``python tests/report/browser.py REPORT.html [--screenshot PNG] [--width 1280] [--height 1800]``
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["find_chromium", "BrowserCheck", "check_in_browser", "CHROMIUM_FLAGS", "BrowserError"]

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
    "--remote-debugging-pipe",
)

# DOM facts gathered after load (a JSON string from the page).
_PROBE = """JSON.stringify({
  title: document.title,
  scripts: document.querySelectorAll('script').length,
  imgs: document.querySelectorAll('img').length,
  iframes: document.querySelectorAll('iframe, object, embed').length,
  handlers: Array.from(document.querySelectorAll('*')).filter(e => Array.from(e.attributes).some(a => /^on/i.test(a.name))).length,
  external: Array.from(document.querySelectorAll('[src],[href]')).map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => !/^(#|data:)/.test(u)),
  sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
  svgs: document.querySelectorAll('figure svg').length,
  details: document.querySelectorAll('details').length,
  height: Math.ceil(document.documentElement.scrollHeight),
  alerted: window.__alerted || 0
})"""


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$CHROMIUM`` first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@dataclass
class BrowserCheck:
    url: str
    console_errors: list[str] = field(default_factory=list)
    console_messages: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page requested (the file itself first)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt opened by the page
    dom: dict[str, Any] = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.external_requests or self.dialogs)


class _Pipe:
    def __init__(self, binary: str, user_data_dir: str, extra: tuple[str, ...] = ()) -> None:
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def setup() -> None:  # child: fd 3 = commands in, fd 4 = replies out (via copies: they may be 3/4)
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, *extra, f"--user-data-dir={user_data_dir}",
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=setup, close_fds=True, pass_fds=(3, 4))
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        want = self._id
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == want:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._read(deadline))
            except TimeoutError:
                return

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            r, _, _ = select.select([self._from_r], [], [], left)
            if not r:
                continue
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.stderr else ""
                raise BrowserError(f"Chromium closed the pipe (exit {self.proc.poll()}): {err}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass


def check_in_browser(html_path: str | Path, *, screenshot: str | Path | None = None, width: int = 1280,
                     height: int | None = 1800, binary: str | None = None, timeout: float = 60) -> BrowserCheck:
    """Load ``html_path`` in headless Chromium; return console errors, requests, DOM facts and (optionally)
    a PNG screenshot of the top ``width`` x ``height`` pixels (``height=None``: the whole page)."""
    binary = binary or find_chromium()
    if binary is None:
        raise BrowserError("no Chromium found (install Debian's `chromium` package or set $CHROMIUM)")
    path = Path(html_path).resolve()
    url = path.as_uri()
    res = BrowserCheck(url)
    with tempfile.TemporaryDirectory(prefix="pa-chromium-") as ud:
        pipe = _Pipe(binary, ud)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            sid = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for dom in ("Page", "Runtime", "Log", "Network"):
                pipe.send(f"{dom}.enable", session=sid)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height or 1000, "deviceScaleFactor": 1, "mobile": False}, session=sid)
            pipe.send("Page.navigate", {"url": url}, session=sid)
            pipe.wait_event("Page.loadEventFired", timeout=timeout)
            pipe.drain(0.5)
            val = pipe.send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=sid)
            res.dom = json.loads(val["result"]["value"])
            if screenshot is not None:
                h = height or int(res.dom.get("height", 1000))
                pipe.send("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": h, "deviceScaleFactor": 1, "mobile": False}, session=sid)
                shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False,
                                                            "clip": {"x": 0, "y": 0, "width": width, "height": h,
                                                                     "scale": 1}}, session=sid)
                out = Path(screenshot)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(base64.b64decode(shot["data"]))
                res.screenshot = out
            pipe.drain(0.3)
        finally:
            pipe.close()
    for e in pipe.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            res.console_messages.append(f"{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                res.console_errors.append(text)
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            res.console_errors.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            res.console_messages.append(f"{entry.get('level')}: {entry.get('text')}")
            if entry.get("level") == "error":
                res.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif m == "Network.requestWillBeSent":
            res.requests.append(p.get("request", {}).get("url", ""))
        elif m == "Page.javascriptDialogOpening":
            res.dialogs.append(p.get("message", ""))
    return res


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Check an HTML report in headless Chromium (and take a screenshot).")
    ap.add_argument("html")
    ap.add_argument("--screenshot")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1800, help="screenshot height in px; 0 = the whole page")
    a = ap.parse_args(argv)
    res = check_in_browser(a.html, screenshot=a.screenshot, width=a.width, height=a.height or None)
    print(json.dumps({"ok": res.ok, "console_errors": res.console_errors, "external_requests": res.external_requests,
                      "dialogs": res.dialogs, "dom": {k: v for k, v in res.dom.items() if k != "sections"},
                      "sections": res.dom.get("sections"), "screenshot": str(res.screenshot or "")}, indent=1))
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
