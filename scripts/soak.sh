#!/usr/bin/env bash
# `make soak`: does an SFU node give back what a day of classes takes? A fresh `atrium sfu
# --dev` serves bench-driven rounds (a lecture of SOAK_SUBSCRIBERS joining, running
# SOAK_ROUND, and leaving) for SOAK_DURATION in all. After each round the script waits for
# the node to be idle before it samples: the node's own gauges (atrium_sfu_participants and
# atrium_sfu_rooms on the internal metrics listener) must read 0, bounded by
# SOAK_IDLE_TIMEOUT, and SOAK_SETTLE must have passed since the tester exited; SOAK_SETTLE
# must exceed the node's signal resume window (SOAK_RESUME_WINDOW, set on the node), since a
# participant whose signal connection dropped lives that long waiting to be resumed; its
# default leaves the Go scavenger time to return the round's peak to the OS, which RSS sees.
# A round that cannot reach idle is sampled anyway as "busyN", with the reason, and fails
# the run.
# An idle sample is: two forced GCs (pprof heap?gc=1; the second empties sync.Pool victim
# caches, and its heap profile is kept), free pages returned to the OS
# (/debug/free-os-memory: without it the same idle node read 72 MB or 102 MB depending on
# whether the Go scavenger had run), the live heap (go_memstats_heap_alloc_bytes on the
# metrics listener: pprof's text heap profile allocates in proportion to the number of
# allocation sites it has sampled since start before it reads HeapAlloc), then RSS
# (/proc), goroutines (pprof) and open file descriptors. The goroutine dumps and heap
# profiles are kept beside the node's log (compare two with go tool pprof -base).
# Samples are also taken every SOAK_INTERVAL during the rounds.
#
# The verdict: over the idle samples after SOAK_WARMUP rounds, growth is the least-squares
# trend across the run as a share of its fitted start (one idle RSS sample scatters by a
# few percent as the Go heap and its scavenger breathe, so two end points alone measure
# noise); the last-against-first figure is printed too. The run fails when the RSS,
# goroutine or fd trend grew by SOAK_MAX_GROWTH_PCT or more, or a round did not reach idle;
# it is inconclusive when a trend's standard error is that large (the scatter hides the bound).
#
# Output: bench/results/soak-<UTC time>.csv (every sample) and .md (the verdict); the
# node's log, the testers' output and goroutine dumps go to .run/soak-<UTC time>/.
#
# Environment (defaults):
#   SOAK_DURATION=1800 (s)  SOAK_ROUND=120 (s)  SOAK_SUBSCRIBERS=50  SOAK_WARMUP=2
#   SOAK_SETTLE=30 (s)  SOAK_RESUME_WINDOW=10 (s)  SOAK_IDLE_TIMEOUT=90 (s)
#   SOAK_INTERVAL=10 (s)  SOAK_MAX_GROWTH_PCT=1
#   SOAK_CGROUP=1: when the cgroup v1 cpu controller at /sys/fs/cgroup/cpu is writable, the node
#     and the tester each run in their own cgroup with a quota of one core, so other work on the
#     machine cannot starve the node (a starved node queues packets, and RSS then measures the
#     machine's load, not a leak); SOAK_CPU_SHARES=1024 is their cpu.shares (raise it, e.g. 8192,
#     to rank them above everything else on a shared machine). The .md names both.
#   SOAK_HTTP_ADDR=127.0.0.1:7980  SOAK_UDP_ADDR=127.0.0.1:7982  SOAK_METRICS_ADDR=127.0.0.1:7989
#   BIN=bin/atrium (built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-1800}
ROUND=${SOAK_ROUND:-120}
SUBS=${SOAK_SUBSCRIBERS:-50}
WARMUP=${SOAK_WARMUP:-2}
SETTLE=${SOAK_SETTLE:-30}
RESUME_WINDOW=${SOAK_RESUME_WINDOW:-10}
IDLE_TIMEOUT=${SOAK_IDLE_TIMEOUT:-90}
INTERVAL=${SOAK_INTERVAL:-10}
MAX_GROWTH=${SOAK_MAX_GROWTH_PCT:-1}
HTTP_ADDR=${SOAK_HTTP_ADDR:-127.0.0.1:7980}
UDP_ADDR=${SOAK_UDP_ADDR:-127.0.0.1:7982}
METRICS_ADDR=${SOAK_METRICS_ADDR:-127.0.0.1:7989}
BIN=${BIN:-bin/atrium}
OUT=${SOAK_OUT:-bench/results}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
CSV="$OUT/soak-$stamp.csv"
MD="$OUT/soak-$stamp.md"
RUN=.run/soak-$stamp
LOG="$RUN/sfu.log"

log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

[ -x "$BIN" ] || { log "building $BIN"; go build -o "$BIN" ./cmd/atrium; }
[ "$SETTLE" -gt "$RESUME_WINDOW" ] || die "SOAK_SETTLE ($SETTLE s) must exceed SOAK_RESUME_WINDOW ($RESUME_WINDOW s)"
mkdir -p "$OUT" "$RUN"
listening "$HTTP_ADDR" && die "$HTTP_ADDR is in use: set SOAK_HTTP_ADDR"

