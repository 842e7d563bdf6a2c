# Atrium: `make run` starts the whole platform locally, `make test` installs what the tests
# need and runs them all. See README.md.
GO        ?= go
BIN       ?= bin/atrium
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/atrium-live/atrium/pkg/version.Version=$(VERSION)
# Packages whose concurrency the race detector must vouch for.
RACE_PKGS ?= ./sfu/... ./signaling/... ./turn/... ./pkg/... ./bench/... ./tests/cluster/... ./tests/relay/... ./controlplane/ledger/... ./controlplane/booking/... ./recorder/...
TEST_TIMEOUT ?= 20m

.PHONY: run build test test-deps test-go test-race lint bench bench-turn bench-cluster services clean fuzz soak

build: web/node_modules/.atrium-lock
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/atrium

# The web UI's livekit-client (served by the control plane from web/node_modules), installed
# from the committed lock file; reinstalled when the lock changes.
web/node_modules/.atrium-lock: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	sha256sum web/package-lock.json | cut -d' ' -f1 > $@

run: build services
	./$(BIN) dev

services:
	./scripts/services.sh up

# test-deps installs, idempotently, everything the tests need on a fresh machine.
test-deps: services
	./scripts/test-deps.sh

test: test-deps lint test-go test-race

test-go:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-race:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(RACE_PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x .tools/bin/actionlint || { echo "actionlint missing: run scripts/test-deps.sh"; exit 1; }
	.tools/bin/actionlint .github/workflows/*.yml

bench: build
	./scripts/bench.sh

# Relayed packets per TURN CPU-second: a relay-only lecture through `atrium turn` (docs/turn.md).
bench-turn:
	./scripts/bench-turn.sh

# Scale-out across nodes (docs/relay.md): the largest lecture within loss <= 0.5% and latency
# p99 <= 50 ms on 1 node and on 3, each node a process held to BENCH_NODE_QUOTA cores (0.2)
# by a cgroup v1 cpu folder of its own. Needs root and Redis; results in bench/results/.
bench-cluster: build
	./scripts/bench-scaleout.sh

# Every fuzz target for FUZZTIME each (default 60s; FUZZ_PARALLEL workers, default 1).
# The seed corpora already run as ordinary tests in `make test` (docs/security.md).
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# A 30-minute bench-driven soak of one SFU node: RSS, goroutines and fds sampled; growth after
# warm-up must stay under 1% (SOAK_* variables: scripts/soak.sh). Results in bench/results/.
soak:
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/atrium
	./scripts/soak.sh

clean:
	rm -rf bin .run
