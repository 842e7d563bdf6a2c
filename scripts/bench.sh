#!/usr/bin/env bash
# The standard benchmark suite behind `make bench` (issue 5): raw UDP forwarding baseline,
# lecture 1->100 (browser-like, SDK-default, no subscriber RTCP, lean subscribers), 1->300,
# and with lean subscribers 1->300 and 1->600 (simulcast, 1.5 Mb/s top layer), meeting 10x10, audio-room
# 5->200, and 200 joins at 10/s. Each scenario gets a fresh `atrium sfu --dev` pinned to
# one core while the tester runs on the others, so figures are per server core.
#
# Output: bench/results/latest.json (every figure) and bench/results/latest.md (summary);
# per-run JSON and logs under bench/results/runs/. Bounded: every step runs under timeout.
#
# Environment:
#   BIN=bin/atrium            the binary (built by `make bench`, or here when missing)
#   BENCH_QUICK=1             a short smoke version of the suite (~1 minute)
#   BENCH_HTTP_ADDR           server HTTP address (default 127.0.0.1:7880; must be free)
#   BENCH_UDP_ADDR            server ICE UDP address (default 127.0.0.1:7882)
#   BENCH_ONLY="lecture-100"  run only these scenarios (space-separated names)
#   BENCH_NICE=-5             run server and tester at this nice level (negative needs root):
#                             on a machine shared with other work, keeps them from starving
#   BENCH_CGROUP=0            do not give server and tester CPU budgets (default: when the
#                             cgroup v1 cpu controller at /sys/fs/cgroup/cpu is writable, each
#                             runs in a group of its own with a quota of one core)
#   BENCH_CPU_SHARES=1024     cpu.shares of those groups (higher: less starved by other load)
set -euo pipefail
cd "$(dirname "$0")/.."

# With CONFIG_SCHED_AUTOGROUP (the default on most kernels) a nice value only ranks processes
# within one session; sessions are ranked by their autogroup's nice. So BENCH_NICE runs the
# suite in a session of its own and sets that session's autogroup nice.
if [ -n "${BENCH_NICE:-}" ] && [ -z "${BENCH_IN_SESSION:-}" ] && command -v setsid >/dev/null; then
  BENCH_IN_SESSION=1 exec setsid --wait "$0" "$@"
fi

BIN=${BIN:-bin/atrium}
OUT=${BENCH_OUT:-bench/results}
RUNS="$OUT/runs"
HTTP_ADDR=${BENCH_HTTP_ADDR:-127.0.0.1:7880}
UDP_ADDR=${BENCH_UDP_ADDR:-127.0.0.1:7882}
QUICK=${BENCH_QUICK:-}
URL="ws://$HTTP_ADDR"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$BIN" ] || { log "building $BIN"; go build -o "$BIN" ./cmd/atrium; }
# A partial run (BENCH_ONLY) replaces only its own results, so the summary stays complete.
[ -z "${BENCH_ONLY:-}" ] && rm -rf "$RUNS"
mkdir -p "$RUNS"

# Cores: the server gets the first CPU we may use, the tester the rest.
cpus=$(nproc)
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c 0)
  TESTER_PIN=(taskset -c "1-$((cpus - 1))")
  log "server pinned to CPU 0, tester to CPUs 1-$((cpus - 1))"
else
  SERVER_PIN=()
  TESTER_PIN=()
  log "WARNING: $cpus CPU(s) or no taskset: server and tester share the CPU; figures are not per core"
fi
if [ -n "${BENCH_NICE:-}" ]; then
  SERVER_PIN=(nice -n "$BENCH_NICE" "${SERVER_PIN[@]}")
  TESTER_PIN=(nice -n "$BENCH_NICE" "${TESTER_PIN[@]}")
  if [ -w /proc/self/autogroup ] && echo "$BENCH_NICE" >/proc/self/autogroup 2>/dev/null; then
    log "server and tester at nice $BENCH_NICE, in a session (autogroup) at nice $BENCH_NICE"
  else
    log "server and tester at nice $BENCH_NICE (autogroup nice not settable: it ranks them only within this session)"
  fi
fi
# CPU budgets: a cgroup (v1 cpu controller) per process, quota one core each, so that
# neither can borrow the other's time (and Go sizes GOMAXPROCS to the quota).
CG_ROOT=/sys/fs/cgroup/cpu
CG_DIRS=()
CG_SERVER=() CG_TESTER=()
if [ "${BENCH_CGROUP:-1}" != 0 ] && [ -w "$CG_ROOT" ] && [ -f "$CG_ROOT/cpu.cfs_quota_us" ]; then
  for role in server tester; do
    d="$CG_ROOT/atrium-bench-$$-$role"
    mkdir -p "$d" && echo 100000 >"$d/cpu.cfs_period_us" && echo 100000 >"$d/cpu.cfs_quota_us" &&
      echo "${BENCH_CPU_SHARES:-1024}" >"$d/cpu.shares" || die "cannot set up cgroup $d"
    CG_DIRS+=("$d")
  done
  # cgexec without libcgroup: the wrapper joins the group, then becomes the command.
  CG_SERVER=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_ROOT/atrium-bench-$$-server")
  CG_TESTER=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_ROOT/atrium-bench-$$-tester")
  log "server and tester each in a cgroup with a quota of one core (cpu.shares ${BENCH_CPU_SHARES:-1024})"
fi
cg_cleanup() { for d in "${CG_DIRS[@]}"; do rmdir "$d" 2>/dev/null || true; done; }

