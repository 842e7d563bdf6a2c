#!/usr/bin/env bash
# Installs, idempotently, what Atrium's tests need beyond Go: Debian's chromium (browser tests and
# a real WebRTC peer), ffmpeg (recording checks) and the npm packages of the browser tests,
# from their committed lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ -f tests/browser/package-lock.json ]; then
  lock_sum=$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)
  if [ ! -f tests/browser/node_modules/.atrium-lock ] || [ "$(cat tests/browser/node_modules/.atrium-lock)" != "$lock_sum" ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
    echo "$lock_sum" > tests/browser/node_modules/.atrium-lock
  fi
fi