# CPU budgets (SOAK_CGROUP): a cgroup per process, one core of quota each.
CG_ROOT=/sys/fs/cgroup/cpu
SHARES=${SOAK_CPU_SHARES:-1024}
CG_DIRS=() CG_NODE=() CG_TESTER=()
CG_NOTE="no cgroups (the node shares the machine's CPU with everything else)"
if [ "${SOAK_CGROUP:-1}" != 0 ] && [ -w "$CG_ROOT" ] && [ -f "$CG_ROOT/cpu.cfs_quota_us" ]; then
  for role in node tester; do
    d="$CG_ROOT/atrium-soak-$$-$role"
    mkdir -p "$d" && echo 100000 >"$d/cpu.cfs_period_us" && echo 100000 >"$d/cpu.cfs_quota_us" &&
      echo "$SHARES" >"$d/cpu.shares" || die "cannot set up cgroup $d"
    CG_DIRS+=("$d")
  done
  # cgexec without libcgroup: the wrapper joins the group, then becomes the command.
  CG_NODE=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_ROOT/atrium-soak-$$-node")
  CG_TESTER=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_ROOT/atrium-soak-$$-tester")
  CG_NOTE="node and tester each in a cgroup v1 with a quota of one core, cpu.shares $SHARES"
  log "$CG_NOTE"
fi

ATRIUM_SFU_HTTP_ADDR=$HTTP_ADDR ATRIUM_SFU_RTC_UDP_ADDR=$UDP_ADDR ATRIUM_SFU_METRICS_ADDR=$METRICS_ADDR \
  ATRIUM_SFU_ROOM_EMPTY_TIMEOUT=5s ATRIUM_SFU_SIGNAL_RESUME_WINDOW="${RESUME_WINDOW}s" \
  "${CG_NODE[@]}" "$BIN" sfu --dev >"$LOG" 2>&1 &
SFU_PID=$!
SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  if kill -0 "$SFU_PID" 2>/dev/null; then
    kill -TERM "$SFU_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SFU_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SFU_PID" 2>/dev/null || true
  fi
  for d in "${CG_DIRS[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do listening "$HTTP_ADDR" && listening "$METRICS_ADDR" && break; sleep 0.1; done
listening "$METRICS_ADDR" || die "the SFU did not start (log: $LOG)"

