#!/usr/bin/env python3
"""Runs every fenced block of the READMEs as a reader would, and fails on any that does not.

Each block is preceded by a directive the page does not render, saying how it is checked:

  <!-- check: run [venv=NAME] [serve] -->   sh: every statement runs in a scratch directory
        that sees the repository (symlinks), with `omnizip` (the release build) on PATH; a
        statement's following `# ...` lines are its expected output (whitespace ignored, `...`
        matches anything). `serve`: a server started as `make serve` does listens on :8080.
        A statement `omnizip serve ...` runs in the background until the next one or the end.
  <!-- check: python venv=NAME [setup=NAME] [serve] --> Python run as written, after a setup
        (below) that defines what the text says comes from the model.
  <!-- check: transcript [serve] -->   `$ command` lines, then the output the block shows.
  <!-- check: synopsis -->   usage lines: each `omnizip SUB` exists and takes every `--flag`.
  <!-- check: make -->       each `make TARGET` exists (make -n), each `bash FILE` parses.
  <!-- check: json [post=/PATH] -->    valid JSON; with post, the server answers it with 200.
  <!-- check: skip REASON -->   not runnable here; the reason is printed with the results.
  <!-- check: serve-options -->   before a Markdown table (not a fenced block): its rows are
        exactly `omnizip serve --dump-options`'s options (`--flag VALUE`, variable, default).

A block without a directive fails: every snippet is either checked or says why it is not.
usage: check_readme_snippets.py REPO BIN README...
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

DIRECTIVE = re.compile(r"^\s*<!--\s*check:\s*(\w[\w-]*)(.*?)-->\s*$")
FENCE = re.compile(r"^\s*```(\S*)\s*$")  # also inside list items
PORT = 8080
VENVS = {"client": ".venv-client", "vllm": ".venv-vllm", "interop": ".venv-interop"}

# What the prose says comes from the caller's model, made from a golden case the repository ships.
SETUPS = {
    "golden-torch": """
