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
# Go-built tools the tests run but the module must not import (helm would pull Kubernetes into
# go.mod): installed at pinned versions from the Go module proxy into .tools/bin, reinstalled only
# when the pin changes. tests/chart uses helm and kubeconform.
TOOLS_BIN="$PWD/.tools/bin"
install_tool() { # name package@version
  local name=$1 pkg=$2 stamp="$TOOLS_BIN/.$1.version"
  if [ -x "$TOOLS_BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then return; fi
  echo "installing $pkg into $TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "$pkg"
  echo "$pkg" > "$stamp"
}
install_tool helm helm.sh/helm/v4/cmd/helm@v4.3.2
install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
# promtool checks and unit-tests the alert rules (cmd/atrium TestAlertRules).
install_tool promtool github.com/prometheus/prometheus/cmd/promtool@v0.316.0
# Let's Encrypt's ACME test server and its DNS companion (pkg/tlsfile's ACME tests).
install_tool pebble github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3
install_tool pebble-challtestsrv github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3
# actionlint validates .github/workflows in `make lint`.
install_tool actionlint github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