START=$(date +%s)
# gauge NAME: the node's value of a metric without labels (empty when unreadable).
gauge() { curl -sf --max-time 5 "http://$METRICS_ADDR/metrics" | awk -v n="$1" '$1 == n && !done {print $2; done = 1}' || true; }
# sample PHASE [HEAP_KB] [NOTE]: one CSV line of the node's resources.
sample() {
  local rss fds gor
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SFU_PID/status")
  fds=$(ls "/proc/$SFU_PID/fd" | wc -l)
  gor=$(curl -sf --max-time 5 "http://$METRICS_ADDR/debug/pprof/goroutine?debug=1" | awk '/^goroutine profile: total/ && !done {print $4; done = 1}' || true)
  echo "$(( $(date +%s) - START )),$1,$rss,${gor:-0},$fds,${2:-},${3:-}" >>"$CSV"
}
# idle_sample ROUND TESTER_END: waits (bounded) for the node to be idle, then samples.
idle_sample() {
  local round=$1 t0=$2 deadline=$(( $2 + IDLE_TIMEOUT )) parts rooms phase=idle reason= waited heap
  while :; do
    parts=$(gauge atrium_sfu_participants); rooms=$(gauge atrium_sfu_rooms)
    [ "${parts:-x}" = 0 ] && [ "${rooms:-x}" = 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      phase=busy reason="participants=${parts:-?} rooms=${rooms:-?} after ${IDLE_TIMEOUT}s"
      log "round $round: not idle: $reason"
      break
    fi
    sleep 1
  done
  waited=$(( $(date +%s) - t0 ))
  while [ $(( $(date +%s) - t0 )) -lt "$SETTLE" ]; do sleep 1; done
  curl -sf --max-time 30 "http://$METRICS_ADDR/debug/pprof/heap?gc=1" >/dev/null || true
  curl -sf --max-time 30 "http://$METRICS_ADDR/debug/pprof/heap?gc=1" >"$RUN/heap.round$round.pb.gz" || true
  # Return free pages to the OS, so RSS reads what the node holds, not whether the scavenger ran.
  curl -sf --max-time 30 -X POST "http://$METRICS_ADDR/debug/free-os-memory" >/dev/null || true
  heap=$(gauge go_memstats_heap_alloc_bytes)
  heap=${heap:+$(awk -v b="$heap" 'BEGIN {print int(b / 1024)}')}
  curl -sf --max-time 5 "http://$METRICS_ADDR/debug/pprof/goroutine?debug=1" >"$RUN/goroutines.round$round.txt" || true
  sample "$phase$round" "${heap:-}" "${reason:-idle after ${waited}s}"
}
echo "elapsed_s,phase,rss_kb,goroutines,fds,live_heap_kb,note" >"$CSV"
sample start
( while sleep "$INTERVAL"; do sample load 2>/dev/null || exit 0; done ) &
SAMPLER_PID=$!

round=0
while [ $(( $(date +%s) - START + ROUND + SETTLE )) -le "$DURATION" ]; do
  round=$((round + 1))
  log "round $round: lecture 1 -> $SUBS for ${ROUND}s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout --kill-after=10 $((ROUND + 60)) "${CG_TESTER[@]}" "$BIN" bench lecture --url "ws://$HTTP_ADDR" --subscribers "$SUBS" \
    --simulcast --join-rate 20 --duration "${ROUND}s" --room "soak-$round" --quiet \
    >"$RUN/round$round.txt" 2>&1 || log "round $round: the tester failed (see $RUN/round$round.txt)"
  idle_sample "$round" "$(date +%s)"
  echo "$round,$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN/loadavg.csv"
done
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

# Verdict: least-squares trend of the idle samples after the warm-up (see the header).
verdict=$(awk -F, -v warm="$WARMUP" -v max="$MAX_GROWTH" '
  # fit returns the trend of column col over the run in % of its fitted start, and sets se
  # to its standard error in the same unit.
  function fit(col,   i, mx, my, sxx, sxy, a, b, start, rss) {
    mx = 0; my = 0
    for (i = 1; i <= k; i++) { mx += x[i]; my += v[i, col] }
    mx /= k; my /= k; sxx = 0; sxy = 0
    for (i = 1; i <= k; i++) { sxx += (x[i] - mx) ^ 2; sxy += (x[i] - mx) * (v[i, col] - my) }
    b = sxx ? sxy / sxx : 0; a = my - b * mx
    rss = 0
    for (i = 1; i <= k; i++) rss += (v[i, col] - a - b * x[i]) ^ 2
    start = a + b * x[1]; if (start <= 0) start = 1
    se = sxx ? sqrt(rss / (k - 2) / sxx) * (x[k] - x[1]) * 100 / start : 0
    return (b * (x[k] - x[1])) * 100 / start
  }
  $2 ~ /^(idle|busy)/ {
    n = substr($2, 5) + 0
    if (n <= warm) next
    if ($2 ~ /^busy/) { busy = busy " " n; next }
    k++; x[k] = $1; v[k, 3] = $3; v[k, 4] = $4; v[k, 5] = $5; v[k, 6] = $6; r[k] = n
  }
  END {
    if (k < 3) { print "INCONCLUSIVE: fewer than three idle samples after the warm-up" (busy ? "; not idle after rounds" busy : ""); exit }
    tr = fit(3); sr = se; tg = fit(4); sg = se; tf = fit(5); sf = se; th = fit(6); sh = se
    ok = (tr < max && tg < max && tf < max && !busy) ? "PASS" : "FAIL"
    # A pass the scatter cannot resolve (a standard error at or above the bound) is no pass.
    if (ok == "PASS" && (sr >= max || sg >= max || sf >= max)) ok = "INCONCLUSIVE (scatter above the bound)"
    printf "%s: idle rounds %d-%d (%d samples), trend over the run (+- 1 standard error): RSS %+.2f%% +- %.2f, goroutines %+.2f%% +- %.2f, fds %+.2f%% +- %.2f (live heap %+.2f%% +- %.2f); bound %s%%",
      ok, r[1], r[k], k, tr, sr, tg, sg, tf, sf, th, sh, max
    if (busy) printf "; NOT IDLE after rounds%s", busy
    printf "\nEnd points, round %d -> %d: RSS %d -> %d KiB (%+.2f%%), goroutines %d -> %d, fds %d -> %d, live heap %d -> %d KiB\n",
      r[1], r[k], v[1, 3], v[k, 3], (v[k, 3] - v[1, 3]) * 100 / v[1, 3], v[1, 4], v[k, 4], v[1, 5], v[k, 5], v[1, 6], v[k, 6]
  }' "$CSV")
{
  echo "# SFU soak, $stamp"
  echo
  echo "\`make soak\` (scripts/soak.sh): $round rounds of lecture 1 -> $SUBS (simulcast) for ${ROUND}s each,"
  echo "then idle (0 participants and 0 rooms on the node, at least ${SETTLE}s after the tester; resume"
  echo "window ${RESUME_WINDOW}s), $(( $(date +%s) - START ))s in all, warm-up $WARMUP rounds."
  echo "Host: $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "1-minute load average at the end of each round: $(cut -d, -f2 "$RUN/loadavg.csv" | cut -d' ' -f1 | paste -sd' ')."
  echo "CPU: $CG_NOTE."
  echo
  echo "$verdict" | sed '1s/.*/**&**/'
  echo
  echo "Idle samples (after each round, after a forced GC):"
  echo
  echo "| round | elapsed s | RSS KiB | goroutines | fds | live heap KiB | note |"
  echo "|---|---|---|---|---|---|---|"
  awk -F, '$2 ~ /^(idle|busy|start)/ { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $1, $3, $4, $5, $6, $7 }' "$CSV"
  echo
  echo "Every sample: \`$(basename "$CSV")\`."
} >"$MD"
cat "$MD"
case "$verdict" in FAIL*) exit 1 ;; esac
