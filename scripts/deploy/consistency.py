#!/usr/bin/env python3
"""Deployment consistency check.

Every port, path, subcommand, flag and OMNIZIP_* variable that the Dockerfile, the rendered
kustomize overlays and the ServiceMonitor name must exist in the server, and the numbers that
depend on each other (workers vs CPU limit, memory vs in-flight x body size, grace period vs
drain, ports across Service / container / ConfigMap / image) must agree.

Source of truth for the server: `omnizip serve --dump-options` of a built binary newer than every
file under Sources/ (the option table the server itself parses with: flags, OMNIZIP_* variables,
defaults, accepted values), and openapi.yaml `paths` for the routes.

    consistency.py --root . --rendered service=out/service.yaml --rendered sidecar=out/sidecar.yaml \
        --monitoring deploy/monitoring/servicemonitor.yaml --binary .build/release/omnizip

Exit 0 when every check passes, 1 otherwise. Needs PyYAML (installed in the deploy venv).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dockerfile  # noqa: E402

# Memory per in-flight request is at most this many times the largest body (body buffer,
# decoded tensors, scratch), plus a fixed base for the process (binary, OpenBLAS buffers,
# allocator slack). deploy/README.md explains the numbers.
MEM_FACTOR = 2
MEM_BASE = 512 * 1024 * 1024
LONGEST_COMPRESSION_S = 5


def quantity_bytes(q: str | int) -> int:
    q = str(q)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix, mult in units.items():
        if q.endswith(suffix):
            return int(float(q[: -len(suffix)]) * mult)
    return int(float(q))


def quantity_cpu(q: str | int) -> float:
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


@dataclass
class Surface:
    """What the server offers: its option table (by flag) and the documented routes."""
    origin: list[str] = field(default_factory=list)
    options: dict[str, dict] = field(default_factory=dict)
    openapi_paths: set[str] | None = None

    @property
    def flags(self) -> set[str]:
        return set(self.options)

    @property
    def envs(self) -> set[str]:
        return {o["variable"] for o in self.options.values()}

    def default(self, flag: str) -> str:
        return self.options[flag]["default"]


def newest_mtime(root: Path) -> float:
    return max((p.stat().st_mtime for p in root.rglob("*.swift")), default=0.0)


def surface_from_dump(binary: Path, surface: Surface) -> bool:
    try:
        p = subprocess.run([str(binary), "serve", "--dump-options"], capture_output=True, text=True, timeout=20)
        options = json.loads(p.stdout)["options"] if p.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
        print(f"note: cannot read the option table from {binary}: {e}")
        return False
    if not options:
        print(f"note: `{binary} serve --dump-options` failed: {p.stderr.strip()[-300:]}")
        return False
    surface.options = {o["flag"]: o for o in options}
    surface.origin.append(f"`{binary} serve --dump-options`")
    return True


def surface_from_openapi(root: Path, surface: Surface) -> None:
    for name in ("openapi.yaml", "openapi.yml", "openapi.json"):
        p = root / name
        if p.is_file():
            doc = yaml.safe_load(p.read_text())
            surface.openapi_paths = set((doc or {}).get("paths", {}) or {})
            surface.origin.append(name)
            return


class Report:
    def __init__(self) -> None:
        self.failures = 0
        self.passes = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passes += 1
            print(f"  ok    {what}")
        else:
            self.failures += 1
            print(f"  FAIL  {what}" + (f": {detail}" if detail else ""))
        return ok

    def note(self, text: str) -> None:
        print(f"  note  {text}")


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def pod_specs(docs: list[dict]):
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield d, d["spec"]["template"]["spec"], d["spec"]["template"].get("metadata", {}).get("labels", {})
        elif d.get("kind") == "Pod":
            yield d, d["spec"], d.get("metadata", {}).get("labels", {})


def image_base(image: str) -> str:
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":")[0]


def container_env(c: dict, docs: list[dict], rep: Report, where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    cms = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
    for src in c.get("envFrom", []) or []:
        if "configMapRef" in src:
            name = src["configMapRef"]["name"]
            ok = rep.check(name in cms, f"{where}: envFrom ConfigMap {name} is in the rendered output")
            if ok:
                env.update({str(k): str(v) for k, v in (cms[name].get("data") or {}).items()})
        if "secretRef" in src:
            rep.check(False, f"{where}: no Secrets in the deployment", f"envFrom secretRef {src['secretRef']}")
    for e in c.get("env", []) or []:
        env[e["name"]] = str(e.get("value", ""))
    return env


def check_route(rep: Report, s: Surface, path: str, where: str) -> None:
    if s.openapi_paths is not None:
        rep.check(path in s.openapi_paths, f"{where}: path {path} is a server route (openapi.yaml)",
                  f"openapi paths: {sorted(s.openapi_paths)}")


def check_env_names(rep: Report, s: Surface, names, where: str) -> None:
    for n in sorted(names):
        if n.startswith("OMNIZIP_") and s.options:
            rep.check(n in s.envs, f"{where}: {n} is read by the server", f"server reads: {sorted(s.envs)}")


def check_flags(rep: Report, s: Surface, args: list[str], where: str) -> None:
    for a in args:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            if s.options:
                rep.check(flag in s.flags, f"{where}: flag {flag} exists in `omnizip serve`", f"serve flags: {sorted(s.flags)}")


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of `--flag=V` or `--flag V` in a container's args (the last one wins)."""
    value = None
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            value = a[len(flag) + 1:]
        elif a == flag and i + 1 < len(args):
            value = args[i + 1]
    return value


