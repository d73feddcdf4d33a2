# echobench: `make bench` runs the default matrix and writes a report;
# `make test` is the CI: format check, vet, race tests, benchmark smoke.
GO      ?= go
BIN     := bin/echobench
CONFIG  ?= configs/quick.toml
RESULTS ?= results

.PHONY: all build test fmt-check vet race external allocs bench-smoke fuzz-smoke k8s-test k8s-test-full bench deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/echobench

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# One package at a time (-p 1): the load generator's accuracy tests and the
# conformance suite measure timing, and on 2 cores another package's tests
# running beside them skew what they measure. It costs about a minute.
race:
	$(GO) test -race -count=1 -p 1 -timeout 8m $$($(GO) list ./... | grep -v '/servers/external$$')

# The foreign stacks' conformance (Python, Node, c-epoll) without the race
# detector: the servers under test are not Go, and the Go client that drives
# them is the suite's, raced above against every Go model. Under -race that
# client ran slow enough for the slowest stack (asyncio-streams, 1,000
# connections x 100 messages: 24 s plain, over its 40 s I/O deadline raced)
# to fail on the client's speed, not the server's.
external:
	$(GO) test -count=1 -timeout 8m ./servers/external

# The allocation tests again without the race detector, which makes
# sync.Pool drop objects at random: the hot paths' zero-allocation claims
# are checked as the program runs.
allocs:
	$(GO) test -count=1 -run 'Allocs' ./...

# One short pass of every benchmark, so they keep compiling and running.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 200x -benchmem -count=1 ./...

# Every fuzz target for a bounded time: the decoders of every input a user
# hands us (matrix files, results files, histograms, load results to merge)
# and the report over any results file. Each must give a clear error or a correct result.
FUZZ_TIME ?= 5s
FUZZ_TARGETS := ./bench/config:FuzzDecode ./internal/results:FuzzRead ./internal/results:FuzzDecodeHDR ./reports:FuzzReport ./internal/results:FuzzReadLoad

fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg) for $(FUZZ_TIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZ_TIME) $$pkg; \
	done

# The Kubernetes recipe's checks, with no cluster (deploy/kubernetes, a module
# of its own): the manifests against a schema of the API types (no unknown
# field, no value of the wrong kind), Guaranteed QoS, the Indexed Job and the
# Service, every flag they pass checked against echobench's, run.sh linted.
# About 70 CPU-seconds with an empty build cache, most of it the standard
# library. k8s-test-full also decodes the manifests strictly into the API
# types themselves and checks that the schema is theirs; compiling k8s.io/api
# costs another 100 CPU-seconds cold, too slow for `make test`.
k8s-test:
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 ./...

k8s-test-full:
	cd deploy/kubernetes && $(GO) vet -tags apitypes ./... && $(GO) test -count=1 -tags apitypes ./...

test: fmt-check vet race external allocs bench-smoke fuzz-smoke k8s-test

# Debian packages for the foreign stacks (Python, Node.js) and the browser
# the report test uses. Idempotent.
deps:
	./scripts/install-stacks.sh

bench: build
	$(BIN) run $(CONFIG) --results $(RESULTS)
	$(BIN) report $(RESULTS) --latest

clean:
	rm -rf bin