import torch
from safetensors.torch import load_file
_case = load_file("Tests/OmniZipTestSupport/Fixtures/golden/public-027-s2-p20-d16.request.safetensors")
inputs_embeds = _case["inputs_embeds"][None]           # [1, L, D]
input_ids = _case["input_ids"][None]                   # [1, L]
audio_scores = _case["audio_scores"]                   # [Na]
attn_logits = audio_scores
video_grid_thw = _case["video_grid_thw"].reshape(1, 3)
attention_mask = torch.ones_like(input_ids)
position_ids = torch.arange(input_ids.shape[1]).expand(3, 1, -1)
""",
}


class Block:
    def __init__(self, path, line, lang, text, mode, args):
        self.path, self.line, self.lang, self.text, self.mode, self.args = path, line, lang, text, mode, args

    @property
    def where(self):
        return f"{self.path}:{self.line}"

    def option(self, name):
        for word in self.args:
            if word == name:
                return True
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
        return None


def blocks_of(repo, rel):
    lines = open(os.path.join(repo, rel), encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].lstrip().startswith("```"):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        d = DIRECTIVE.match(lines[k]) if k >= 0 else None
        mode, args = (d.group(1), d.group(2)) if d else (None, "")
        args = [args.strip()] if mode == "skip" else shlex.split(args)
        indent = len(lines[start]) - len(lines[start].lstrip())
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[start + 1:j]]
        out.append(Block(rel, start + 1, lang, "\n".join(body), mode, args))
        i = j + 1
    return out


def option_tables(repo, rel):
    """(line, rows) of each Markdown table after a `serve-options` directive, header skipped."""
    lines = open(os.path.join(repo, rel), encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        d = DIRECTIVE.match(line)
        if d and d.group(1) == "serve-options":
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            yield i + 2, [[c.strip().strip("`") for c in row.strip().strip("|").split("|")] for row in lines[i + 3:j]]


def statements(text):
    """(command, expected output lines) pairs: continuation lines joined, `# ` lines after a
    command are its output."""
    out, cmd = [], None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("#"):
            if not out:
                raise ValueError(f"output line before any command: {line!r}")
            out[-1][1].append(re.sub(r"^\s*# ?", "", line))
            i += 1
            continue
        cmd = line
        while cmd.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd.rstrip()[:-1] + " " + lines[i].strip()
        out.append((cmd, []))
        i += 1
    return out


def matches(expected, actual):
    """Whitespace-free comparison where `...` stands for anything."""
    squash = lambda s: re.sub(r"\s+", "", s)
    pattern = ".*".join(re.escape(part) for part in squash(expected).split("..."))
    return re.fullmatch(pattern, squash(actual), re.S) is not None


class Server:
    """`omnizip serve` in the background, ready when it answers /livez (or its socket does)."""

    def __init__(self, argv, cwd, env, socket_path=None, port=None):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.proc.stderr.read().decode()[-400:]}")
            if self._ready(socket_path, port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server not ready within 20 s")

    @staticmethod
    def _ready(socket_path, port):
        family, address = (socket.AF_UNIX, socket_path) if socket_path else (socket.AF_INET, ("127.0.0.1", port))
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(address)
                s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Checker:
    def __init__(self, repo, binary):
        self.repo, self.binary = repo, binary
        self.scratch = tempfile.mkdtemp(prefix="omnizip-readme-")
        for name in os.listdir(repo):  # the repository as seen from its root; new files land here
            if name not in (".git",):
                os.symlink(os.path.join(repo, name), os.path.join(self.scratch, name))
        bindir = tempfile.mkdtemp(prefix="omnizip-bin-")
        os.symlink(binary, os.path.join(bindir, "omnizip"))
        self.env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], PYTHONDONTWRITEBYTECODE="1")
        self.env.pop("OMNIZIP_URL", None)
        self.server = None

    def env_for(self, block):
        venv = block.option("venv")
        if not venv:
            return self.env
        path = os.path.join(self.repo, VENVS[venv], "bin")
        if not os.path.isdir(path):
            raise RuntimeError(f"venv {VENVS[venv]} is missing (its make step creates it)")
        return dict(self.env, PATH=path + ":" + self.env["PATH"], VIRTUAL_ENV=os.path.dirname(path))

    def shared_server(self, wanted):
        if wanted and self.server is None:
            self.server = Server([self.binary, "serve", "--port", str(PORT), "--host", "127.0.0.1"], self.scratch,
                                 self.env, port=PORT)
        if not wanted and self.server is not None:
            self.server.stop()
            self.server = None

    def run(self, cmd, env, timeout=300):
        p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=self.scratch, env=env, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"`{cmd}` exited {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}")
        return p.stdout

    def check(self, block):
        mode = block.mode
        if mode is None:
            raise RuntimeError("no <!-- check: ... --> directive before this block")
        if mode == "skip":
            return "skipped: " + " ".join(block.args)
        self.shared_server(bool(block.option("serve")))
        return getattr(self, "check_" + mode.replace("-", "_"))(block)

    def check_run(self, block):
        env, own, ran = self.env_for(block), None, 0
        try:
            for cmd, expected in statements(block.text):
                words = shlex.split(cmd, comments=True)
                if words[:2] == ["omnizip", "serve"]:
                    if own:
                        own.stop()
                    sock = words[words.index("--unix-socket") + 1] if "--unix-socket" in words else None
                    port = int(words[words.index("--port") + 1]) if "--port" in words else PORT
                    argv = [self.binary] + words[1:]
                    own = Server(argv, self.scratch, env, socket_path=sock if "--port" not in words else None, port=port)
                else:
                    output = self.run(cmd, env)
                    if expected and not matches("\n".join(expected), output):
                        raise RuntimeError(f"`{cmd}` printed\n{output.strip()[:800]}\nnot what the README shows:\n"
                                           + "\n".join(expected))
                ran += 1
        finally:
            if own:
                own.stop()
        return f"{ran} command(s) ran"

    def check_python(self, block):
        setup = SETUPS[block.option("setup")] if block.option("setup") else ""
        path = os.path.join(self.scratch, f"snippet-{os.path.basename(block.path)}-{block.line}.py")
        with open(path, "w") as f:
            f.write(setup + "\n" + block.text + "\n")
        self.run(f"python {shlex.quote(path)}", self.env_for(block))
        return "ran" + (f" after setup {block.option('setup')}" if setup else "")

    def check_transcript(self, block):
        parts = re.split(r"^\$ (.*)$", block.text, flags=re.M)
        for cmd, expected in zip(parts[1::2], parts[2::2]):
            output = self.run(cmd, self.env)
            want = [line for line in expected.split("\n") if line.strip()]
            # A `...` line stands for any lines; compare line by line, spaces collapsed.
            pattern = "\n".join(".*" if l.strip() == "..." else re.escape(" ".join(l.split())).replace(r"\.\.\.", ".*")
                                for l in want)
            got = "\n".join(" ".join(l.split()) for l in output.split("\n") if l.strip())
            if not re.fullmatch(pattern, got, re.S):
                raise RuntimeError(f"`{cmd}` printed\n{output}\nnot what the README shows")
        return f"{len(parts) // 2} transcript(s) match"

    def check_synopsis(self, block):
        checked = 0
        for cmd, _ in statements(block.text):
            words = cmd.split()
            if words[0] == "swift" or words[0] == "make":
                continue
            if words[0] != "omnizip":
                raise RuntimeError(f"synopsis line for an unknown command: {cmd}")
            sub = words[1]
            help_text = self.run(f"omnizip {sub} --help", self.env)
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", cmd.split("#")[0]):
                if flag not in help_text:
                    raise RuntimeError(f"`omnizip {sub}` has no {flag} (its --help does not name it)")
                checked += 1
        return f"{checked} flag(s) exist"

    def check_make(self, block):
        n = 0
        for cmd, _ in statements(block.text):
            words = shlex.split(cmd, comments=True)
            if words[0] == "make":
                self.run("make -n " + " ".join(shlex.quote(w) for w in words[1:]) + " >/dev/null", self.env)
            elif words[0] == "bash":
                self.run(f"bash -n {shlex.quote(words[1])}", self.env)
            else:
                raise RuntimeError(f"not a make or bash statement: {cmd}")
            n += 1
        return f"{n} target(s)/script(s) exist"

    def check_json(self, block):
        doc = json.loads(block.text)
        path = block.option("post")
        if path:
            req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=json.dumps(doc).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status != 200:
                    raise RuntimeError(f"POST {path}: {r.status}")
            return f"valid; POST {path} answered 200"
        return "valid JSON"

    def check_serve_options(self, rows):
        """The README's table of serve options against the server's own table (names, variables,
        defaults); the help column is the README's own wording."""
        dump = json.loads(self.run("omnizip serve --dump-options", self.env))["options"]
        want = {f"{o['flag']} {o['value_name']}": (o["variable"], o["default"]) for o in dump}
        got = {row[0]: tuple(row[1:3]) for row in rows}
        problems = [f"no row for {k} ({v[0]}, default {v[1]})" for k, v in want.items() if k not in got]
        problems += [f"row {k} is not an option of `omnizip serve`" for k in got if k not in want]
        problems += [f"{k}: the README says {got[k]}, the server {want[k]}" for k in want if k in got and got[k] != want[k]]
        if problems:
            raise RuntimeError("\n".join(problems))
        return f"{len(got)} option(s) match `omnizip serve --dump-options`"

    def close(self):
        self.shared_server(False)
        shutil.rmtree(self.scratch, ignore_errors=True)


