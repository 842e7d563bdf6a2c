#!/usr/bin/env bash
# Starts, on 127.0.0.1, every real service Atrium's tests and `atrium dev` use, unless it is
# already answering. Idempotent: run it as often as you like. `services.sh status` only reports.
#
#   PostgreSQL 15  127.0.0.1:5432   (Debian package; installed when missing)
#   Redis 7        127.0.0.1:6379   (Debian package; installed when missing)
#   mailpit        SMTP 127.0.0.1:1025, API 127.0.0.1:8025   (go tool, pinned in go.mod)
#   stripe-mock    HTTP 127.0.0.1:12111, HTTPS 127.0.0.1:12112 (go tool, pinned in go.mod)
#   versitygw      S3 API 127.0.0.1:7070, objects under $RUN_DIR/s3   (pinned `go install` into
#                  $RUN_DIR/bin: as a go.mod tool it would add ~60 modules (AWS, Azure, Kafka,
#                  NATS, Vault SDKs) to the module graph and upgrade shared ones)
#                  keys: ATRIUM_S3_ACCESS_KEY / ATRIUM_S3_SECRET_KEY, default atrium / atrium-dev-secret
#   ffmpeg         not a service: the recorder's muxer, which `atrium dev` runs (Debian package)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${ATRIUM_RUN_DIR:-.run}
mkdir -p "$RUN_DIR"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do listening "$1" && return 0; sleep 0.2; done
  echo "services: $2 did not start on port $1 (see $RUN_DIR/$2.log)" >&2; return 1
}
apt_install() {
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

postgres() {
  listening 5432 && return 0
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432 postgres
}
redis() {
  listening 6379 && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/atrium.log
  wait_port 6379 redis
}
gotool() { # name port args...
  local name=$1 port=$2; shift 2
  listening "$port" && return 0
  go build -o "$RUN_DIR/bin/$name" "$(tool_path "$name")"
  nohup "$RUN_DIR/bin/$name" "$@" >"$RUN_DIR/$name.log" 2>&1 &
  wait_port "$port" "$name"
}
tool_path() {
  case $1 in
    mailpit) echo github.com/axllent/mailpit ;;
    stripe-mock) echo github.com/stripe/stripe-mock ;;
  esac
}

VERSITYGW_VERSION=v1.8.0
S3_ACCESS_KEY=${ATRIUM_S3_ACCESS_KEY:-atrium}
S3_SECRET_KEY=${ATRIUM_S3_SECRET_KEY:-atrium-dev-secret}
versitygw() {
  # Installed even when another checkout's versitygw already answers on 7070: the recorder
  # tests start their own from this checkout's .run/bin.
  local bin="$RUN_DIR/bin/versitygw"
  if [ ! -x "$bin" ] || [ "$(cat "$bin.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
    GOBIN="$(cd "$RUN_DIR" && pwd)/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
    echo "$VERSITYGW_VERSION" > "$bin.version"
  fi
  listening 7070 && return 0
  mkdir -p "$RUN_DIR/s3"
  ROOT_ACCESS_KEY_ID=$S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
    nohup "$bin" --port 127.0.0.1:7070 posix "$RUN_DIR/s3" >"$RUN_DIR/versitygw.log" 2>&1 &
  wait_port 7070 versitygw
}

case ${1:-up} in
  up)
    postgres
    redis
    gotool mailpit 8025 --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 --smtp-auth-accept-any --smtp-auth-allow-insecure
    gotool stripe-mock 12111 -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:12112
    versitygw
    command -v ffmpeg >/dev/null || apt_install ffmpeg
    echo "services: postgres :5432, redis :6379, mailpit :1025/:8025, stripe-mock :12111/:12112, versitygw :7070 up"
    ;;
  status)
    for p in 5432 6379 1025 8025 12111 7070; do
      if listening $p; then echo "$p up"; else echo "$p down"; fi
    done
    ;;
  *) echo "usage: $0 [up|status]" >&2; exit 2 ;;
esac
