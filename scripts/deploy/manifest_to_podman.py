#!/usr/bin/env python3
"""Translate one container of a rendered kustomize Deployment into `podman run` flags.

smoke-image.sh runs the image the way the manifest would (security context, resources, env,
volumes, args, stop grace) and then requests the manifest's own probes, so a manifest change
reaches the container test instead of a hand-copied flag list going stale.

    manifest_to_podman.py RENDERED.yaml --container omnizip --image IMG --name NAME \
        --shared-dir DIR --out OUTDIR

Writes into OUTDIR:
  run.args     one `podman run` argument per line (flags, then IMG, then the container's args)
  probes.tsv   KIND<TAB>PATH<TAB>HOST_PORT<TAB>TIMEOUT_S<TAB>BUDGET_S, one line per httpGet probe
  sockets.tsv  HOST_PATH<TAB>CONTAINER_PATH of a Unix socket the container is told to serve on a
               volume the host can see (--unix-socket / OMNIZIP_UNIX_SOCKET)
  expect.env   KEY=VALUE facts to compare with the running container (uid, gid, env)
and prints what it translated and what it cannot.

Volumes: an emptyDir that another container of the pod also mounts becomes a host directory
under --shared-dir (the host stands in for that container, e.g. vLLM reaching the socket);
any other emptyDir becomes a tmpfs of its sizeLimit. Anything this script cannot express as a
podman flag in a way that matters for the test (other volume types, valueFrom, exec/tcp
probes, Localhost seccomp, added capabilities beyond the list) is an error, not a silent gap.
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from consistency import quantity_bytes  # noqa: E402  (the deploy checks' own reading of quantities)


def quantity_cpus(q) -> str:
    q = str(q)
    return f"{int(q[:-1]) / 1000:g}" if q.endswith("m") else f"{float(q):g}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Untranslatable(Exception):
    pass


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("rendered")
    ap.add_argument("--container", default="omnizip")
    ap.add_argument("--image", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--shared-dir", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    docs = [d for d in yaml.safe_load_all(Path(a.rendered).read_text()) if d]
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    pod = ctr = None
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        spec = d["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            if c["name"] == a.container:
                pod, ctr, deployment = spec, c, d["metadata"]["name"]
    if ctr is None:
        raise Untranslatable(f"no Deployment container named {a.container!r} in {a.rendered}")
    kind = "native sidecar (initContainers, restartPolicy Always)" if ctr.get("restartPolicy") == "Always" else "container"
    print(f"manifest: Deployment {deployment}, {kind} {a.container!r} (image {ctr.get('image')} -> {a.image})")

    args = ["--name", a.name, "--detach"]
    expect: dict[str, str] = {}
    notes: list[str] = []

    # Security context: the container's fields win over the pod's, as in the kubelet.
    sc = {**(pod.get("securityContext") or {}), **(ctr.get("securityContext") or {})}
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is not None:
        args += ["--user", f"{uid}:{gid if gid is not None else uid}"]
        expect["UID"] = str(uid)
        expect["GID"] = str(gid if gid is not None else uid)
    if sc.get("runAsNonRoot") and uid == 0:
        raise Untranslatable("runAsNonRoot with runAsUser 0: the kubelet would refuse to start it")
    if sc.get("runAsNonRoot"):
        expect["NONROOT"] = "1"
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
        expect["READONLY"] = "1"
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop", []):
        args.append(f"--cap-drop={cap}")
    for cap in caps.get("add", []):
        args.append(f"--cap-add={cap}")
    seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":
        raise Untranslatable(f"seccompProfile {seccomp}")
    # RuntimeDefault = podman's default profile (close to containerd's/CRI-O's, not identical).
    if sc.get("privileged"):
        args.append("--privileged")
    if pod.get("securityContext", {}).get("fsGroup") is not None:
        notes.append("fsGroup: podman has no equivalent (volume group ownership not reproduced)")

    # Resources: only limits become cgroup settings; requests are scheduling (and cpu.shares).
    limits = (ctr.get("resources") or {}).get("limits") or {}
    if "cpu" in limits:
        args.append(f"--cpus={quantity_cpus(limits['cpu'])}")
        expect["CPUS"] = quantity_cpus(limits["cpu"])
    if "memory" in limits:
        args.append(f"--memory={quantity_bytes(limits['memory'])}")
        expect["MEMORY"] = str(quantity_bytes(limits["memory"]))
    if "ephemeral-storage" in limits:
        notes.append("ephemeral-storage limit: kubelet eviction, no podman equivalent (not enforced)")

    # Environment: envFrom ConfigMaps first, then env (later wins, as in Kubernetes).
    env: dict[str, str] = {}
    for ref in ctr.get("envFrom", []):
        cm = ref.get("configMapRef")
        if not cm:
            raise Untranslatable(f"envFrom {ref} (only configMapRef)")
        if cm["name"] not in configmaps:
            raise Untranslatable(f"envFrom ConfigMap {cm['name']} is not in the render")
        env.update({ref.get("prefix", "") + k: str(v) for k, v in configmaps[cm["name"]].items()})
    for e in ctr.get("env", []):
        if "value" not in e:
            raise Untranslatable(f"env {e['name']} uses valueFrom")
        env[e["name"]] = str(e["value"])
    for k, v in env.items():
        if "\n" in v:
            raise Untranslatable(f"env {k} has a newline")
        args += ["--env", f"{k}={v}"]
        expect[f"ENV_{k}"] = v

    # Volumes.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    shared = {m["name"] for c in pod.get("initContainers", []) + pod.get("containers", [])
              if c is not ctr for m in c.get("volumeMounts", [])}
    host_dirs: dict[str, str] = {}
    for m in ctr.get("volumeMounts", []):
        v = volumes.get(m["name"])
        if v is None or "emptyDir" not in v:
            raise Untranslatable(f"volume {m['name']}: only emptyDir volumes are translated")
        if m.get("subPath"):
            raise Untranslatable(f"volumeMount {m['name']} uses subPath")
        ro = ",ro" if m.get("readOnly") else ""
        if m["name"] in shared:
            # emptyDir is created 0777: any uid in the pod may create files in it.
            d = Path(a.shared_dir) / m["name"]
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o777)
            args += ["--volume", f"{d}:{m['mountPath']}{ro}"]
            host_dirs[m["mountPath"]] = str(d)
        else:
            size = (v["emptyDir"] or {}).get("sizeLimit")
            opt = f"type=tmpfs,destination={m['mountPath']},tmpfs-mode=1777"
            if size:
                opt += f",tmpfs-size={quantity_bytes(size)}"
            args += ["--mount", opt + (",ro=true" if ro else "")]
            if (v["emptyDir"] or {}).get("medium") != "Memory":
                notes.append(f"emptyDir {m['name']} (node disk) runs as a tmpfs here")

    # Ports: each containerPort on a free loopback port of the host.
    ports: dict[str, int] = {}
    for p in ctr.get("ports", []):
        hp = free_port()
        args += ["--publish", f"127.0.0.1:{hp}:{p['containerPort']}/{p.get('protocol', 'TCP').lower()}"]
        ports[str(p["containerPort"])] = hp
        if p.get("name"):
            ports[p["name"]] = hp

    grace = pod.get("terminationGracePeriodSeconds", 30)
    args.append(f"--stop-timeout={grace}")
    expect["GRACE"] = str(grace)
    if ctr.get("lifecycle"):
        notes.append("lifecycle hooks: not run (podman has none)")
    if ctr.get("command"):
        raise Untranslatable("command: only the image's ENTRYPOINT is translated")

    args.append(a.image)
    args += [str(x) for x in ctr.get("args", [])]

    # Probes: each httpGet probe's path on the host port its named or numbered port maps to.
    probes = []
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        p = ctr.get(kind)
        if not p:
            continue
        h = p.get("httpGet")
        if not h:
            raise Untranslatable(f"{kind}: only httpGet probes are translated")
        port = str(h["port"])
        if port not in ports:
            raise Untranslatable(f"{kind} port {port} is not a containerPort")
        budget = p.get("periodSeconds", 10) * p.get("failureThreshold", 3) + p.get("initialDelaySeconds", 0)
        probes.append((kind, h.get("path", "/"), ports[port], p.get("timeoutSeconds", 1), budget))

    # The Unix socket the container is told to listen on, where the host sees it.
    sock = env.get("OMNIZIP_UNIX_SOCKET")
    for x in ctr.get("args", []):
        if str(x).startswith("--unix-socket="):
            sock = str(x).split("=", 1)[1]
    sockets = []
    if sock:
        for mount, d in host_dirs.items():
            if sock.startswith(mount.rstrip("/") + "/"):
                sockets.append((d + sock[len(mount.rstrip("/")):], sock))
        if not sockets:
            notes.append(f"unix socket {sock} is not on a volume shared with another container")

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.args").write_text("".join(x + "\n" for x in args))
    (out / "probes.tsv").write_text("".join("\t".join(map(str, p)) + "\n" for p in probes))
    (out / "sockets.tsv").write_text("".join("\t".join(s) + "\n" for s in sockets))
    (out / "expect.env").write_text("".join(f"{k}={v}\n" for k, v in expect.items()))
    print("podman run " + " ".join(args))
    for n in notes:
        print(f"not covered: {n}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Untranslatable as e:
        print(f"manifest_to_podman: cannot translate: {e}", file=sys.stderr)
        sys.exit(1)
