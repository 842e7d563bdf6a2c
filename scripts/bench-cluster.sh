#!/usr/bin/env bash
# The cluster benchmark of issue 9 (acceptance 8): `atrium dev --sfu-only --sfu-nodes 3`
# (three SFU nodes and a signal gateway in one process on 127.0.0.1), then
# `atrium bench --rooms K --compare-direct` through the gateway: per-node rooms,
# participants and CPU, and the added latency of the proxied signal path.
#
# Output: bench/results/cluster-latest.json and the table in bench/results/cluster-latest.txt.
#
# Environment:
#   BIN=bin/atrium            the binary (built here when missing)
#   BENCH_ROOMS=12            rooms to spread
#   BENCH_SUBSCRIBERS=4       students per room (each also gets a direct twin)
#   BENCH_DURATION=30s        run length
#   BENCH_JOIN_RATE=10        joins per second over all rooms
#   BENCH_VIDEO_BITRATE=500000
#   BENCH_HTTP_ADDR           gateway address (default 127.0.0.1:7880); the nodes take the fixed
#                             dev ports 127.0.0.1:7890.. (HTTP), 7900.. (ICE UDP), 7945.. (gossip)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/atrium}
OUT=${BENCH_OUT:-bench/results}
HTTP_ADDR=${BENCH_HTTP_ADDR:-127.0.0.1:7880}
log() { echo "bench-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$BIN" ] || { log "building $BIN"; go build -o "$BIN" ./cmd/atrium; }
mkdir -p "$OUT"

# Never measure somebody else's server: every port the dev cluster takes must be free.
for port in "${HTTP_ADDR##*:}" 7890 7891 7892; do
  if ss -ltn "sport = :$port" | grep -q LISTEN; then die "TCP port $port is taken: stop that server or set BENCH_HTTP_ADDR"; fi
done
for port in 7900 7901 7902 7945 7946 7947 7948; do
  if ss -lun "sport = :$port" | grep -q UNCONN; then die "UDP port $port is taken"; fi
done

log "starting atrium dev --sfu-only --sfu-nodes 3 (gateway on $HTTP_ADDR)"
ATRIUM_SFU_HTTP_ADDR="$HTTP_ADDR" "$BIN" dev --sfu-only --sfu-nodes 3 --log-level warn >"$OUT/cluster-dev.log" 2>&1 &
DEV=$!
trap 'kill "$DEV" 2>/dev/null; wait "$DEV" 2>/dev/null || true' EXIT

# Ready when the gateway answers; then give gossip time to converge.
for _ in $(seq 1 50); do
  if curl -fsS "http://$HTTP_ADDR/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
sleep 3 # gossip converges (local preset: well under a second; leave room on a loaded machine)

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 300 "$BIN" bench lecture --rooms "${BENCH_ROOMS:-12}" --subscribers "${BENCH_SUBSCRIBERS:-4}" \
  --compare-direct --url "ws://$HTTP_ADDR" --duration "${BENCH_DURATION:-30s}" \
  --join-rate "${BENCH_JOIN_RATE:-10}" --video-bitrate "${BENCH_VIDEO_BITRATE:-500000}" \
  --node-pid "dev=$DEV" --json "$OUT/cluster-latest.json" | tee "$OUT/cluster-latest.txt"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
