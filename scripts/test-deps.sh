#!/usr/bin/env bash
# Installs, idempotently, what Atrium's tests need beyond Go: Debian's chromium (browser tests and
# a real WebRTC peer), ffmpeg (recording checks), the npm packages of the browser tests and the
# web UI's livekit-client, from their committed lock files.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm packages from committed lock files: the browser tests' (tests/browser) and the web UI's
# livekit-client (web/, served by the control plane). Reinstalled only when a lock changes.
for dir in tests/browser web; do
  [ -f "$dir/package-lock.json" ] || continue
  lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$dir/node_modules/.atrium-lock" ] || [ "$(cat "$dir/node_modules/.atrium-lock")" != "$lock_sum" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
    echo "$lock_sum" > "$dir/node_modules/.atrium-lock"
  fi
done
