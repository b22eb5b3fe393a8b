#!/usr/bin/env python3
"""Read the facts the deploy checks need out of the Dockerfile (standard library only).

Used by consistency.py and smoke.sh so that argv, environment, port, user and runtime packages
are taken from the Dockerfile itself and cannot drift from what the image does.

    python3 scripts/deploy/dockerfile.py [Dockerfile]            # JSON summary of all stages
    python3 scripts/deploy/dockerfile.py Dockerfile FIELD        # one runtime-stage field, shell-friendly

FIELD: entrypoint | cmd | env | expose | user | apt-packages | healthcheck-cmd | stopsignal | base
(lists print one item per line, env prints KEY=VALUE lines).
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path


def logical_lines(text: str) -> list[str]:
    """Join continuation lines, drop comments and blank lines (escape char is the default \\)."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.lstrip()
        if stripped.startswith("#"):
            # A comment line inside a continuation is dropped (BuildKit behaviour).
            continue
        if not stripped and not buf:
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append(buf.strip())
        buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def parse_exec_or_shell(rest: str) -> dict:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            return {"form": "exec", "argv": json.loads(rest)}
        except json.JSONDecodeError:
            pass
    return {"form": "shell", "argv": ["/bin/sh", "-c", rest], "shell": rest}


def parse_env(rest: str) -> dict[str, str]:
    tokens = shlex.split(rest, posix=True)
    env: dict[str, str] = {}
    if tokens and "=" not in tokens[0]:
        # Legacy form: ENV KEY value with spaces
        key, _, value = rest.strip().partition(" ")
        env[key] = value.strip()
        return env
    for tok in tokens:
        key, _, value = tok.partition("=")
        env[key] = value
    return env


APT_INSTALL = re.compile(r"apt-get\s+(?:-\S+\s+)*install\b(.*?)(?:&&|;|\|\||$)", re.S)


def apt_packages(run: str) -> list[str]:
    pkgs: list[str] = []
    for m in APT_INSTALL.finditer(run):
        for tok in m.group(1).split():
            if tok.startswith("-") or "=" in tok and tok.split("=")[0].startswith("-"):
                continue
            pkgs.append(tok.split("=")[0])
    return pkgs


def parse(path: str | Path) -> dict:
    stages: list[dict] = []
    args: dict[str, str] = {}
    for line in logical_lines(Path(path).read_text()):
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            parts = rest.split()
            image = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"base": image, "name": name, "env": {}, "run": [], "apt_packages": [],
                           "expose": [], "copy": [], "labels": {}, "user": None, "entrypoint": None,
                           "cmd": None, "healthcheck": None, "stopsignal": None, "workdir": None,
                           "args": {}})
            continue
        if instr == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip()
            continue
        if not stages:
            continue
        st = stages[-1]
        if instr == "ARG":
            key, _, value = rest.partition("=")
            st["args"][key.strip()] = value.strip().strip('"')
        elif instr == "ENV":
            st["env"].update(parse_env(rest))
        elif instr == "RUN":
            body = re.sub(r"^(--\S+\s+)+", "", rest)
            st["run"].append(body)
            st["apt_packages"] += apt_packages(body)
        elif instr == "EXPOSE":
            st["expose"] += [p.split("/")[0] for p in rest.split()]
        elif instr == "USER":
            st["user"] = rest.strip()
        elif instr == "ENTRYPOINT":
            st["entrypoint"] = parse_exec_or_shell(rest)
        elif instr == "CMD":
            st["cmd"] = parse_exec_or_shell(rest)
        elif instr == "STOPSIGNAL":
            st["stopsignal"] = rest.strip()
        elif instr == "WORKDIR":
            st["workdir"] = rest.strip()
        elif instr == "COPY":
            st["copy"].append(rest.strip())
        elif instr == "HEALTHCHECK":
            if rest.strip().upper() == "NONE":
                st["healthcheck"] = None
                continue
            options: dict[str, str] = {}
            m = re.match(r"((?:--\S+=\S+\s+)*)CMD\s+(.*)$", rest.strip(), re.S)
            if not m:
                raise ValueError(f"cannot parse HEALTHCHECK: {rest}")
            for opt in m.group(1).split():
                k, _, v = opt.lstrip("-").partition("=")
                options[k] = v
            st["healthcheck"] = {"options": options, **parse_exec_or_shell(m.group(2))}
    if not stages:
        raise ValueError(f"{path}: no FROM")
    return {"args": args, "stages": stages, "runtime": stages[-1]}


def runtime_argv(info: dict) -> list[str]:
    """The argv `docker run IMAGE` executes: ENTRYPOINT (exec form) + CMD."""
    rt = info["runtime"]
    ep = rt["entrypoint"]["argv"] if rt["entrypoint"] else []
    cmd = rt["cmd"]["argv"] if rt["cmd"] else []
    if rt["entrypoint"] and rt["entrypoint"]["form"] == "shell":
        return ep  # shell-form ENTRYPOINT ignores CMD
    return ep + cmd


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "Dockerfile"
    info = parse(path)
    if len(argv) <= 2:
        print(json.dumps(info, indent=2))
        return 0
    rt = info["runtime"]
    field = argv[2]
    if field == "entrypoint":
        print("\n".join(runtime_argv(info)))
    elif field == "env":
        print("\n".join(f"{k}={v}" for k, v in rt["env"].items()))
    elif field == "expose":
        print("\n".join(rt["expose"]))
    elif field == "user":
        print(rt["user"] or "")
    elif field == "apt-packages":
        print("\n".join(rt["apt_packages"]))
    elif field == "healthcheck-cmd":
        print("\n".join(rt["healthcheck"]["argv"]) if rt["healthcheck"] else "")
    elif field == "stopsignal":
        print(rt["stopsignal"] or "")
    elif field == "base":
        print(rt["base"])
    else:
        print(f"unknown field {field}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