def volume_file(c: dict, path: str) -> tuple[str, str] | None:
    """(volume name, path inside the volume) of `path` in container `c`: its deepest mount."""
    best = None
    for m in c.get("volumeMounts", []) or []:
        root = m["mountPath"].rstrip("/") + "/"
        if path.startswith(root) and (best is None or len(root) > len(best[1])):
            best = (m["name"], root)
    return (best[0], path[len(best[1]):]) if best else None


def check_socket_url(rep: Report, url: str, client: dict, sidecars: list[tuple[dict, str | None]], pod: dict, where: str) -> None:
    """A unix:///PATH OMNIZIP_URL names the file omnizip's --unix-socket creates: both paths
    resolve to the same file of one shared emptyDir (not the containers' own filesystems)."""
    u = urlparse(url)
    rep.check(not u.netloc and u.path.startswith("/"), f"{where}: OMNIZIP_URL {url} is unix:///absolute/path")
    paths = [p for _, p in sidecars if p]
    if not rep.check(bool(paths), f"{where}: an omnizip container listens on a Unix socket (--unix-socket / OMNIZIP_UNIX_SOCKET)"):
        return
    mine = volume_file(client, u.path)
    rep.check(mine is not None, f"{where}: OMNIZIP_URL socket {u.path} lies in a mounted volume", str(client.get("volumeMounts")))
    theirs = [volume_file(c, p) for c, p in sidecars if p]
    rep.check(mine in theirs, f"{where}: OMNIZIP_URL socket {u.path} is the file omnizip's --unix-socket {paths} creates",
              f"{mine} vs {theirs}")
    volumes = {v["name"]: v for v in pod.get("volumes", []) or []}
    if mine:
        rep.check("emptyDir" in volumes.get(mine[0], {}), f"{where}: socket volume {mine[0]} is a pod emptyDir")


def socket_path(c: dict, env: dict[str, str]) -> str | None:
    """Where an omnizip container listens on a Unix socket: the flag wins over the environment."""
    return flag_value(c.get("args", []) or [], "--unix-socket") or env.get("OMNIZIP_UNIX_SOCKET")


