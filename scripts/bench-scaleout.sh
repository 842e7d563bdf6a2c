#!/usr/bin/env bash
# The scale-out measurement of issue 12 (acceptance 6, docs/relay.md "Scale-out"), behind
# `make bench-cluster`: `atrium bench scale-out` starts, for each cluster size, fresh SFU
# node processes each in a cgroup v1 cpu folder of its own with the same CPU quota (plus a
# signal gateway outside the quotas), and searches the largest lecture (one teacher, lean
# students through the gateway) with loss <= 0.5% and latency p99 <= 50 ms.
#
# Needs: root (or a writable /sys/fs/cgroup/cpu) and Redis (scripts/services.sh).
# Output: bench/results/scaleout-<time>.json and .txt; node logs in .run/scaleout-<time>/.
#
# Environment:
#   BIN=bin/atrium               the binary (built here when missing)
#   BENCH_NODE_QUOTA=0.2         cores per node
#   BENCH_NODES=1,3              cluster sizes
#   BENCH_REDIS=127.0.0.1:6379
#   BENCH_TRIAL=25s              length of each trial
#   BENCH_START_PER_NODE=30      first class size per node; the search doubles, then bisects
#   BENCH_MAX_TRIALS=6           class sizes tried per cluster size (a failing one is run twice)
#   BENCH_VIDEO_BITRATE=600000   the teacher's camera (one layer), b/s
#   BENCH_FPS=20
#   BENCH_JOIN_RATE=30           joins per second
#   BENCH_CPU_SHARES=8192        cpu.shares of the node groups and of the tester's group (a
#                                weight, not a cap: on a machine shared with other work it
#                                keeps other load from delaying them; 0: the default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/atrium}
OUT=${BENCH_OUT:-bench/results}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOGS=.run/scaleout-$STAMP
log() { echo "bench-scaleout: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$BIN" ] || { log "building $BIN"; go build -o "$BIN" ./cmd/atrium; }
[ -w /sys/fs/cgroup/cpu ] || die "/sys/fs/cgroup/cpu is not writable (run as root on a cgroup v1 machine)"
REDIS=${BENCH_REDIS:-127.0.0.1:6379}
(exec 3<>"/dev/tcp/${REDIS%:*}/${REDIS##*:}") 2>/dev/null || die "no Redis at $REDIS (scripts/services.sh up)"
mkdir -p "$OUT" "$LOGS"

# The tester (and the gateway it starts) in a group of its own: no quota, the same weight.
SHARES=${BENCH_CPU_SHARES:-8192}
TESTER=()
if [ "$SHARES" != 0 ]; then
  CG=/sys/fs/cgroup/cpu/atrium-scaleout-$$-tester
  mkdir -p "$CG" && echo "$SHARES" >"$CG/cpu.shares" || die "cannot set up $CG"
  trap 'rmdir "$CG" 2>/dev/null || true' EXIT
  TESTER=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")
fi

log "uptime before: $(uptime)"
rc=0
timeout --kill-after=10 1800 "${TESTER[@]}" "$BIN" bench scale-out lecture --lean --node-shares "$SHARES" \
  --node-quota "${BENCH_NODE_QUOTA:-0.2}" --nodes "${BENCH_NODES:-1,3}" --redis "$REDIS" \
  --trial-duration "${BENCH_TRIAL:-25s}" --start-per-node "${BENCH_START_PER_NODE:-30}" \
  --max-trials "${BENCH_MAX_TRIALS:-6}" --video-bitrate "${BENCH_VIDEO_BITRATE:-600000}" \
  --fps "${BENCH_FPS:-20}" --join-rate "${BENCH_JOIN_RATE:-30}" \
  --logs "$LOGS" --json "$OUT/scaleout-$STAMP.json" 2>"$LOGS/tester.log" | tee "$OUT/scaleout-$STAMP.txt" || rc=$?
log "uptime after: $(uptime)"
grep '^scale-out:' "$LOGS/tester.log" >&2 || true
[ "$rc" -eq 0 ] || die "atrium bench scale-out failed (exit $rc): $(grep '^atrium' "$LOGS/tester.log" | tail -3)"
log "wrote $OUT/scaleout-$STAMP.json and .txt"
