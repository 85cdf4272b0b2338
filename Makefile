# samen: one Makefile for the daemon, the CLI, the tests and the demo.
#
#   make            build samend and samen (build/)
#   make deps       install missing Debian packages (as root), else print the line
#   make test       deps, then unit and system tests under ASan+UBSan
#   make demo       deps, build, run daemons on loopback with real entries
#   make SANITIZE=address,undefined   any build with sanitizers

PKGS      := libuv libzmq sqlite3 msgpack libsodium
# samen speaks ZMTP itself (cli/zmtp.c): it links only what proto/ needs.
# libzmq is the daemon's (and the bench tools').
CLI_PKGS  := msgpack libsodium
# libzmq3-dev is for samend and the bench tools; samen does not link it.
DEB_BUILD := pkg-config libuv1-dev libzmq3-dev libsqlite3-dev libmsgpack-dev \
             libsodium-dev
DEB_TEST  := libcmocka-dev python3 python3-pytest python3-zmq python3-msgpack \
             sqlite3 binutils python3-nacl $(DEB_FAULT)
# The fault harnesses (tests/torture, docs/reliability.md): cutfs is a FUSE
# file system; the disk-full tests mount ext4 images; the network ones
# use namespaces.
DEB_FAULT := libfuse3-dev fuse3 e2fsprogs mount util-linux iproute2 procps
DEB_PKGS  := $(DEB_BUILD) $(DEB_TEST)
# clang with libFuzzer and the sanitizer runtimes; llvm for symbolised reports.
DEB_FUZZ  := clang libclang-rt-dev llvm
# What `make deps` installs; `make fuzz` runs it with DEB_FUZZ.
DEPS_PKGS  = $(DEB_PKGS)

