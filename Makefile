# Slipway: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT_FLAGS ?=

.PHONY: setup build test demo bench chaos chaos-ci clean openrpc install release

setup:
	@scripts/setup.sh

build: setup
	swift build $(SWIFT_FLAGS)

# Runs every test: unit tests, and end-to-end tests against the real slipway binary,
# bwrap, git, docker-registry, skopeo and umoci. Ends with the count of tests skipped here (a
# test that needs root or a subordinate id range says so with `.enabled(if:)`; Swift Testing
# prints `➜ Test NAME skipped: "REASON"`), listed in .build/skipped-tests.txt.
test: setup
	swift build $(SWIFT_FLAGS)
	scripts/make-stack.sh .build/test-stack >/dev/null
	set -o pipefail; SLIPWAY_TEST_STACK=$(CURDIR)/.build/test-stack swift test --disable-xctest $(SWIFT_FLAGS) 2>&1 | tee .build/test-output.txt
	bench/chaos/run.sh --ci
	@# grep exits 1 when no test was skipped: that is the count 0, not a failure.
	@grep -E '^[^ ]+ Test .+ skipped(: |\.$$)' .build/test-output.txt > .build/skipped-tests.txt || true
	@echo "make test: $$(wc -l < .build/skipped-tests.txt) test(s) skipped"; cat .build/skipped-tests.txt

# The chaos loop (bench/chaos): load, kill -9 of the engine, protocol fuzzer, disk full and
# races, against the debug build. `chaos-ci` is the short seeded version `make test` runs.
chaos: build
	bench/chaos/run.sh

chaos-ci: build
	bench/chaos/run.sh --ci

# Builds the example app into an OCI image under a fresh state directory and runs it.
demo: build
	scripts/demo.sh

# Benchmarks run the release build, linked with the Swift runtime statically (as shipped).
bench: setup release
	bench/run-all.sh

# The released programs (static Swift runtime), one product at a time: a plain `swift build`
# builds every target, TestSupport too, and Swift Testing is not in the static runtime.
RELEASE_PRODUCTS = slipway slipway-engine slipway-launcher slipway-userns slipctl
release:
	@for p in $(RELEASE_PRODUCTS); do swift build -c release --static-swift-stdlib $(SWIFT_FLAGS) --product $$p || exit 1; done

# Installs slipway, its engine and helpers, and slipctl under PREFIX (bin/ and libexec/slipway/),
# built as released (static Swift runtime): `make install PREFIX=$HOME/.local`.
PREFIX ?= /usr/local
install: setup release
	scripts/install.sh "$(PREFIX)" .build/release

# Regenerates spec/openrpc.json (and the Python client's types) from SlipwayProtocol's method types.
openrpc:
	swift build --product slipway-openrpc $(SWIFT_FLAGS)
	.build/debug/slipway-openrpc > Sources/SlipwayServer/Resources/openrpc.json
	.build/debug/slipway-openrpc --python > clients/python/slipway/_types.py

clean:
	rm -rf .build
