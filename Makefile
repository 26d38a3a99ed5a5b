# wflo — build, test and benchmark every face of the engine.
#
#   make demo        build and run `wflo demo` (mock LLM server, embedded SQLite, no API key)
#   make test        everything CI runs (.ci/run calls it)
#   make test-rust   the Rust workspace only (fast iteration)
#   make test-mock   the mock LLM server against the official openai/anthropic/google-genai Python packages
#   make test-report the HTML report in headless Chromium
#   make test-serve  `wflo serve` scraped by a real Prometheus server and driven in headless
#                    Chromium while an agent records calls (its Rust tests run in test-rust)
#   make test-c      the C ABI: C programs linked dynamically and statically, ASan+UBSan, valgrind
#   make test-go     the Go package (go vet, go test -race, the quick tour)
#   make test-install `make install` into a temporary prefix, then a Go module and C programs
#                    built against it with pkg-config alone
#   make test-node   the npm package: addon, integrations against the mock, npm pack install
#   make test-kotlin the Kotlin package (Maven, JUnit 5) and the generated Kotlin/Swift sources
#   make test-python the Python package: wheel, fresh-venv install, seed examples, pytest
#   make test-otel   OTLP spans and metrics of Rust, Python, Node and Go at a receiver built on
#                    opentelemetry-proto, checked against the GenAI conventions and the ledger
#   make test-parity every face's ledger of tests/vectors/scenarios.json equals Rust's
#   make header      regenerate ffi/include/wflo.h and its copy in the Go module
#   make install     libwflo from a release build: PREFIX (/usr/local)/lib/libwflo.{so,a},
#                    include/wflo.h, lib/pkgconfig/wflo.pc; DESTDIR, LIBDIR, INCLUDEDIR honoured
#   make lint        rustfmt and clippy, warnings as errors
#   make bench       wflo beside tiktoken, js-tiktoken, gpt-tokenizer, litellm, tokencost and
#                    LangGraph's savers, every face, as ratios: bench/RESULTS.md, bench/charts/
#   make bench-rust  criterion benchmarks and the Rust/C/Go probes, figures printed
#   make bench-python wflo from Python beside litellm, tokencost and tiktoken, figures printed
#   make soak        the fuzz targets (WFLO_FUZZ_SECONDS each, default 60), then the load soak:
#                    processes sharing one budget on SQLite and PostgreSQL (WFLO_SOAK_SECONDS
#                    per store, default 600); not part of `make test`
#
# Build caches live outside the checkout so a fresh clone reuses them (speed only: an empty
# cache works too). Override with WFLO_CACHE=/some/dir.

SHELL := /bin/bash
WFLO_CACHE ?= $(HOME)/.cache/wflo
export CARGO_TARGET_DIR ?= $(WFLO_CACHE)/target
export WFLO_CORPUS_DIR ?= $(WFLO_CACHE)/corpus
# Every face writes its ledger of tests/vectors/scenarios.json here; test-parity compares them.
export WFLO_PARITY_DIR ?= $(WFLO_CACHE)/parity
# The faces whose ledgers must equal Rust's.
PARITY_FACES := rust c go node python kotlin uniffi
CARGO ?= cargo
# Incremental state doubles the target dir and only pays when one crate is edited and rebuilt
# again and again; set CARGO_INCREMENTAL=1 for such a loop.
export CARGO_INCREMENTAL ?= 0

.PHONY: trim-cache parity-clean test-parity demo test test-rust test-mock test-report test-serve test-c test-go test-install install test-node test-python test-otel test-kotlin header lint bench bench-rust bench-python corpus build soak

WFLO_BIN := $(CARGO_TARGET_DIR)/debug/wflo
export WFLO_BIN

demo:
	$(CARGO) build -p wflo-cli
	$(WFLO_BIN) demo

test: trim-cache lint parity-clean test-rust test-mock test-report test-serve test-c test-go test-install test-node test-python test-otel test-kotlin test-parity

# The target dirs outlive clones; keep them from filling the disk (tests/tools/trim-cache.sh).
trim-cache:
	tests/tools/trim-cache.sh $(CARGO_TARGET_DIR)
	tests/tools/trim-cache.sh $(CARGO_TARGET_DIR)-lean 5

