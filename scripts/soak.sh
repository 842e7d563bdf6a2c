#!/usr/bin/env bash
# `make soak`: does an SFU node give back what a day of classes takes? A fresh `atrium sfu
# --dev` serves bench-driven rounds (a lecture of SOAK_SUBSCRIBERS joining, running
# SOAK_ROUND, and leaving) for SOAK_DURATION in all. After each round, once everyone has
# left and SOAK_SETTLE has passed, the node's RSS (/proc), goroutines (pprof on the internal
# metrics listener) and open file descriptors are sampled; samples are also taken every
# SOAK_INTERVAL during the rounds. Growth is the last idle sample against the first idle one
# after SOAK_WARMUP rounds; the run fails when RSS, goroutines or fds grew more than
# SOAK_MAX_GROWTH_PCT.
#
# Output: bench/results/soak-<UTC time>.csv (every sample) and .md (the verdict).
#
# Environment (defaults):
#   SOAK_DURATION=1800 (s)  SOAK_ROUND=120 (s)  SOAK_SUBSCRIBERS=50  SOAK_WARMUP=2
#   SOAK_SETTLE=10 (s)  SOAK_INTERVAL=10 (s)  SOAK_MAX_GROWTH_PCT=1
#   SOAK_HTTP_ADDR=127.0.0.1:7980  SOAK_UDP_ADDR=127.0.0.1:7982  SOAK_METRICS_ADDR=127.0.0.1:7989
#   BIN=bin/atrium (built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-1800}
ROUND=${SOAK_ROUND:-120}
SUBS=${SOAK_SUBSCRIBERS:-50}
WARMUP=${SOAK_WARMUP:-2}
SETTLE=${SOAK_SETTLE:-10}
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
LOG="$OUT/soak-$stamp.sfu.log"

log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

[ -x "$BIN" ] || { log "building $BIN"; go build -o "$BIN" ./cmd/atrium; }
mkdir -p "$OUT"
listening "$HTTP_ADDR" && die "$HTTP_ADDR is in use: set SOAK_HTTP_ADDR"

ATRIUM_SFU_HTTP_ADDR=$HTTP_ADDR ATRIUM_SFU_RTC_UDP_ADDR=$UDP_ADDR ATRIUM_SFU_METRICS_ADDR=$METRICS_ADDR \
  ATRIUM_SFU_ROOM_EMPTY_TIMEOUT=5s "$BIN" sfu --dev >"$LOG" 2>&1 &
SFU_PID=$!
SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  if kill -0 "$SFU_PID" 2>/dev/null; then
    kill -TERM "$SFU_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SFU_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SFU_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do listening "$HTTP_ADDR" && listening "$METRICS_ADDR" && break; sleep 0.1; done
listening "$METRICS_ADDR" || die "the SFU did not start (log: $LOG)"

START=$(date +%s)
# sample PHASE: one CSV line of the node's resources.
sample() {
  local rss fds gor
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SFU_PID/status")
  fds=$(ls "/proc/$SFU_PID/fd" | wc -l)
  gor=$(curl -sf "http://$METRICS_ADDR/debug/pprof/goroutine?debug=1" | awk '/^goroutine profile: total/ {print $4; exit}')
  echo "$(( $(date +%s) - START )),$1,$rss,${gor:-0},$fds" >>"$CSV"
}
echo "elapsed_s,phase,rss_kb,goroutines,fds" >"$CSV"
sample start
( while sleep "$INTERVAL"; do sample load 2>/dev/null || exit 0; done ) &
SAMPLER_PID=$!

round=0
while [ $(( $(date +%s) - START + ROUND + SETTLE )) -le "$DURATION" ]; do
  round=$((round + 1))
  log "round $round: lecture 1 -> $SUBS for ${ROUND}s"
  timeout --kill-after=10 $((ROUND + 60)) "$BIN" bench lecture --url "ws://$HTTP_ADDR" --subscribers "$SUBS" \
    --simulcast --join-rate 20 --duration "${ROUND}s" --room "soak-$round" --quiet \
    >"$OUT/soak-$stamp.round$round.txt" 2>&1 || log "round $round: the tester failed (see $OUT/soak-$stamp.round$round.txt)"
  sleep "$SETTLE"
  sample "idle$round"
done
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

# Verdict: last idle sample against the first idle sample after the warm-up rounds.
verdict=$(awk -F, -v warm="$WARMUP" -v max="$MAX_GROWTH" '
  $2 ~ /^idle/ { n = substr($2, 5) + 0; if (n > warm && !base) { base = 1; r0 = $3; g0 = $4; f0 = $5; b = n }
                 if (n > warm) { r1 = $3; g1 = $4; f1 = $5; l = n } }
  END {
    if (!base || l == b) { print "INCONCLUSIVE: fewer than two idle samples after the warm-up"; exit }
    pr = (r1 - r0) * 100 / r0; pg = (g1 - g0) * 100 / (g0 ? g0 : 1); pf = (f1 - f0) * 100 / (f0 ? f0 : 1)
    ok = (pr < max && pg < max && pf < max) ? "PASS" : "FAIL"
    printf "%s: idle round %d -> %d: RSS %d -> %d KiB (%+.2f%%), goroutines %d -> %d (%+.2f%%), fds %d -> %d (%+.2f%%); bound %s%%\n",
      ok, b, l, r0, r1, pr, g0, g1, pg, f0, f1, pf, max
  }' "$CSV")
{
  echo "# SFU soak, $stamp"
  echo
  echo "\`make soak\` (scripts/soak.sh): $round rounds of lecture 1 -> $SUBS (simulcast) for ${ROUND}s each,"
  echo "${SETTLE}s idle after each, $(( $(date +%s) - START ))s in all, warm-up $WARMUP rounds."
  echo "Host: $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "**$verdict**"
  echo
  echo "Idle samples (after each round, everyone gone):"
  echo
  echo "| round | elapsed s | RSS KiB | goroutines | fds |"
  echo "|---|---|---|---|---|"
  awk -F, '$2 ~ /^idle|^start/ { printf "| %s | %s | %s | %s | %s |\n", $2, $1, $3, $4, $5 }' "$CSV"
  echo
  echo "Every sample: \`$(basename "$CSV")\`."
} >"$MD"
cat "$MD"
case "$verdict" in FAIL*) exit 1 ;; esac
