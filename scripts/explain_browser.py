#!/usr/bin/env python3
"""Loads an explain page in headless Chromium and checks it as a person would see it.

Talks to the browser over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages separated by NUL on fds 3 and 4), so it needs nothing beyond the standard library.
Reports, as one JSON line: the render time (navigation start to the second animation frame
after the load event), the kept cells the rendered DOM holds, console errors, uncaught
exceptions and any request that is not the page itself. Exits 1 when a check fails.

With --request (the .safetensors the page explains) it also reads the values back from the
rendered DOM (data-* attributes of the audio bars and heat-map cells) and checks them against
the request and the selection rules: the bars' scores are the request's audio_scores; the
tokens kept by score are the global top dom (ties to the lower index), all at or above the
page's cut-off and every other token at or below it (equal only after them); in every heat
map the outlined kept cells are exactly the frame's top k by the shown value (k = its kept
count, ties to the lower index); each anchor merged the top g of the pooled tokens assigned to
it by cross-modal score x, with softmax(x) weights that sum to 1; every frame drawn in full is
a heat map with a <title> per cell, and every audio bar has its token's <title>.

usage: explain_browser.py PAGE.html [--kept-video N] [--kept-audio N] [--max-ms MS]
                          [--max-bytes B] [--screenshot OUT.png] [--screenshot-height PX]
                          [--request REQUEST.safetensors]
"""
import argparse
import base64
import json
import math
import os
import select
import struct
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

# The values behind the choices, as the rendered DOM holds them (strings, compared exactly).
VALUES = """JSON.stringify({
  audio: (() => { const s = document.querySelector('svg.audio'); return s ? Object.assign({}, s.dataset) : null; })(),
  bars: Array.from(document.querySelectorAll('svg.audio g.bars rect')).map(r => ({
    i: r.dataset.i, s: r.dataset.s, role: r.getAttribute('class'), a: r.dataset.a, x: r.dataset.x, w: r.dataset.w,
    title: r.querySelector('title') ? r.querySelector('title').textContent : null })),
  frames: Array.from(document.querySelectorAll('svg.hmf')).map(f => ({
    data: Object.assign({}, f.dataset),
    cols: f.viewBox.baseVal.width,
    cells: Array.from(f.querySelectorAll('g.hm rect')).map(r => ({
      x: +r.getAttribute('x'), y: +r.getAttribute('y'), v: r.dataset.v, titled: !!r.querySelector('title') })),
    kept: Array.from(f.querySelectorAll('g.kv rect')).map(r => [+r.getAttribute('x'), +r.getAttribute('y')]) })),
  fullFrames: Array.from(document.querySelectorAll('.chunk figcaption')).filter(c => c.textContent.startsWith('frame ')).length,
})"""