# A fresh folder for this run's ledgers, so a face that stopped writing one cannot pass on an old one.
parity-clean:
	rm -rf $(WFLO_PARITY_DIR) && mkdir -p $(WFLO_PARITY_DIR)

# The ledgers written by the suites above, compared byte for byte with Rust's; and the map of
# concepts across faces (docs/concepts.md) checked against the code.
test-parity:
	python3 tests/parity/compare.py $(WFLO_PARITY_DIR) $(PARITY_FACES)
	python3 tests/concepts/check.py

build:
	$(CARGO) build -p wflo-cli

# npm's cache (~/.npm) outlives a clone; the tests start their own mock servers.
test-node: build
	cd bindings/node && npm ci --no-audit --no-fund --prefer-offline --loglevel=error && \
		node scripts/build.cjs && npm test

# Maven's downloads are cached in $(WFLO_CACHE)/m2; every version is pinned.
test-kotlin: build
	WFLO_CACHE=$(WFLO_CACHE) bindings/kotlin/test.sh

PY_TESTS := bindings/python/tests

# The wheel is built and installed into a fresh virtual environment (the seed's examples run
# there), then into the two test environments: pytest runs against the installed package.
test-python: build
	$(PY_TESTS)/install_test.sh $(WFLO_CACHE)/wheels
	V=$$(tests/tools/venv.sh python $(PY_TESTS)/requirements.txt) && cd $(PY_TESTS) && \
		$$V/bin/python -m pytest -q -p no:cacheprovider --ignore=crewai --ignore=seed
	V=$$(tests/tools/venv.sh crewai $(PY_TESTS)/requirements-crewai.txt) && cd $(PY_TESTS)/crewai && \
		$$V/bin/python -m pytest -q -p no:cacheprovider < /dev/null

# The faces' builds are reused when current (the wheel of test-python, the addon of test-node),
# else built the same way; tests/otel/run.py says what it checks.
test-otel: build
	WFLO_CACHE=$(WFLO_CACHE) tests/otel/run.sh

test-mock: build
	V=$$(tests/tools/venv.sh mock tests/mock/requirements.txt) && $$V/bin/pytest -q tests/mock

test-report: build
	tests/report/install-chromium.sh
	python3 tests/report/test_report.py

# Debian's prometheus and chromium are installed when missing; the slow agent the browser
# watches is cli/examples/serve_feed.rs.
test-serve: build
	$(CARGO) build -p wflo-cli --example serve_feed
	tests/serve/install-prometheus.sh
	python3 tests/serve/test_prometheus.py
	tests/report/install-chromium.sh
	python3 tests/serve/test_browser.py

test-c:
	tests/c/run.sh

# The Go package finds libwflo with pkg-config. Here a wflo.pc for the debug build whose Libs
# names libwflo.a: a self-contained test binary, no library path to set.
# CGO_CPPFLAGS names the library built for Go's cache (ffi/cgo-stamp.sh says why).
GO_PC_DIR = $(WFLO_CACHE)/pkgconfig/debug
GO_ENV = PKG_CONFIG_PATH=$(GO_PC_DIR) CGO_CPPFLAGS="$$($(CURDIR)/ffi/cgo-stamp.sh $(CARGO_TARGET_DIR)/debug/libwflo.a)"
test-go: build
	$(CARGO) build -p wflo-ffi
	mkdir -p $(GO_PC_DIR) && ffi/wflo-pc.sh --static $(CARGO_TARGET_DIR)/debug $(CARGO_TARGET_DIR)/debug \
		$(CURDIR)/ffi/include > $(GO_PC_DIR)/wflo.pc.tmp && mv $(GO_PC_DIR)/wflo.pc.tmp $(GO_PC_DIR)/wflo.pc
	cd bindings/go && $(GO_ENV) go vet ./...
	cd bindings/go && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt would change these files"; exit 1; }
	cd bindings/go && $(GO_ENV) go test -race -count=1 ./...
	cd examples/go && $(GO_ENV) go run ./quick_tour && $(GO_ENV) go run ./locks_and_approvals

