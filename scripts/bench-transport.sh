#!/usr/bin/env bash
# The 60-second clip through the whole service against the core alone, in one run: the core's
# median (`omnizip bench`), then /v1/compress round trips over TCP loopback and over a Unix
# socket (curl, alternating, after warm-ups), with each transport's ratio to the core.
#
# Then the body paced at PACED_GBPS over the Unix socket (a network link's speed, the client
# mostly idle): as written, small tensors first, so the server compresses while it arrives,
# against the same tensors with the embeddings first, which can only start at the last byte.
#
# Then descriptor bodies (a sealed memfd passed over the Unix socket) for the one-minute and the
# five-minute clip, each against its own core time measured in rounds alternating with the
# requests: the round trip from the send to the answer, the client's CPU time in it, and apart
# from it the time to fill the memfd; then the same in huge pages (MFD_HUGETLB) where the host
# has them free (make bench-transport reserves 200 as root).
#
#   scripts/bench-transport.sh [BIN]     (REQUESTS=15 LONG_REQUESTS=7 WORKERS=2 PACED_GBPS=10)
set -euo pipefail
BIN=${1:-.build/release/omnizip}
REQUESTS=${REQUESTS:-15}
LONG_REQUESTS=${LONG_REQUESTS:-7}
WORKERS=${WORKERS:-2}
PACED_GBPS=${PACED_GBPS:-10}
[ -x "$BIN" ] || { echo "bench-transport: no binary at $BIN (make release)" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" bench --emit "$work/clip.safetensors"
"$BIN" bench --workload five-minutes --emit "$work/clip300.safetensors"
socket="$work/omnizip.sock"
"$BIN" serve --host 127.0.0.1 --port 0 --unix-socket "$socket" --workers "$WORKERS" --log-format text > "$work/log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "port=" "$work/log" && [ -S "$socket" ] && break; sleep 0.1; done
port=$(sed -n 's/.*listening.* port=\([0-9]*\).*/\1/p' "$work/log" | head -n 1)
[ -n "$port" ] || { echo "bench-transport: the server did not start" >&2; cat "$work/log" >&2; exit 1; }

post() {  # transport -> seconds of one round trip (the answer is checked to be a 200)
    local via=(--url "http://127.0.0.1:$port/v1/compress")
    [ "$1" = unix ] && via=(--unix-socket "$socket" --url "http://localhost/v1/compress")
    curl -sS -o "$work/answer" -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/octet-stream' \
        --data-binary @"$work/clip.safetensors" "${via[@]}" | awk '$1 != 200 { exit 1 } { print $2 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) * 1000 }'; }

for _ in 1 2 3; do post tcp > /dev/null; post unix > /dev/null; done
: > "$work/tcp"; : > "$work/unix"
for _ in $(seq "$REQUESTS"); do post tcp >> "$work/tcp"; post unix >> "$work/unix"; done
# The same posts from a client that sends the file with sendfile(2): curl's Unix-socket upload
# is the slow part of its Unix figure, not the socket.
python3 "$(dirname "$0")/bench_transport_client.py" "$work/clip.safetensors" "$port" "$socket" "$REQUESTS" "$PACED_GBPS" > "$work/sendfile"
WORKERS="$WORKERS" python3 "$(dirname "$0")/bench_transport_client.py" --memfd "$BIN" one-minute "$work/clip.safetensors" "$socket" "$REQUESTS" > "$work/memfd"
WORKERS="$WORKERS" python3 "$(dirname "$0")/bench_transport_client.py" --memfd "$BIN" five-minutes "$work/clip300.safetensors" "$socket" "$LONG_REQUESTS" > "$work/memfd300"
kill "$server"; wait "$server" 2>/dev/null || true

core=$("$BIN" bench --workload one-minute --workers "$WORKERS" --iterations "$REQUESTS" | awk '$1 == "one-minute" { print $5 }')
read -r memfd memfd_cpu memfd_write memfd_core < <(awk '$1 == "memfd" { print $2, $3, $4, $5 }' "$work/memfd")
read -r memfd300 memfd300_cpu memfd300_write core300 < <(awk '$1 == "memfd" { print $2, $3, $4, $5 }' "$work/memfd300")
read -r huge huge_cpu huge_write < <(awk '$1 == "memfd-huge" { print $2, $3, $4 }' "$work/memfd")
read -r huge300 huge300_cpu huge300_write < <(awk '$1 == "memfd-huge" { print $2, $3, $4 }' "$work/memfd300")
tcp=$(median < "$work/tcp"); unix=$(median < "$work/unix")
sendfile_tcp=$(awk '$1 == "tcp" { print $2 }' "$work/sendfile"); sendfile_unix=$(awk '$1 == "unix" { print $2 }' "$work/sendfile")
read -r streamed upload < <(awk '$1 == "paced-streamed" { print $2, $3 }' "$work/sendfile")
whole=$(awk '$1 == "paced-whole" { print $2 }' "$work/sendfile")
echo "bench-transport: 60-second clip, $WORKERS workers, medians of $REQUESTS"
awk -v c="$core" -v t="$tcp" -v u="$unix" -v st="$sendfile_tcp" -v su="$sendfile_unix" -v g="$PACED_GBPS" -v s="$streamed" -v up="$upload" -v w="$whole" 'BEGIN {
    printf "  core only (omnizip bench)                  %7.1f ms\n", c
    printf "  HTTP round trip, TCP loopback, curl        %7.1f ms  %.2fx the core\n", t, t / c
    printf "  HTTP round trip, Unix socket, curl         %7.1f ms  %.2fx the core\n", u, u / c
    printf "  HTTP round trip, TCP loopback, sendfile    %7.1f ms  %.2fx the core\n", st, st / c
    printf "  HTTP round trip, Unix socket, sendfile     %7.1f ms  %.2fx the core\n", su, su / c
    printf "  paced at %g Gb/s over the Unix socket (upload alone %.1f ms):\n", g, up
    printf "    small tensors first, streamed            %7.1f ms  %.2fx the core\n", s, s / c
    printf "    embeddings first, after the last byte    %7.1f ms  %.2fx the core\n", w, w / c }'