def check_omnizip_container(rep, s, docs, deploy, pod, labels, c, where, df_info):
    env = container_env(c, docs, rep, where)
    check_env_names(rep, s, [k for k in env if k.startswith("OMNIZIP_")], where)
    if "command" in c:
        rep.check(c["command"][:2] == dockerfile.runtime_argv(df_info)[:2],
                  f"{where}: command keeps the image's `omnizip serve`", str(c["command"]))
    check_flags(rep, s, c.get("args", []) or [], where)

    port = int(env.get("OMNIZIP_PORT", s.default("--port")))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", []) or []}
    rep.check(port in ports.values(), f"{where}: containerPort {port} = the port omnizip listens on (OMNIZIP_PORT/default)",
              f"containerPorts {ports}")
    host = env.get("OMNIZIP_HOST", "0.0.0.0")
    rep.check(host in ("0.0.0.0", "::", "[::]"), f"{where}: OMNIZIP_HOST={host} reachable by kubelet probes (pod IP)")
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = c.get(probe_name)
        if not rep.check(bool(probe and probe.get("httpGet")), f"{where}: {probe_name} is an HTTP probe"):
            continue
        hg = probe["httpGet"]
        pport = ports.get(hg["port"]) if isinstance(hg["port"], str) else hg["port"]
        rep.check(pport == port, f"{where}: {probe_name} port {hg['port']} -> {pport} = {port}")
        check_route(rep, s, hg["path"], f"{where} {probe_name}")
        want = {"readinessProbe": ("/readyz",)}.get(probe_name, ("/livez", "/healthz"))
        rep.check(hg["path"] in want, f"{where}: {probe_name} uses {'/'.join(want)}", hg["path"])

    fmt = env.get("OMNIZIP_LOG_FORMAT")
    if fmt is not None:
        allowed = set(s.options["--log-format"]["choices"])
        rep.check(fmt in allowed, f"{where}: OMNIZIP_LOG_FORMAT={fmt} in {sorted(allowed)}")

    limits = (c.get("resources") or {}).get("limits") or {}
    requests = (c.get("resources") or {}).get("requests") or {}
    if rep.check("cpu" in limits and "memory" in limits, f"{where}: CPU and memory limits set"):
        cpu = quantity_cpu(limits["cpu"])
        workers = int(env.get("OMNIZIP_WORKERS", "0") or 0)
        rep.check(workers == cpu, f"{where}: OMNIZIP_WORKERS ({workers}) = CPU limit ({limits['cpu']})")
        body = int(env.get("OMNIZIP_MAX_BODY_BYTES", s.default("--max-body-bytes")))
        mem = quantity_bytes(limits["memory"])
        # Bodies held are bounded by --max-buffered-bytes (default: half the cgroup limit); each
        # running job adds its response and working rows (about MEM_FACTOR x its body).
        buffered = int(env.get("OMNIZIP_MAX_BUFFERED_BYTES", mem // 2))
        need = buffered + workers * MEM_FACTOR * body + MEM_BASE
        rep.check(mem >= need, f"{where}: memory limit {limits['memory']} >= buffered {buffered >> 20} MiB + workers {workers} x "
                  f"{MEM_FACTOR} x body {body >> 20} MiB + {MEM_BASE >> 20} MiB = {need >> 20} MiB")
        rep.check(str(requests.get("cpu")) == str(limits["cpu"]) and str(requests.get("memory")) == str(limits["memory"]),
                  f"{where}: requests = limits (Guaranteed QoS, exclusive cores)")

    grace = pod.get("terminationGracePeriodSeconds", 30)
    timeout = float(env.get("OMNIZIP_REQUEST_TIMEOUT", s.default("--request-timeout")))
    pre = 0
    cmd = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0].endswith("sleep"):
        pre = int(cmd[1])
    rep.check(grace > pre + timeout + LONGEST_COMPRESSION_S,
              f"{where}: terminationGracePeriodSeconds {grace} > preStop {pre} + request timeout {timeout:g} + compression {LONGEST_COMPRESSION_S}")

    sc = c.get("securityContext") or {}
    user = (df_info["runtime"]["user"] or "").split(":")[0]
    rep.check(sc.get("runAsNonRoot") is True and str(sc.get("runAsUser")) == user,
              f"{where}: runAsNonRoot, runAsUser = image USER {user}")
    rep.check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
              and (sc.get("capabilities") or {}).get("drop") == ["ALL"]
              and (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
              f"{where}: read-only root, no privilege escalation, drop ALL, seccomp RuntimeDefault")
    rep.check(any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", []) or []), f"{where}: writable /tmp mounted")
    socket = socket_path(c, env)
    if socket is not None:
        rep.check(socket.startswith("/") and volume_file(c, socket) is not None,
                  f"{where}: --unix-socket {socket} lies in a mounted volume (the root filesystem is read-only)")
    return port, ports, socket


def check_overlay(rep: Report, s: Surface, name: str, docs: list[dict], df_info: dict) -> dict:
    print(f"overlay {name}:")
    info: dict = {"services": []}
    omnizip_port = None
    pods = list(pod_specs(docs))
    for deploy, pod, labels in pods:
        # Only containers of the same pod can share a socket.
        sidecars: list[tuple[dict, str | None]] = []
        dname = f"{deploy['kind']}/{deploy['metadata']['name']}"
        containers = [("containers", c) for c in pod.get("containers", [])] + \
                     [("initContainers", c) for c in pod.get("initContainers", []) or []]
        for kind, c in containers:
            where = f"{dname} {kind}/{c['name']}"
            if image_base(c["image"]) == "omnizip":
                if kind == "initContainers":
                    rep.check(c.get("restartPolicy") == "Always", f"{where}: native sidecar (restartPolicy Always)")
                omnizip_port, ports, socket = check_omnizip_container(rep, s, docs, deploy, pod, labels, c, where, df_info)
                info.setdefault("omnizip", []).append((deploy, labels, c, ports))
                sidecars.append((c, socket))
        for kind, c in containers:
            for e in c.get("env", []) or []:
                if e["name"] == "OMNIZIP_URL" and image_base(c["image"]) != "omnizip":
                    u = urlparse(e.get("value", ""))
                    where = f"{dname} {kind}/{c['name']}"
                    if u.scheme == "unix":
                        check_socket_url(rep, e.get("value", ""), c, sidecars, pod, where)
                        continue
                    rep.check(u.port == omnizip_port, f"{where}: OMNIZIP_URL port {u.port} = omnizip port {omnizip_port}")
                    rep.check(u.path in ("", "/"), f"{where}: OMNIZIP_URL is a base URL (no path)", u.path)
                    if any(k == "initContainers" and image_base(x["image"]) == "omnizip" for k, x in containers):
                        rep.check(u.hostname in ("127.0.0.1", "localhost", "::1"), f"{where}: sidecar reached over loopback")
    rep.check("omnizip" in info, f"{name}: an omnizip container is deployed")
    for svc in (d for d in docs if d.get("kind") == "Service"):
        sel = svc["spec"].get("selector") or {}
        targets = [(dep, lab) for dep, pod, lab in pods if sel and all(lab.get(k) == v for k, v in sel.items())]
        where = f"Service/{svc['metadata']['name']}"
        rep.check(bool(targets), f"{where}: selector matches a pod template")
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            found = False
            for dep, lab in targets:
                spec = dep["spec"]["template"]["spec"]
                for c in spec.get("containers", []) + (spec.get("initContainers") or []):
                    for cp in c.get("ports", []) or []:
                        if tp == cp.get("name") or tp == cp["containerPort"]:
                            found = True
            rep.check(found, f"{where}: port {p.get('name')} targetPort {tp} resolves to a container port")
        info["services"].append(svc)
    for pdb in (d for d in docs if d.get("kind") == "PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"]
        rep.check(any(all(lab.get(k) == v for k, v in sel.items()) for _, _, lab in pods),
                  f"PodDisruptionBudget/{pdb['metadata']['name']}: selector matches a pod template")
    for hpa in (d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        rep.check(any(d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"] for d, _, _ in pods),
                  f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: scaleTargetRef {ref['kind']}/{ref['name']} exists")
        rep.check(2 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"],
                  f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: 2 <= minReplicas <= maxReplicas")
        for dep, _, _ in pods:
            if dep["metadata"]["name"] == ref["name"]:
                rep.check("replicas" not in dep["spec"], f"{ref['kind']}/{ref['name']}: no replicas field (HPA owns it)")
        pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
        for pdb in pdbs:
            ma = pdb["spec"].get("minAvailable")
            if isinstance(ma, int):
                rep.check(ma < hpa["spec"].get("minReplicas", 1), f"PodDisruptionBudget minAvailable {ma} < minReplicas")
    return info


def check_dockerfile(rep: Report, s: Surface, df_path: Path, df_info: dict, root: Path) -> None:
    print(f"{df_path.name}:")
    rt = df_info["runtime"]
    argv = dockerfile.runtime_argv(df_info)
    rep.check(rt["entrypoint"] is not None and rt["entrypoint"]["form"] == "exec", "ENTRYPOINT is exec form")
    rep.check(argv[:2] == ["/usr/local/bin/omnizip", "serve"], "ENTRYPOINT runs /usr/local/bin/omnizip serve", str(argv))
    rep.check(any("/usr/local/bin/omnizip" in c for c in rt["copy"]), "the runtime stage copies the binary to /usr/local/bin/omnizip")
    check_flags(rep, s, argv[2:], "Dockerfile ENTRYPOINT/CMD")
    check_env_names(rep, s, [k for k in rt["env"] if k.startswith("OMNIZIP_")], "Dockerfile ENV")
    rep.check(rt["env"].get("OPENBLAS_NUM_THREADS") == "1", "ENV OPENBLAS_NUM_THREADS=1")
    default_port = int(s.default("--port"))
    port = int(rt["env"].get("OMNIZIP_PORT", default_port))
    rep.check(default_port == 8080, f"server default port {default_port} = 8080 (docs, EXPOSE)")
    rep.check(rt["expose"] == [str(port)], f"EXPOSE {rt['expose']} = listening port {port}")
    user = rt["user"] or ""
    rep.check(bool(re.fullmatch(r"[1-9]\d*(:\d+)?", user)), f"USER {user} is numeric and non-root")
    rep.check(rt["stopsignal"] == "SIGTERM", "STOPSIGNAL SIGTERM")
    hc = rt["healthcheck"]
    if rep.check(hc is not None, "HEALTHCHECK present"):
        text = " ".join(hc["argv"])
        m = re.search(r"GET (/\S*) HTTP", text)
        if rep.check(bool(m), "HEALTHCHECK sends an HTTP GET"):
            check_route(rep, s, m.group(1), "HEALTHCHECK")
        m = re.search(r"\$\{OMNIZIP_PORT:-(\d+)\}", text)
        rep.check(bool(m) and int(m.group(1)) == default_port,
                  "HEALTHCHECK port follows OMNIZIP_PORT (fallback = server default)")
    build = df_info["stages"][0]
    rep.check(any(re.search(r"\bmake release\b", r) for r in build["run"]), "build stage runs `make release` (CI's command)")
    mk = (root / "Makefile").read_text() if (root / "Makefile").is_file() else ""
    rep.check("--static-swift-stdlib" in mk, "Makefile's release build links the Swift runtime statically")
    src = root / "Sources" / "OmniZipCore" / "OmniZipVersion.swift"
    m = re.search(r'static let string = "([^"]+)"', src.read_text()) if src.is_file() else None
    rep.check(bool(m), f"the binary's version is found in {src.relative_to(root)}")
    if m and "OMNIZIP_VERSION" in rt["args"]:
        rep.check(rt["args"]["OMNIZIP_VERSION"] == m.group(1),
                  f"ARG OMNIZIP_VERSION {rt['args']['OMNIZIP_VERSION']} = the binary's version {m.group(1)}")
    rep.check(not any("omnizip" in k.lower() and ("SECRET" in k or "TOKEN" in k) for k in rt["env"]), "no secrets in ENV")


def check_monitoring(rep: Report, s: Surface, path: Path, service_info: dict | None) -> None:
    print(f"{path}:")
    for doc in load_docs(path):
        rep.check(doc.get("kind") == "ServiceMonitor" and doc.get("apiVersion") == "monitoring.coreos.com/v1",
                  f"{doc.get('kind')}: monitoring.coreos.com/v1 ServiceMonitor")
        spec = doc["spec"]
        services = (service_info or {}).get("services", [])
        sel = spec["selector"]["matchLabels"]
        match = [svc for svc in services if all((svc["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())]
        rep.check(bool(match), "selector matches the service overlay's Service labels")
        ns = spec.get("namespaceSelector", {}).get("matchNames", [])
        rep.check(all(svc["metadata"].get("namespace") in ns for svc in match) and bool(match),
                  f"namespaceSelector {ns} covers the Service's namespace")
        for ep in spec["endpoints"]:
            names = {p.get("name") for svc in match for p in svc["spec"]["ports"]}
            rep.check(ep.get("port") in names, f"endpoint port {ep.get('port')} is a Service port name", str(names))
            check_route(rep, s, ep.get("path", "/metrics"), "ServiceMonitor")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=".", type=Path)
    ap.add_argument("--dockerfile", default=None, type=Path)
    ap.add_argument("--rendered", action="append", default=[], help="NAME=FILE of a rendered overlay")
    ap.add_argument("--monitoring", action="append", default=[], type=Path)
    ap.add_argument("--binary", action="append", default=[], type=Path, help="candidate omnizip binaries")
    a = ap.parse_args()
    root = a.root.resolve()
    rep = Report()

    s = Surface()
    src_mtime = newest_mtime(root / "Sources")
    for b in a.binary:
        b = b if b.is_absolute() else root / b
        if b.is_file() and os.access(b, os.X_OK):
            if b.stat().st_mtime < src_mtime:
                print(f"note: {b} is older than the sources; not used as the source of truth")
            elif surface_from_dump(b, s):
                break
    surface_from_openapi(root, s)
    print("server surface from: " + ("; ".join(s.origin) or "nothing"))
    print(f"  flags: {sorted(s.flags)}")
    print(f"  env: {sorted(s.envs)}")
    print(f"  routes (openapi): {sorted(s.openapi_paths) if s.openapi_paths is not None else 'absent'}")

    if not rep.check(bool(s.options), "server option table read",
                     "no omnizip binary newer than Sources/ answered `serve --dump-options`: run `make release` first"):
        return 1
    rep.check(s.openapi_paths is not None, "openapi.yaml lists the routes")
    for expected in ("/livez", "/readyz", "/metrics"):
        check_route(rep, s, expected, "server")

    df_path = a.dockerfile or root / "Dockerfile"
    df_info = dockerfile.parse(df_path)
    check_dockerfile(rep, s, df_path, df_info, root)

    infos = {}
    for spec in a.rendered:
        name, _, path = spec.partition("=")
        infos[name] = check_overlay(rep, s, name, load_docs(Path(path)), df_info)
    for m in a.monitoring:
        check_monitoring(rep, s, m, infos.get("service"))

    print(f"consistency: {rep.passes} passed, {rep.failures} failed")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