RENDERED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def f32(x):
    """x rounded to float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def audio_scores(path):
    """The request's audio_scores, as Python floats (exactly the tensor's values)."""
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensor = header["audio_scores"]
    start, end = (8 + size + o for o in tensor["data_offsets"])
    raw = data[start:end]
    dtype = tensor["dtype"]
    if dtype == "F32":
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if dtype == "F64":
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
    if dtype == "F16":
        return list(struct.unpack(f"<{len(raw) // 2}e", raw))
    if dtype == "BF16":
        return [struct.unpack("<f", b"\0\0" + raw[k:k + 2])[0] for k in range(0, len(raw), 2)]
    raise ValueError(f"audio_scores dtype {dtype}")


def top(count, k, key):
    """Indices of the k best by key (smaller key first), ties to the lower index."""
    return set(sorted(range(count), key=lambda i: (key(i), i))[:k])


def check_values(values, scores):
    """The page's values against the request and the selection rules: a list of failures."""
    out = []
    bars = values["bars"]
    n = len(scores)
    if len(bars) != n:
        return [f"{len(bars)} audio bars, the request has {n} audio scores"]
    if [int(b["i"]) for b in bars] != list(range(n)):
        out.append("the audio bars are not tokens 0..N-1 in order")
    s = [float(b["s"]) for b in bars]
    wrong = [i for i in range(n) if f32(s[i]) != scores[i]]
    if wrong:
        i = wrong[0]
        out.append(f"{len(wrong)} bar scores differ from audio_scores, first token {i}: page {bars[i]['s']}, request {scores[i]!r}")
    untitled = [i for i in range(n) if not bars[i]["title"] or f"audio token {i} " not in bars[i]["title"]]
    if untitled:
        out.append(f"{len(untitled)} audio bars without their token's <title>, first {untitled[0]}")
    audio = values["audio"] or {}
    dominant = [i for i in range(n) if bars[i]["role"] == "bd"]
    dom = int(audio.get("dominant", 0))
    if len(dominant) != dom:
        out.append(f"{len(dominant)} bars kept by score, the page says dom = {dom}")
    if set(dominant) != top(n, dom, lambda i: -s[i]):
        out.append("the tokens kept by score are not the global top dom by score (ties to the lower index)")
    if dominant:
        cutoff = float(audio["cutoff"])
        last_at_cutoff = max((i for i in dominant if s[i] == cutoff), default=-1)
        low = [i for i in dominant if s[i] < cutoff]
        if low:
            out.append(f"token {low[0]} kept by score with {s[low[0]]} < cut-off {cutoff}")
        above = [i for i in range(n) if bars[i]["role"] != "bd" and (s[i] > cutoff or (s[i] == cutoff and i < last_at_cutoff))]
        if above:
            out.append(f"token {above[0]} ({bars[above[0]]['role']}) not kept by score, with {s[above[0]]} above cut-off {cutoff}")
    # Merges: per anchor, its pooled tokens' top g by x, weighted by softmax(x).
    g = int(audio.get("g", 0))
    pooled = {}
    for i, b in enumerate(bars):
        if b.get("a") is not None:
            pooled.setdefault(int(b["a"]), []).append(i)
    for anchor, members in sorted(pooled.items()):
        if bars[anchor]["role"] != "ba":
            out.append(f"tokens {members} assigned to {anchor}, which is not an anchor")
        x = {i: float(bars[i]["x"]) for i in members}
        merged = [i for i in members if bars[i]["role"] == "bm"]
        want = top(len(members), min(g, len(members)), lambda k: -x[members[k]])
        if set(merged) != {members[k] for k in want}:
            out.append(f"anchor {anchor} merged {merged}, not the top {g} of {members} by cross-modal score")
        if any(bars[i].get("w") is None for i in merged):
            out.append(f"anchor {anchor}: a merged token without its weight")
            continue
        if merged:
            peak = max(f32(x[i]) for i in merged)
            exps = {i: math.exp(f32(x[i]) - peak) for i in merged}
            total = sum(exps.values())
            weights = {i: float(bars[i]["w"]) for i in merged}
            bad = [i for i in merged if abs(weights[i] - exps[i] / total) > 1e-5]
            if bad:
                out.append(f"anchor {anchor}: weight of {bad[0]} is {weights[bad[0]]}, softmax(x) gives {exps[bad[0]] / total}")
            if abs(sum(weights.values()) - 1) > 1e-5:
                out.append(f"anchor {anchor}: weights sum to {sum(weights.values())}, not 1")
    merged_count = sum(1 for b in bars if b["role"] == "bm")
    if merged_count and not pooled:
        out.append("merged tokens but no cross-modal scores on the page")
    # Heat maps: the outlined cells are the frame's top k by the value shown.
    frames = values["frames"]
    if len(frames) != values["fullFrames"]:
        out.append(f"{len(frames)} heat maps, but {values['fullFrames']} frames drawn in full")
    for f in frames:
        d, cols, cells = f["data"], int(f["cols"]), f["cells"]
        name = f"chunk {d.get('chunk')} frame {d.get('frame')}"
        if [c["y"] * cols + c["x"] for c in cells] != list(range(len(cells))):
            out.append(f"{name}: heat cells out of order")
            continue
        if not all(c["titled"] for c in cells):
            out.append(f"{name}: a heat cell without its <title>")
        v = [float(c["v"]) for c in cells]
        kept = {y * cols + x for x, y in f["kept"]}
        k = int(d["kept"])
        if len(kept) != k:
            out.append(f"{name}: {len(kept)} kept cells, the plan keeps {k}")
        sign = -1 if d["rank"] == "high" else 1
        if kept != top(len(v), k, lambda r: sign * v[r]):
            out.append(f"{name}: the kept cells are not the top {k} by the shown value ({d['rank']} first, ties to the lower index)")
    return out


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
    parser.add_argument("--request", help="the request the page explains: check the page's values against it")
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
        values = None
        if args.request:
            values = json.loads(browser.send("Runtime.evaluate", {"expression": VALUES, "returnByValue": True},
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
    if values is not None:
        report["audio_bars"] = len(values["bars"])
        report["heat_frames"] = len(values["frames"])
        report["merged_tokens"] = sum(1 for b in values["bars"] if b["role"] == "bm")
    print(json.dumps(report))
    if values is not None:
        failures.extend(check_values(values, audio_scores(args.request)))

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