log "load average before the suite: $(cut -d' ' -f1-3 /proc/loadavg) on $cpus CPUs"

listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

SFU_PID=
stop_sfu() {
  if [ -n "$SFU_PID" ] && kill -0 "$SFU_PID" 2>/dev/null; then
    kill -TERM "$SFU_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SFU_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SFU_PID" 2>/dev/null || true
    wait "$SFU_PID" 2>/dev/null || true
  fi
  SFU_PID=
}
trap 'stop_sfu; cg_cleanup' EXIT INT TERM

start_sfu() {
  local name=$1
  listening "$HTTP_ADDR" && die "$HTTP_ADDR is already in use (another server?): set BENCH_HTTP_ADDR"
  ATRIUM_SFU_HTTP_ADDR=$HTTP_ADDR ATRIUM_SFU_RTC_UDP_ADDR=$UDP_ADDR \
    "${CG_SERVER[@]}" "${SERVER_PIN[@]}" "$BIN" sfu --dev >"$RUNS/$name.sfu.log" 2>&1 &
  SFU_PID=$!
  for _ in $(seq 1 100); do
    listening "$HTTP_ADDR" && return 0
    kill -0 "$SFU_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$RUNS/$name.sfu.log" >&2 || true
  die "atrium sfu --dev did not start on $HTTP_ADDR (log: $RUNS/$name.sfu.log)"
}

want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# scenario NAME DURATION_S ARGS...: one run against a fresh server.
scenario() {
  local name=$1 dur=$2
  shift 2
  want "$name" || return 0
  rm -f "$RUNS/$name".*
  log "$name: $*"
  start_sfu "$name"
  local rc=0
  timeout --kill-after=10 $((dur + 60)) "${CG_TESTER[@]}" "${TESTER_PIN[@]}" "$BIN" bench "$@" --url "$URL" \
    --duration "${dur}s" --server-pid "$SFU_PID" --json "$RUNS/$name.json" --quiet \
    >"$RUNS/$name.txt" 2>"$RUNS/$name.log" || rc=$?
  stop_sfu
  cat "$RUNS/$name.txt" >&2 || true
  if [ "$rc" -ne 0 ]; then
    # The tester's verdict is its last "atrium bench:" line; the rest of the log is pion noise.
    { grep '^atrium bench' "$RUNS/$name.log" || tail -3 "$RUNS/$name.log"; } >"$RUNS/$name.err"
    [ "$rc" -eq 124 ] && echo "killed by timeout after $((dur + 60)) s" >>"$RUNS/$name.err"
    log "$name: FAILED (exit $rc): $(cat "$RUNS/$name.err")"
  fi
}

if [ -n "$QUICK" ]; then
  L1=20 L2=40 L3=60 MEET=4 SPK=2 LIS=40 JOINS=40 D=8 DL=12
else
  L1=100 L2=300 L3=600 MEET=10 SPK=5 LIS=200 JOINS=200 D=30 DL=45
fi

if want udp-baseline; then
  log "udp-baseline: 1 -> 100, pinned like the server"
  timeout 120 "${SERVER_PIN[@]}" "$BIN" bench udp-baseline --receivers 100 --rate 1000 --duration 3s \
    --json "$RUNS/udp-baseline.json" >&2
fi
scenario "lecture-$L1" "$D" lecture --subscribers "$L1" --simulcast --video-bitrate 1500000 --join-rate 20
# The same lecture with server-sdk-go's default feedback, with pion subscribers sending no
# RTCP, and with lean subscribers (bench/leansub: no PeerConnection, no RTCP): what RTCP
# costs the server, and what the lean tester changes (the summary puts them side by side).
scenario "lecture-$L1-sdk" "$D" lecture --subscribers "$L1" --simulcast --video-bitrate 1500000 --join-rate 20 --feedback sdk
scenario "lecture-$L1-none" "$D" lecture --subscribers "$L1" --simulcast --video-bitrate 1500000 --join-rate 20 --feedback none
scenario "lecture-$L1-lean" "$D" lecture --subscribers "$L1" --simulcast --video-bitrate 1500000 --join-rate 20 --lean
scenario "lecture-$L2" "$DL" lecture --subscribers "$L2" --simulcast --video-bitrate 1500000 --join-rate 20
# Density: lean subscribers, so that one tester core keeps up with hundreds of students.
scenario "lecture-$L2-lean" "$DL" lecture --subscribers "$L2" --simulcast --video-bitrate 1500000 --join-rate 30 --lean
scenario "lecture-$L3-lean" "$((DL + 15))" lecture --subscribers "$L3" --simulcast --video-bitrate 1500000 --join-rate 30 --lean
scenario "meeting-${MEET}x${MEET}" "$D" meeting --publishers "$MEET" --join-rate 10
scenario "audio-room-${SPK}x${LIS}" "$D" audio-room --publishers "$SPK" --subscribers "$LIS" --join-rate 20
# Joins under a light media load (students on the low simulcast layer), so that join time is
# not a measure of forwarding saturation.
scenario "join-$JOINS" "$((JOINS / 10 + 10))" lecture --subscribers "$JOINS" --join-rate 10 --simulcast --subscribe-quality low

"$BIN" bench summarize --json "$OUT/latest.json" --md "$OUT/latest.md" "$RUNS"
log "wrote $OUT/latest.json and $OUT/latest.md"
cat "$OUT/latest.md"
