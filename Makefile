# Makefile - the README's commands. CMake does the building; this file only
# checks the Debian packages, picks the build directories and runs things.
#
#   make run     build, then serve on http://127.0.0.1:8080 (SQLite in ./data)
#   make demo    build, then load a sample business into the database
#   make test    unit + API tests on SQLite and PostgreSQL, ASan+UBSan, fuzz
#   make fuzz    every fuzzer for FUZZ_TIME (60) seconds
#   make bench   load the server with wrk (see docs/performance.md)
#
# The server reads its settings from the environment (MUNSHI_DB, DATABASE_URL,
# MUNSHI_PORT, ...); nothing here sets them, so they pass through unchanged.

SHELL := /bin/sh
NPROC := $(shell nproc 2>/dev/null || echo 2)

BUILD_PKGS := gcc make cmake pkg-config libmicrohttpd-dev libsqlite3-dev \
              libpq-dev libsodium-dev libssl-dev libcmocka-dev \
              libcurl4-openssl-dev libutf8proc-dev libwslay-dev tzdata \
              libcairo2-dev libpango1.0-dev libqrencode-dev fonts-noto-core
TEST_PKGS  := postgresql postgresql-contrib postgresql-common clang curl \
              libclang-rt-14-dev sqlite3 chromium fonts-lohit-deva \
              poppler-utils zbar-tools
BENCH_PKGS := wrk curl postgresql postgresql-common sqlite3

# $(call ensure_pkgs,PACKAGES[,COMMANDS]): installs the packages that
# dpkg-query does not report as installed (and nodejs/npm when one of the
# COMMANDS is not on PATH). As root it runs apt-get; otherwise it prints the
# one line to run and fails. Each deps-* target checks everything its command
# needs at once, so a user without root gets a single apt-get line.
define ensure_pkgs
missing=""; \
for p in $(1); do \
  dpkg-query -W -f='$${db:Status-Status}' "$$p" 2>/dev/null | grep -qx installed \
    || missing="$$missing $$p"; \
done; \
for c in $(2); do \
  command -v "$$c" >/dev/null 2>&1 || { missing="$$missing nodejs npm"; break; }; \
done; \
if [ -z "$$missing" ]; then exit 0; fi; \
if [ "$$(id -u)" = 0 ]; then \
  echo "installing:$$missing"; \
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
else \
  echo "munshi needs these Debian packages:$$missing"; \
  echo "run:  sudo apt-get install -y$$missing"; \
  exit 1; \
fi
endef

.PHONY: all deps deps-build deps-test deps-bench build run demo test bench \
        fuzz format clean

all: build

deps: deps-build deps-test deps-bench

# node and npm: the build installs supabase-js for the dashboard (web/vendor).
deps-build:
	@$(call ensure_pkgs,$(BUILD_PKGS),node npm)

deps-test:
	@$(call ensure_pkgs,$(BUILD_PKGS) $(TEST_PKGS),node npm)

deps-bench:
	@$(call ensure_pkgs,$(BUILD_PKGS) $(BENCH_PKGS),node npm)

build: deps-build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j$(NPROC)

# exec: the server replaces the shell, so Ctrl-C and signals reach it.
run: build
	mkdir -p data
	exec ./build/munshi serve

# The sample business (products, customers in two states, invoices,
# payments) in the database the server uses; `make run` then serves it.
demo: build
	mkdir -p data
	./build/munshi demo

# Three builds, one throw-away PostgreSQL cluster for all of their tests.
# Every suite runs even when an earlier one failed; the last line adds up the
# CTest summaries and the exit status is non-zero if anything failed.
test: deps-test
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j$(NPROC)
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMUNSHI_SANITIZE=ON
	cmake --build build-asan -j$(NPROC)
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMUNSHI_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j$(NPROC) --target fuzzers
	cd tests/api && { [ -d node_modules ] || npm ci --no-audit --no-fund; }
	cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund; }
	tests/with-pg.sh sh -c '\
	  rc=0; \
	  ctest --test-dir build --output-on-failure 2>&1 | tee build/ctest.log; \
	  ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure 2>&1 | tee build-asan/ctest.log; \
	  ctest --test-dir build-fuzz -R fuzz --output-on-failure 2>&1 | tee build-fuzz/ctest.log; \
	  echo; echo "== CTest summaries =="; passed=0; failed=0; \
	  for d in build build-asan build-fuzz; do \
	    line=$$(grep -E "tests passed, [0-9]+ tests failed out of" $$d/ctest.log | tail -n 1); \
	    if [ -z "$$line" ]; then line="no CTest summary: no tests ran"; rc=1; failed=$$((failed + 1)); fi; \
	    printf "%-11s %s\n" "$$d:" "$$line"; \
	    f=$$(echo "$$line" | sed -n "s/.* \([0-9][0-9]*\) tests failed out of \([0-9][0-9]*\).*/\1/p"); \
	    n=$$(echo "$$line" | sed -n "s/.* tests failed out of \([0-9][0-9]*\).*/\1/p"); \
	    if [ -n "$$n" ]; then passed=$$((passed + n - f)); failed=$$((failed + f)); [ "$$f" = 0 ] || rc=1; fi; \
	  done; \
	  echo "total: $$passed passed, $$failed failed"; \
	  exit $$rc'

bench: deps-bench build
	bench/run.sh

# A longer fuzzing session than the one in `make test`: every fuzzer for
# FUZZ_TIME seconds. New inputs go to build-fuzz/corpus_NAME and crashes to
# build-fuzz/crash-*; the checked-in corpora under tests/fuzz are only read.
FUZZ_TIME ?= 60

fuzz: deps-test
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMUNSHI_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j$(NPROC) --target fuzzers
	set -e; for src in tests/fuzz/fuzz_*.c; do \
	  name=$$(basename $$src .c); short=$${name#fuzz_}; \
	  mkdir -p build-fuzz/corpus_$$short; \
	  echo "== $$name for $(FUZZ_TIME) s"; \
	  ./build-fuzz/$$name -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus_$$short \
	    tests/fuzz/corpus_$$short; \
	done

format:
	@$(call ensure_pkgs,clang-format)
	find src tests -name '*.[ch]' -not -path '*/node_modules/*' \
	  | xargs -r clang-format -i

clean:
	rm -rf build build-asan build-fuzz