awk -v c="$memfd_core" -v m="$memfd" -v mc="$memfd_cpu" -v mw="$memfd_write" -v c5="$core300" -v m5="$memfd300" -v mc5="$memfd300_cpu" -v mw5="$memfd300_write" 'BEGIN {
    printf "  descriptor body (sealed memfd), Unix socket, core runs alternating with the requests:\n"
    printf "    one-minute: core only                    %7.1f ms\n", c
    printf "    one-minute: round trip                   %7.1f ms  %.2fx the core  (client CPU %.1f ms; filling the memfd %.1f ms)\n", m, m / c, mc, mw
    printf "    five-minute: core only                   %7.1f ms\n", c5
    printf "    five-minute: round trip                  %7.1f ms  %.2fx the core  (client CPU %.1f ms; filling the memfd %.1f ms)\n", m5, m5 / c5, mc5, mw5 }'
if [ "$huge" = none ]; then
    echo "  descriptor body in huge pages (MFD_HUGETLB): not measured, no huge page free (make bench-transport reserves them as root)"
else
    awk -v c="$memfd_core" -v m="$huge" -v mc="$huge_cpu" -v mw="$huge_write" -v c5="$core300" -v m5="$huge300" -v mc5="$huge300_cpu" -v mw5="$huge300_write" 'BEGIN {
    printf "  descriptor body in huge pages (MFD_HUGETLB), in the same rounds:\n"
    printf "    one-minute: round trip                   %7.1f ms  %.2fx the core  (client CPU %.1f ms; filling the memfd %.1f ms)\n", m, m / c, mc, mw
    printf "    five-minute: round trip                  %7.1f ms  %.2fx the core  (client CPU %.1f ms; filling the memfd %.1f ms)\n", m5, m5 / c5, mc5, mw5 }'
fi
