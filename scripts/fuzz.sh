#!/usr/bin/env bash
# Runs every Go native fuzz target (func FuzzXxx in *_test.go) for a bounded time each:
# FUZZTIME per target (default 60s), FUZZ_PARALLEL workers (default 1: the machines we share
# have 2 cores; CI may raise it), FUZZ_PKGS to restrict the packages (default: all),
# FUZZ_MINIMIZE the time spent minimizing each new input (default 1s; Go's default, 60s, let
# FuzzDecodeJoinRequest spend whole minutes shrinking gzip inputs: 6 executions in 60 s).
# Stops at the first crasher, which Go writes to the package's testdata/fuzz/ (commit it
# with the fix). A summary line per target (execs, rate, new corpus entries) goes to stdout
# and to $FUZZ_OUT if set. The seed corpora (f.Add and testdata/fuzz/) run in `make test`
# as ordinary tests.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-60s}"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-1}"
FUZZ_MINIMIZE="${FUZZ_MINIMIZE:-1s}"
GO="${GO:-go}"
pkgs="${FUZZ_PKGS:-$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u | sed 's#^#./#')}"
summary=()
for pkg in $pkgs; do
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go | sed 's/^func //' | sort -u); do
    echo "== $pkg $target ($FUZZTIME)"
    log=$(mktemp)
    if ! "$GO" test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZ_MINIMIZE" -parallel "$FUZZ_PARALLEL" 2>&1 | tee "$log"; then
      echo "FAIL: $pkg $target (crasher under $pkg/testdata/fuzz/$target/)"
      rm -f "$log"
      exit 1
    fi
    last=$(grep -E '^fuzz: elapsed' "$log" | tail -1 || true)
    summary+=("$pkg $target: ${last#fuzz: }")
    rm -f "$log"
  done
done
echo
echo "== fuzz summary (FUZZTIME=$FUZZTIME, FUZZ_PARALLEL=$FUZZ_PARALLEL)"
for line in "${summary[@]}"; do
  echo "$line"
  [ -n "${FUZZ_OUT:-}" ] && echo "$line" >> "$FUZZ_OUT"
done
