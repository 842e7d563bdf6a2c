#!/usr/bin/env bash
# Runs a local SFU cluster as separate processes, so a node can really be killed:
# three `atrium sfu` nodes and one `atrium signal` gateway on 127.0.0.1, room leases in the
# local Redis (scripts/services.sh starts it). Logs and pids go to .run/cluster/.
#
#   scripts/cluster-local.sh up      # start (builds bin/atrium first)
#   scripts/cluster-local.sh status  # who is up, and the cluster as the gateway sees it
#   scripts/cluster-local.sh down    # stop everything
#
# Clients connect to the gateway, ws://127.0.0.1:7880 (API key devkey, secret "secret").
# Kill a node with `kill -9 $(cat .run/cluster/sfu-1.pid)` and watch its rooms move
# (docs/cluster.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.run/cluster
BIN=${BIN:-bin/atrium}
mkdir -p "$DIR"
PREFIX="atrium:local:$(date +%s):"

up() {
  make -s build >/dev/null
  ./scripts/services.sh up >/dev/null
  local seeds="127.0.0.1:7946,127.0.0.1:7947,127.0.0.1:7948"
  for i in 1 2 3; do
    env ATRIUM_SFU_NODE_ID="sfu-$i" \
      ATRIUM_SFU_HTTP_ADDR="127.0.0.1:$((7890 + i))" \
      ATRIUM_SFU_RTC_UDP_ADDR="127.0.0.1:$((7900 + i))" \
      ATRIUM_SFU_CLUSTER_ENABLED=true ATRIUM_SFU_CLUSTER_PRESET=local \
      ATRIUM_SFU_CLUSTER_BIND_ADDR="127.0.0.1:$((7945 + i))" ATRIUM_SFU_CLUSTER_SEEDS="$seeds" \
      ATRIUM_SFU_PLACEMENT_REDIS_ADDR=127.0.0.1:6379 ATRIUM_SFU_PLACEMENT_KEY_PREFIX="$PREFIX" \
      ATRIUM_SFU_DRAIN_TIMEOUT=30s \
      nohup "$BIN" sfu --dev >"$DIR/sfu-$i.log" 2>&1 &
    echo $! >"$DIR/sfu-$i.pid"
  done
  env ATRIUM_SIGNAL_NODE_ID=signal-1 ATRIUM_SIGNAL_HTTP_ADDR=127.0.0.1:7880 \
    ATRIUM_SIGNAL_CLUSTER_BIND_ADDR=127.0.0.1:7945 ATRIUM_SIGNAL_CLUSTER_SEEDS="$seeds" \
    ATRIUM_SIGNAL_PLACEMENT_REDIS_ADDR=127.0.0.1:6379 ATRIUM_SIGNAL_PLACEMENT_KEY_PREFIX="$PREFIX" \
    nohup "$BIN" signal --dev >"$DIR/signal-1.log" 2>&1 &
  echo $! >"$DIR/signal-1.pid"
  sleep 2
  status
}

status() {
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    local name pid
    name=$(basename "$f" .pid); pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then echo "$name: up (pid $pid)"; else echo "$name: down"; fi
  done
  local tok
  tok=$("$BIN" token create --operator --identity ops 2>/dev/null)
  curl -s -H "Authorization: Bearer $tok" http://127.0.0.1:7880/admin/cluster || echo "gateway not answering"
  echo
}

down() {
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case ${1:-up} in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: $0 up|status|down" >&2; exit 2 ;;
esac
