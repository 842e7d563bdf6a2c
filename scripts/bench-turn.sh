#!/usr/bin/env bash
# Relayed packets per TURN CPU-second (issue 6), behind `make bench-turn`: builds atrium,
# starts `atrium turn` on 127.0.0.1 with a generated secret (loopback peers allowed) pinned
# to CPU 0, `atrium sfu --dev` handing out that relay in JoinResponse.ice_servers, and runs a
# lecture whose students are relay-only (ICE transport policy relay), with the SFU and the
# tester on the other CPUs. The relay's CPU comes from /proc (--turn-pid), its relayed packets
# (both directions) from its Prometheus /metrics (--turn-metrics).
#
# Output: the tester's table on stdout and a summary line; JSON and logs in
# bench/results/turn/. Bounded: every step runs under timeout; the EXIT trap stops both servers.
#
# Environment:
#   BIN=bin/atrium                 the binary (always rebuilt here, so it matches the tree)
#   TURN_BENCH_SUBSCRIBERS=50      relay-only students
#   TURN_BENCH_DURATION=20         seconds
#   TURN_BENCH_RELAY_ONLY=subscribers   or "all": the teacher publishes through the relay too
#   TURN_BENCH_ARGS="--simulcast"  extra `atrium bench` arguments
#   TURN_BENCH_PORT=13478          relay UDP/TCP port; its /metrics on TURN_BENCH_HTTP
#   TURN_BENCH_HTTP=127.0.0.1:19478
#   BENCH_HTTP_ADDR=127.0.0.1:17880, BENCH_UDP_ADDR=127.0.0.1:17882   the SFU's addresses
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/atrium}
OUT=${TURN_BENCH_OUT:-bench/results/turn}
SUBS=${TURN_BENCH_SUBSCRIBERS:-50}
DUR=${TURN_BENCH_DURATION:-20}
MODE=${TURN_BENCH_RELAY_ONLY:-subscribers}
TURN_PORT=${TURN_BENCH_PORT:-13478}
TURN_HTTP=${TURN_BENCH_HTTP:-127.0.0.1:19478}
HTTP_ADDR=${BENCH_HTTP_ADDR:-127.0.0.1:17880}
UDP_ADDR=${BENCH_UDP_ADDR:-127.0.0.1:17882}
NAME="turn-lecture-$SUBS"

log() { echo "bench-turn: $*" >&2; }
die() { log "$*"; exit 1; }
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

log "building $BIN"
timeout 600 go build -o "$BIN" ./cmd/atrium
mkdir -p "$OUT"
rm -f "$OUT/$NAME".*

cpus=$(nproc)
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  TURN_PIN=(taskset -c 0)
  REST_PIN=(taskset -c "1-$((cpus - 1))")
  log "relay pinned to CPU 0; SFU and tester on CPUs 1-$((cpus - 1))"
else
  TURN_PIN=()
  REST_PIN=()
  log "WARNING: $cpus CPU(s) or no taskset: relay, SFU and tester share the CPU"
fi
log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $cpus CPUs"

for a in "$HTTP_ADDR" "$TURN_HTTP" "127.0.0.1:$TURN_PORT"; do
  listening "$a" && die "$a is already in use: set BENCH_HTTP_ADDR / TURN_BENCH_HTTP / TURN_BENCH_PORT"
done

TURN_PID= SFU_PID=
stop() { # stop PID: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { stop "$SFU_PID"; stop "$TURN_PID"; SFU_PID= TURN_PID=; }
trap cleanup EXIT INT TERM

wait_listening() { # wait_listening ADDR PID LOG
  for _ in $(seq 1 100); do
    listening "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$3" >&2 || true
  die "nothing listening on $1 (log: $3)"
}

SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '/+=')

