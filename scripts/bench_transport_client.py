"""Round trips of one request body to /v1/compress over TCP and a Unix socket, alternating.

A second client for scripts/bench-transport.sh beside curl: the body goes out with
socket.sendfile (the kernel copies the file; curl's Unix-socket upload is much slower than its
TCP one), so the two transports are compared on the server's side of the cost. Prints one line
per transport: its name and the median round trip in milliseconds.

With PACED_GBPS, the body also goes over the Unix socket from memory at that rate (a network
link's speed, leaving the client's core mostly idle), twice per round: as written (small
tensors first, so the server compresses while the embeddings arrive) and with the embeddings
moved first (the same bytes in an order that cannot start before the last byte). Lines
"paced-streamed MS UPLOAD_MS" and "paced-whole MS UPLOAD_MS".

With --memfd, only descriptor bodies over the Unix socket: the body is written into a sealed
memfd (timed apart: "writing"), which goes with the request's head (SCM_RIGHTS). Rounds of
three core runs (`BIN bench --workload WORKLOAD --iterations 3`) and three requests alternate,
so that both see the same machine (its speed drifts by 10-20% within minutes here). Prints
"memfd MS CLIENT_CPU_MS WRITE_MS CORE_MS": the round trip from the send to the answer's last
byte, the client's CPU time in it, the time to fill the memfd, and the core's median; then
"memfd-huge ..." the same for memfds in huge pages (MFD_HUGETLB, three more requests a round;
"none" where the host has no huge page free).

    python3 scripts/bench_transport_client.py BODY PORT SOCKET [REQUESTS [PACED_GBPS]]
    python3 scripts/bench_transport_client.py --memfd BIN WORKLOAD BODY SOCKET [REQUESTS]
"""

import fcntl
import json
import mmap
import os
import socket
import statistics
import subprocess
import sys
import time

EMBEDDINGS = {"inputs_embeds", "audio_embeds", "video_embeds"}


def round_trip(connect, body_path, size):
    with connect() as s, open(body_path, "rb") as body:
        start = time.perf_counter()
        s.sendall(head(size))
        s.sendfile(body)
        read_answer(s)
        return time.perf_counter() - start


def head(size):
    return (
        b"POST /v1/compress HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size
    )


def read_answer(s):
    answer = b""
    while chunk := s.recv(1 << 20):
        answer += chunk
    status = answer.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit(f"bench-transport: answer {status.decode()}: {answer[:300]!r}")
    return answer