CC       ?= cc
BUILD    ?= build
SANITIZE ?=
OPT      ?= -O1

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Werror
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iproto -Ilib -Idaemon -Icli
CFLAGS   += -std=c11 -g $(OPT) $(WARN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   += $(PKG_LIBS) -lpthread
CLI_LIBS  = $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PROTO_SRC  := proto/util.c proto/error.c proto/wire.c proto/devid.c \
              proto/hlc.c proto/rid.c proto/keywrap.c proto/changeset.c \
              proto/ops.c proto/merge.c proto/sync.c
# Small helpers both programs share, which may read clocks and the
# environment (proto/ may not).
LIB_SRC    := lib/clock.c
# The store is one module in several files (daemon/store_int.h).
STORE_SRC  := daemon/store.c daemon/store_sql.c daemon/store_schema.c \
              daemon/store_box.c daemon/store_circle.c daemon/store_cs.c \
              daemon/store_merge.c daemon/store_replica.c daemon/store_vp.c \
              daemon/store_rk.c daemon/store_fresh.c daemon/store_record.c \
              daemon/store_peer.c
DAEMON_LIB := daemon/log.c daemon/conf.c $(STORE_SRC) daemon/zsock.c \
              daemon/index.c daemon/vault.c daemon/ctl.c daemon/api.c \
              daemon/peer.c daemon/beacon.c daemon/durable.c \
              daemon/pool.c daemon/testhook.c daemon/fdguard.c \
              daemon/trim.c
DAEMON_SRC := daemon/main.c $(DAEMON_LIB)
CLI_SRC    := cli/main.c cli/client.c cli/zmtp.c cli/reply.c cli/output.c \
              cli/cmd.c

# The store's tests, one per area of daemon/store*.c.
STORE_TESTS := test_store_db test_store_schema test_store_box \
               test_store_circle test_store_cs test_store_merge \
               test_store_replica test_store_vp test_store_record \
               test_store_peer
UNIT_TESTS := test_wire test_devid test_hlc test_rid test_keywrap \
              test_changeset test_ops test_merge $(STORE_TESTS) test_conf \
              test_index test_reply test_sync test_zmtp \
              test_client test_peer test_durable test_pool

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROTO_OBJ  := $(call obj,$(PROTO_SRC) $(LIB_SRC))
DAEMON_LIB_OBJ := $(call obj,$(DAEMON_LIB))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
CLI_OBJ    := $(call obj,$(CLI_SRC))
UNIT_BIN   := $(addprefix $(BUILD)/tests/unit/,$(UNIT_TESTS))
# Test tools that are not unit tests (tests/torture).
TOOL_BIN   := $(BUILD)/tests/torture/cutfs

.PHONY: all deps test unit system demo bench clean format check-format fuzz \
        torture soak
.DEFAULT_GOAL := all

all: $(BUILD)/samend $(BUILD)/samen

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/samend: $(DAEMON_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/samen: $(CLI_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) $^ $(CLI_LIBS) -o $@

# Unit tests may #include the module's .c to reach its statics; they link
# every proto object and the daemon's modules (not main.c), and drop the
# object of any module they include.  A test helper that several tests
# share (tests/unit/*.o, listed as a prerequisite below) is linked too.
$(BUILD)/tests/unit/%: tests/unit/%.c $(PROTO_OBJ) $(DAEMON_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< \
	    $(filter $(BUILD)/tests/unit/%.o,$^) \
	    $(filter-out $(shell sed -n 's|^#include "\.\./\.\./\(.*\)\.c"|$(BUILD)/\1.o|p' $<),$(PROTO_OBJ) $(DAEMON_LIB_OBJ)) \
	    $(LDLIBS) -lcmocka -o $@

# The store's tests share their world and helpers: store_fixture.c.
$(addprefix $(BUILD)/tests/unit/,$(STORE_TESTS)): \
    $(BUILD)/tests/unit/store_fixture.o

# cutfs: the power-cut file system of the fault harnesses, over libfuse3.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   = $(shell pkg-config --libs fuse3 2>/dev/null)
$(BUILD)/tests/torture/cutfs: tests/torture/cutfs.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(FUSE_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< \
	    $(FUSE_LIBS) -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Dependencies: install what is missing when root, else say exactly what to run.
deps:
	@missing=""; for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	else \
	  echo "make deps: missing packages. Run as root:"; \
	  echo "  apt-get install -y$$missing"; exit 1; \
	fi

# Tests always build with sanitizers, in a tree of their own.
TEST_BUILD := build/test
# The fuzz targets' regressions and seeds are replayed too (clang): an input
# that once crashed a decoder stays a test.
# A samend without sanitizers too, for what ASan hides (the memory glibc
# keeps: tests/system/test_memory.py).
PLAIN_BUILD := build/test-plain
test:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_PKGS) $(DEB_FUZZ)"
	@$(MAKE) --no-print-directory fuzz-build fuzz-seeds
	@$(MAKE) --no-print-directory BUILD=$(PLAIN_BUILD) SANITIZE= \
	    $(PLAIN_BUILD)/samend
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TARGETS="$(FUZZ_TARGETS)" \
	    $(MAKE) --no-print-directory BUILD=$(TEST_BUILD) \
	    SANITIZE=address,undefined run-tests

run-tests: all $(UNIT_BIN) $(TOOL_BIN)
	@tests/run-tests.sh $(BUILD)

unit: deps
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=address,undefined all $(addprefix $(TEST_BUILD)/tests/unit/,$(UNIT_TESTS))
	@tests/run-tests.sh $(TEST_BUILD) unit

demo: deps all
	@tests/demo.sh $(BUILD)
	@tests/demo-sync.sh $(BUILD)

clean:
	rm -rf build

format:
	clang-format -i $(PROTO_SRC) $(DAEMON_SRC) $(CLI_SRC) proto/*.h daemon/*.h cli/*.h

# ---- torture: the long fault-injection runs (docs/reliability.md) ----------
#   make torture            every harness, long: power cuts (ROUNDS=100),
#                           disk full, descriptors, network faults
#   make torture ROUNDS=20 ONLY=powercut   one harness, fewer rounds
#   make soak DURATION=1h   5 daemons for an hour, a table every minute
# As root (mounts, namespaces); the sanitizer build of make test.
ROUNDS   ?= 100
NETEM_S  ?= 180
DURATION ?= 15m

torture:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) \
	    SANITIZE=address,undefined all $(TEST_BUILD)/tests/torture/cutfs
	@cd tests/torture && SAMEN_BUILD=$(CURDIR)/$(TEST_BUILD) \
	    ROUNDS=$(ROUNDS) NETEM_S=$(NETEM_S) \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    /usr/bin/python3 -m pytest -p no:cacheprovider -v -s -rfE \
	    --tb=short $(if $(ONLY),-k "$(ONLY)") test_torture.py
SOAK_BUILD := build/soak
soak:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory BUILD=$(SOAK_BUILD) OPT=-O2 SANITIZE= all
	@/usr/bin/python3 tests/torture/soak.py --build $(SOAK_BUILD) \
	    --duration $(DURATION) $(if $(SOAK_ARGS),$(SOAK_ARGS))
# ---- end torture --------------------------------------------------------------

# ---- fuzz: libFuzzer targets (tests/fuzz/README.md) -------------------------
#   make fuzz           deps, build, seeds, replay the regressions and seeds,
#                       then fuzz each target FUZZ_TIME seconds, FUZZ_PAR at
#                       a time; crash inputs land in tests/fuzz/regress/T/
#   make fuzz-build     the targets and mkseeds, in build/fuzz/ (clang)
#   make fuzz-regress   replay tests/fuzz/regress/ and the seeds: seconds
# Always clang, sanitizers and build/fuzz/, whatever CC, SANITIZE and BUILD say.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_TIME    ?= 60
FUZZ_PAR     ?= 1
FUZZ_TARGETS := header payload ops wire changeset sync zmtp
FUZZ_PROTO   := util error wire devid hlc rid keywrap changeset ops merge \
                sync
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iproto \
                 -Icli -Itests/fuzz
FUZZ_CFLAGS  := -std=c11 -g -O1 $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_PKG_CFLAGS = $(shell pkg-config --cflags msgpack libsodium 2>/dev/null)
FUZZ_LIBS    = $(shell pkg-config --libs msgpack libsodium 2>/dev/null)
FUZZ_OBJ     := $(patsubst %,$(FUZZ_BUILD)/obj/proto/%.o,$(FUZZ_PROTO)) \
                $(FUZZ_BUILD)/obj/cli/zmtp.o \
                $(FUZZ_BUILD)/obj/tests/fuzz/fixture.o
FUZZ_BIN     := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))

.PHONY: fuzz-build fuzz-seeds fuzz-regress fuzz-deps
# Keep the targets' objects: make would delete them as intermediate files.
.SECONDARY: $(patsubst %,$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_PKG_CFLAGS) $(FUZZ_CFLAGS) -MMD -MP \
	    -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(FUZZ_LIBS) -o $@

$(FUZZ_BUILD)/mkseeds: $(FUZZ_BUILD)/obj/tests/fuzz/mkseeds.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) $^ $(FUZZ_LIBS) -o $@

fuzz-build: $(FUZZ_BIN) $(FUZZ_BUILD)/mkseeds

fuzz-seeds: $(FUZZ_BUILD)/mkseeds
	@$(FUZZ_BUILD)/mkseeds $(FUZZ_BUILD)/corpus

fuzz-regress: fuzz-build fuzz-seeds
	@tests/fuzz/run.sh regress $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_BUILD) $(DEB_FUZZ)"

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-regress
	@tests/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ_PAR) $(FUZZ_TARGETS)
# ---- end fuzz ---------------------------------------------------------------

# ---- bench: benchmarks (bench/README.md, results in docs/performance.md) ----
#   make bench             deps, an -O2 build without sanitizers in
#                          build/bench, then every scenario at quick sizes
#                          (under 10 minutes on 2 cores)
#   make bench N=full      the full sizes of the issue
#   make bench ONLY=limits,entry   some scenarios only (bench/bench.py -h)
#   make bench PERF=1      also profile the busy daemon with perf
#   make bench-build       the binaries only: samend, samen, bench tools
# Each scenario prints one JSON line, one line for a person and the command
# that reproduces it; nothing is asserted.  Always build/bench, -O2, no
# sanitizers, whatever BUILD, OPT and SANITIZE say.
BENCH_BUILD := build/bench
BENCH_TOOLS := gen limits ctlbench storm probe
DEB_BENCH   := python3 python3-zmq python3-msgpack linux-perf valgrind tcpdump \
               iproute2
N           ?= quick

.PHONY: bench-build bench-tools bench-deps

bench: bench-deps
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) OPT=-O2 SANITIZE= \
	    bench-tools
	@/usr/bin/python3 bench/bench.py --build $(BENCH_BUILD) --size $(N) \
	    $(if $(ONLY),--only $(ONLY)) $(if $(PERF),--perf)

bench-build:
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) OPT=-O2 SANITIZE= \
	    bench-tools

bench-tools: all $(addprefix $(BUILD)/bench/,$(BENCH_TOOLS))

# gen and storm link the daemon's modules (not main.c) for the store; the
# others only the proto objects.
BENCH_STORE := gen storm
$(addprefix $(BUILD)/bench/,$(BENCH_STORE)): $(BUILD)/bench/%: bench/%.c \
    $(PROTO_OBJ) $(DAEMON_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< \
	    $(PROTO_OBJ) $(DAEMON_LIB_OBJ) $(LDLIBS) -o $@

$(addprefix $(BUILD)/bench/,$(filter-out $(BENCH_STORE),$(BENCH_TOOLS))): \
    $(BUILD)/bench/%: bench/%.c $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< \
	    $(PROTO_OBJ) $(LDLIBS) -o $@

bench-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_BUILD) $(DEB_BENCH)"
# ---- end bench --------------------------------------------------------------
