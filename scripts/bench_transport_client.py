"""Round trips of one request body to /v1/compress over TCP and a Unix socket, alternating.

A second client for scripts/bench-transport.sh beside curl: the body goes out with
socket.sendfile (the kernel copies the file; curl's Unix-socket upload is much slower than its
TCP one), so the two transports are compared on the server's side of the cost. Prints one line
per transport: its name and the median round trip in milliseconds.

    python3 scripts/bench_transport_client.py BODY PORT SOCKET [REQUESTS]
"""

import os
import socket
import statistics
import sys
import time


def round_trip(connect, body_path, size):
    with connect() as s, open(body_path, "rb") as body:
        start = time.perf_counter()
        s.sendall(
            b"POST /v1/compress HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size
        )
        s.sendfile(body)
        answer = b""
        while chunk := s.recv(1 << 20):
            answer += chunk
        elapsed = time.perf_counter() - start
    status = answer.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit(f"bench-transport: answer {status.decode()}: {answer[:300]!r}")
    return elapsed


def main():
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


if __name__ == "__main__":
    main()