# The relay: one UDP socket (it has one core), loopback relay addresses, loopback peers allowed
# (the SFU is on 127.0.0.1), OS-chosen relay ports, no quota in the way.
ATRIUM_TURN_AUTH_SECRET=$SECRET \
  ATRIUM_TURN_LISTEN_UDP="127.0.0.1:$TURN_PORT" ATRIUM_TURN_LISTEN_TCP="127.0.0.1:$TURN_PORT" \
  ATRIUM_TURN_LISTEN_UDP_SOCKETS=1 \
  ATRIUM_TURN_RELAY_ADDRESS=127.0.0.1 ATRIUM_TURN_RELAY_PORT_MIN=0 ATRIUM_TURN_RELAY_PORT_MAX=0 \
  ATRIUM_TURN_PEERS_ALLOW=127.0.0.0/8 ATRIUM_TURN_QUOTA_ALLOCATIONS_PER_USER=0 \
  ATRIUM_TURN_HTTP=$TURN_HTTP ATRIUM_TURN_LOG_LEVEL=warn \
  "${TURN_PIN[@]}" "$BIN" turn >"$OUT/$NAME.turn.log" 2>&1 &
TURN_PID=$!
wait_listening "$TURN_HTTP" "$TURN_PID" "$OUT/$NAME.turn.log"

ATRIUM_SFU_HTTP_ADDR=$HTTP_ADDR ATRIUM_SFU_RTC_UDP_ADDR=$UDP_ADDR \
  ATRIUM_SFU_TURN_URLS="turn:127.0.0.1:$TURN_PORT?transport=udp" ATRIUM_SFU_TURN_SECRET=$SECRET \
  "${REST_PIN[@]}" "$BIN" sfu --dev --log-level warn >"$OUT/$NAME.sfu.log" 2>&1 &
SFU_PID=$!
wait_listening "$HTTP_ADDR" "$SFU_PID" "$OUT/$NAME.sfu.log"

log "$NAME: lecture 1 -> $SUBS for ${DUR}s, relay-only $MODE"
rc=0
# shellcheck disable=SC2086 # TURN_BENCH_ARGS is a list of arguments
timeout --kill-after=10 $((DUR + 60)) "${REST_PIN[@]}" "$BIN" bench lecture --subscribers "$SUBS" \
  --duration "${DUR}s" --relay-only="$MODE" --url "ws://$HTTP_ADDR" --server-pid "$SFU_PID" \
  --turn-pid "$TURN_PID" --turn-metrics "http://$TURN_HTTP/metrics" ${TURN_BENCH_ARGS:-} \
  --json "$OUT/$NAME.json" --quiet >"$OUT/$NAME.txt" 2>"$OUT/$NAME.log" || rc=$?
cleanup
cat "$OUT/$NAME.txt"
if [ "$rc" -ne 0 ]; then
  { grep '^atrium bench' "$OUT/$NAME.log" || tail -3 "$OUT/$NAME.log"; } >&2
  [ "$rc" -eq 124 ] && log "killed by timeout after $((DUR + 60)) s"
  die "$NAME: FAILED (exit $rc); logs in $OUT"
fi
if command -v jq >/dev/null; then
  jq -r '"relayed packets per TURN CPU-second: \(.turn_relay.relayed_packets_per_cpu_s | floor) (\(.turn_relay.relayed_packets_source); \(.turn_relay.relayed_packets) packets in \(.steady_window_s*10|floor/10) s: to peer \(.turn_relay.to_peer_packets), from peer \(.turn_relay.from_peer_packets)); TURN CPU \(.turn_relay.cpu_percent|floor)% of a core, \(.turn_relay.cpu_us_per_relayed_packet*100|floor/100) us/pkt; SFU CPU \(.server_process.cpu_percent|floor)%; loss \(.loss_percent*1000|floor/1000)%; latency p50 \(.latency_ms.p50*100|floor/100) ms p99 \(.latency_ms.p99*100|floor/100) ms; load average \(.load_average)"' "$OUT/$NAME.json"
fi
log "wrote $OUT/$NAME.json"