def embeddings_first(body):
    """The same tensors with the embeddings' data first."""
    n = int.from_bytes(body[:8], "little")
    header = json.loads(body[8 : 8 + n])
    data = memoryview(body)[8 + n :]
    out = {"__metadata__": header.pop("__metadata__")} if "__metadata__" in header else {}
    parts, offset = [], 0
    for name in sorted(header, key=lambda k: (k not in EMBEDDINGS, header[k]["data_offsets"][0])):
        begin, end = header[name]["data_offsets"]
        out[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
        parts.append(data[begin:end])
        offset += end - begin
    text = json.dumps(out, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(parts)


def paced_round_trip(connect, body, rate):
    """(round trip, upload) seconds, the body sent in 1 MiB pieces at `rate` bytes/s."""
    view, piece = memoryview(body), 1 << 20
    with connect() as s:
        start = time.perf_counter()
        s.sendall(head(len(body)))
        for offset in range(0, len(body), piece):
            s.sendall(view[offset : offset + piece])
            delay = start + (offset + piece) / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        uploaded = time.perf_counter() - start
        read_answer(s)
        return time.perf_counter() - start, uploaded


SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL


def sealed_memfd(body, huge=False):
    """(descriptor, seconds to create, fill and seal it). ``huge``: in huge pages (MFD_HUGETLB),
    a whole number of them long; None instead of the descriptor where none can be had."""
    start = time.perf_counter()
    fd = os.memfd_create("omnizip-bench", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING | (os.MFD_HUGETLB if huge else 0))
    size = len(body)
    if huge:
        page = os.fstat(fd).st_blksize
        size = -(-size // page) * page
    try:
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as mapping:
            mapping[: len(body)] = body
    except OSError:
        if not huge:
            raise
        os.close(fd)
        return None, 0.0
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    return fd, time.perf_counter() - start


def memfd_round_trip(socket_path, body, huge=False):
    """(round trip, client CPU, memfd writing) seconds of one descriptor body; None without
    huge pages when ``huge``."""
    fd, writing = sealed_memfd(body, huge)
    if fd is None:
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(socket_path)
        head = (
            b"POST /v1/compress HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.omnizip.memfd\r\n"
            + b"Omnizip-Memfd-Length: %d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % len(body)
        )
        cpu, start = time.thread_time(), time.perf_counter()
        socket.send_fds(s, [head], [fd])
        os.close(fd)
        read_answer(s)
        return time.perf_counter() - start, time.thread_time() - cpu, writing


def core_ms(binary, workload, iterations):
    workers = os.environ.get("WORKERS", "2")  # the server's --workers (bench-transport.sh sets it)
    out = subprocess.run([binary, "bench", "--workload", workload, "--iterations", str(iterations), "--workers", workers],
                         capture_output=True, text=True, check=True).stdout
    return float(next(line.split()[4] for line in out.splitlines() if line.startswith(workload)))


def memfd_main(binary, workload, body_path, socket_path, requests):
    with open(body_path, "rb") as f:
        body = f.read()
    memfd_round_trip(socket_path, body)  # warm-up
    huge_pages = memfd_round_trip(socket_path, body, huge=True) is not None
    runs, huge_runs, cores = [], [], []
    for _ in range(max(1, requests // 3)):
        cores.append(core_ms(binary, workload, 3))
        runs += [memfd_round_trip(socket_path, body) for _ in range(3)]
        if huge_pages:
            huge_runs += [memfd_round_trip(socket_path, body, huge=True) for _ in range(3)]
    core = f"{statistics.median(cores):.1f}"
    print("memfd", *(f"{statistics.median(r[i] for r in runs) * 1000:.1f}" for i in range(3)), core)
    if huge_pages:
        print("memfd-huge", *(f"{statistics.median(r[i] for r in huge_runs) * 1000:.1f}" for i in range(3)), core)
    else:
        print("memfd-huge none none none", core)


def main():
    if sys.argv[1] == "--memfd":
        memfd_main(*sys.argv[2:6], int(sys.argv[6]) if len(sys.argv) > 6 else 15)
        return
    body_path, port, socket_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    requests = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    size = os.path.getsize(body_path)

    def tcp():
        return socket.create_connection(("127.0.0.1", port))

    def unix():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # As omnizip_client does (address.py): the default send buffer bounds what is in flight.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.connect(socket_path)
        return s

    times = {"tcp": [], "unix": []}
    for i in range(requests + 3):
        for name, connect in (("tcp", tcp), ("unix", unix)):
            t = round_trip(connect, body_path, size)
            if i >= 3:  # warm-ups
                times[name].append(t)
    for name, values in times.items():
        print(name, f"{statistics.median(values) * 1000:.1f}")
    if len(sys.argv) > 5:
        rate = float(sys.argv[5]) * 1e9 / 8
        with open(body_path, "rb") as f:
            bodies = {"paced-streamed": f.read()}
        bodies["paced-whole"] = embeddings_first(bodies["paced-streamed"])
        paced = {name: [] for name in bodies}
        for i in range(requests + 2):
            for name, body in bodies.items():
                t = paced_round_trip(unix, body, rate)
                if i >= 2:
                    paced[name].append(t)
        for name, values in paced.items():
            print(name, f"{statistics.median(v[0] for v in values) * 1000:.1f}", f"{statistics.median(v[1] for v in values) * 1000:.1f}")


if __name__ == "__main__":
    main()
