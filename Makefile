# echobench: `make bench` runs the default matrix and writes a report;
# `make test` is the CI: format check, vet, race tests, benchmark smoke.
GO      ?= go
BIN     := bin/echobench
CONFIG  ?= configs/quick.toml
RESULTS ?= results

.PHONY: all build test fmt-check vet race allocs bench-smoke fuzz-smoke bench deps clean

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
	$(GO) test -race -count=1 -p 1 -timeout 8m ./...

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

test: fmt-check vet race allocs bench-smoke fuzz-smoke

# Debian packages for the foreign stacks (Python, Node.js) and the browser
# the report test uses. Idempotent.
deps:
	./scripts/install-stacks.sh

bench: build
	$(BIN) run $(CONFIG) --results $(RESULTS)
	$(BIN) report $(RESULTS) --latest

clean:
	rm -rf bin