# libwflo for C, Go (pkg-config) and anything else that links a C library.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
# INSTALL_PROFILE=debug installs the debug build (test-install: the same files, laid out and
# linked the same way, without a second full build of every dependency in release).
INSTALL_PROFILE ?= release
install:
	$(CARGO) build $(if $(filter release,$(INSTALL_PROFILE)),--release) -p wflo-ffi
	PREFIX="$(PREFIX)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" DESTDIR="$(DESTDIR)" \
		ffi/install.sh $(CARGO_TARGET_DIR)/$(INSTALL_PROFILE)

# Installs into a temporary prefix (release build) and builds a Go module and C programs
# against it with PKG_CONFIG_PATH alone.
test-install:
	INSTALL_PROFILE=debug tests/install/run.sh

# The Go module carries its own copy (bindings/go/include), so it builds when fetched alone.
header:
	WFLO_BLESS=1 $(CARGO) test -q -p wflo-ffi --test header
	cp ffi/include/wflo.h bindings/go/include/wflo.h

# The store suites run against a real PostgreSQL that the script starts and stops.
# LiteLLM's published price file (from the litellm wheel) for the price-file tests.
test-rust:
	WFLO_LITELLM_JSON=$$(tests/prices/litellm-json.sh) WFLO_REQUIRE_LITELLM=1 WFLO_REQUIRE_POSTGRES=1 \
		tests/pg/with-postgres.sh $(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	# The lean build a C user may choose: libwflo without PostgreSQL (its own target dir, so
	# the full build's artifacts stay as they are).
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-lean $(CARGO) test -q -p wflo-core --no-default-features --features sqlite --lib
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-lean $(CARGO) build -q -p wflo-ffi --no-default-features --features sqlite
	$(CARGO) run -q -p wflo-core --example quick_tour
	python3 tests/readme_snippets.py

# Long: every fuzz target for WFLO_FUZZ_SECONDS (default 60; cargo fuzz on nightly), then two
# runs of WFLO_SOAK_SECONDS: calls/s, p50/p99, RSS per process and overspend per
# store, each run checked to the nano-USD (tests/soak/run.sh says what it checks).
soak:
	fuzz/run.sh $${WFLO_FUZZ_SECONDS:-60}
	tests/soak/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

corpus:
	@test -s $(WFLO_CORPUS_DIR)/prose.txt || python3 bench/corpus.py $(WFLO_CORPUS_DIR)

# Every contender built in release mode (bench/harness/build.py), the comparison packages in
# throwaway environments (bench/python/requirements.txt, bench/node/package-lock.json), run
# interleaved round by round by bench/run.py; PostgreSQL rows where a server can be started.
# BENCH_ARGS="--sections cost,startup --rounds 1" for a quick look (written to $(WFLO_CACHE)/bench/partial).
BENCH_ARGS ?=
bench: corpus
	V=$$(tests/tools/venv.sh bench bench/python/requirements.txt) && \
		if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
			tests/pg/with-postgres.sh $$V/bin/python bench/run.py $(BENCH_ARGS); \
		else \
			$$V/bin/python bench/run.py $(BENCH_ARGS); \
		fi

bench-rust: corpus
	$(CARGO) build --release -p wflo-core --example cold_start --example shared_bench
	@for i in 1 2 3 4 5; do $(CARGO_TARGET_DIR)/release/examples/cold_start; done
	$(CARGO) bench -p wflo-core
	# What telemetry costs a tracked call: HEAD against the commit before it (issue 15's goals).
	bench/telemetry_overhead.sh
	@rm -f $(WFLO_CACHE)/shared-bench.db*
	$(CARGO_TARGET_DIR)/release/examples/shared_bench $(WFLO_CACHE)/shared-bench.db 4 1 5
	tests/pg/with-postgres.sh sh -c '$(CARGO_TARGET_DIR)/release/examples/shared_bench "$$WFLO_TEST_POSTGRES_URL" 8 1 5'
	bench/tracked_call.sh

# A release wheel in its own environment beside litellm, tokencost and tiktoken.
bench-python:
	V=$$(tests/tools/venv.sh bench bench/python/requirements.txt) && rm -rf $(WFLO_CACHE)/wheels-release && \
		(cd bindings/python && $$V/bin/maturin build --release --quiet --out $(WFLO_CACHE)/wheels-release) && \
		$$V/bin/pip install --quiet --no-deps --force-reinstall $(WFLO_CACHE)/wheels-release/wflo-*.whl && \
		$$V/bin/python bench/python/bench.py