def main():
    repo, binary, readmes = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3:]
    checker, failed, rows = Checker(repo, binary), 0, []
    try:
        for rel in readmes:
            for block in blocks_of(repo, rel):
                start = time.monotonic()
                try:
                    verdict, detail = "ok", checker.check(block)
                except Exception as e:  # every failure is reported, the rest still run
                    verdict, detail, failed = "FAILED", str(e), failed + 1
                rows.append((block.where, block.mode or "-", verdict, time.monotonic() - start, detail))
            for line, table in option_tables(repo, rel):
                start = time.monotonic()
                try:
                    verdict, detail = "ok", checker.check_serve_options(table)
                except Exception as e:
                    verdict, detail, failed = "FAILED", str(e), failed + 1
                rows.append((f"{rel}:{line}", "serve-options", verdict, time.monotonic() - start, detail))
    finally:
        checker.close()
    for where, mode, verdict, seconds, detail in rows:
        first, *rest = detail.split("\n")
        print(f"{verdict:6} {where:32} {mode:10} {seconds:5.1f}s  {first}")
        for line in rest:
            print(" " * 8 + line)
    skipped = sum(1 for r in rows if r[4].startswith("skipped"))
    print(f"README snippets: {len(rows) - failed - skipped} checked, {skipped} skipped with a reason, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
