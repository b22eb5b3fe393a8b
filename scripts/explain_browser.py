#!/usr/bin/env python3
"""Loads an explain page in headless Chromium and checks it as a person would see it.

Talks to the browser over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages separated by NUL on fds 3 and 4), so it needs nothing beyond the standard library.
Reports, as one JSON line: the render time (navigation start to the second animation frame
after the load event), the kept cells the rendered DOM holds, console errors, uncaught
exceptions and any request that is not the page itself. Exits 1 when a check fails.

usage: explain_browser.py PAGE.html [--kept-video N] [--kept-audio N] [--max-ms MS]
                          [--max-bytes B] [--screenshot OUT.png] [--screenshot-height PX]
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, binary, timeout=30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="omnizip-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the protocol's fds 3 (commands in) and 4 (replies out)
            # Move both ends out of the way first: a pipe end may already be fd 3 or 4, and
            # dup2 onto itself would leave it close-on-exec.
            reader, writer = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(reader, 3)
            os.dup2(writer, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
             "--hide-scrollbars", "--mute-audio", "--disable-extensions", "--disable-background-networking",
             "about:blank"],
            preexec_fn=wire_fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe (did it start?)")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, session):
        deadline = time.monotonic() + self.timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


PROBE = """JSON.stringify({
  keptVideo: document.querySelectorAll('g.kv rect').length,
  keptAudio: document.querySelectorAll('g.ka rect').length,
  svgs: document.querySelectorAll('svg').length,
  summary: Object.assign({}, document.getElementById('summary') ? document.getElementById('summary').dataset : {}),
  frameBox: (() => { const s = document.querySelector('#frames svg'); if (!s) return null;
                     const r = s.getBoundingClientRect(); return [r.width, r.height]; })(),
  height: document.documentElement.scrollHeight,
})"""

RENDERED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--kept-video", type=int)
    parser.add_argument("--kept-audio", type=int)
    parser.add_argument("--max-ms", type=float)
    parser.add_argument("--max-bytes", type=int)
    parser.add_argument("--screenshot")
    parser.add_argument("--screenshot-height", type=int, default=0, help="crop to this many CSS pixels (0: whole page)")
    parser.add_argument("--screenshot-top", type=int, default=0, help="start the crop this many CSS pixels down")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()

    page = os.path.abspath(args.page)
    weight = os.path.getsize(page)
    browser = Browser(args.chromium)
    failures = []
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": args.width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.events.clear()
        url = "file://" + page
        started = time.monotonic()
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_for("Page.loadEventFired", session)
        rendered = browser.send("Runtime.evaluate", {"expression": RENDERED, "awaitPromise": True, "returnByValue": True},
                                session=session)["result"]["value"]
        wall_ms = (time.monotonic() - started) * 1000
        probe = json.loads(browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                        session=session)["result"]["value"])

        console, requests = [], []
        for event in browser.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                console.append(details.get("text", "Uncaught") + " " + details.get("exception", {}).get("description", ""))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                console.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                requested = params.get("request", {}).get("url", "")
                if requested != url and not requested.startswith("data:"):
                    requests.append(requested)

        if args.screenshot:
            size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            top = min(args.screenshot_top, max(0, size["height"] - 1))
            height = size["height"] - top
            if args.screenshot_height:
                height = min(height, args.screenshot_height)
            shot = browser.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": top, "width": args.width, "height": height, "scale": 1}}, session=session)
            with open(args.screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
    finally:
        browser.close()

    report = {"page": args.page, "bytes": weight, "render_ms": round(rendered, 1), "wall_ms": round(wall_ms, 1),
              "kept_video_cells": probe["keptVideo"], "kept_audio_cells": probe["keptAudio"], "svgs": probe["svgs"],
              "frame_box": probe["frameBox"], "page_height": probe["height"], "console": console, "requests": requests}
    print(json.dumps(report))

    if console:
        failures.append(f"console errors: {console}")
    if requests:
        failures.append(f"the page requested {requests}")
    if probe["svgs"] < 2:
        failures.append("no SVG drawn")
    if args.kept_video is not None and probe["keptVideo"] != args.kept_video:
        failures.append(f"{probe['keptVideo']} kept video cells in the DOM, the response kept {args.kept_video}")
    if args.kept_video is not None and probe["summary"].get("keptVideo") != str(args.kept_video):
        failures.append(f"the page says kept_video {probe['summary'].get('keptVideo')}, the response {args.kept_video}")
    if args.kept_audio is not None and probe["keptAudio"] != args.kept_audio:
        failures.append(f"{probe['keptAudio']} kept audio cells in the DOM, the response kept {args.kept_audio}")
    if args.kept_video and not (probe["frameBox"] and probe["frameBox"][0] > 0 and probe["frameBox"][1] > 0):
        failures.append(f"the first frame has no size: {probe['frameBox']}")
    if args.max_ms is not None and rendered > args.max_ms:
        failures.append(f"rendered in {rendered:.0f} ms, over {args.max_ms:.0f}")
    if args.max_bytes is not None and weight > args.max_bytes:
        failures.append(f"the page weighs {weight} bytes, over {args.max_bytes}")
    for failure in failures:
        print(f"explain-browser: FAIL: {args.page}: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
