# samen: one Makefile for the daemon, the CLI, the tests and the demo.
#
#   make            build samend and samen (build/)
#   make deps       install missing Debian packages (as root), else print the line
#   make test       deps, then unit and system tests under ASan+UBSan
#   make demo       deps, build, run daemons on loopback with real entries
#                   (one device; three syncing through a hub; a purge)
#   make install    PREFIX=/usr/local, DESTDIR; make uninstall; make deb
#   make SANITIZE=address,undefined   any build with sanitizers

PKGS      := libuv libzmq sqlite3 msgpack libsodium
# samen speaks ZMTP itself (cli/zmtp.c): it links only what proto/ needs.
# libzmq is the daemon's (and the bench tools').
CLI_PKGS  := msgpack libsodium
# libzmq3-dev is for samend and the bench tools; samen does not link it.
DEB_BUILD := pkg-config libuv1-dev libzmq3-dev libsqlite3-dev libmsgpack-dev \
             libsodium-dev
# make deb: dpkg-shlibdeps for the dependencies, lintian for the check.
DEB_DEB   := dpkg-dev lintian
# The fault harnesses (tests/torture, docs/reliability.md): cutfs is a FUSE
# file system; the disk-full tests mount ext4 images; the network ones
# use namespaces.
DEB_FAULT := libfuse3-dev fuse3 e2fsprogs mount util-linux iproute2 procps
DEB_TEST  := libcmocka-dev python3 python3-pytest python3-zmq python3-msgpack \
             sqlite3 binutils python3-nacl $(DEB_FAULT)
# Runs the system tests side by side, a process per CPU up to 4
# (tests/run-tests.sh).
DEB_TEST  += python3-pytest-xdist
# What the packaging tests use: man page lint and rendering, the metrics
# parser, the unit file's check, and the deb's tools (see DEB_DEB).
DEB_TEST  += mandoc man-db python3-prometheus-client systemd $(DEB_DEB)
# The resident's page of samen export --subject is rendered in headless
# Chromium (tests/system/test_export.py).
DEB_TEST  += chromium
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
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
# Each part sees only the headers it may use, so that a cli/ file that
# includes a daemon/ header (or proto/ one of lib/) does not build: proto/
# its own; lib/ proto's too; the daemon and the CLI their own beside both.
PROTO_INC  := -Iproto
LIB_INC    := -Iproto -Ilib
DAEMON_INC := -Iproto -Ilib -Idaemon
CLI_INC    := -Iproto -Ilib -Icli
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
              proto/ops.c proto/merge.c proto/sync.c proto/request.c \
              proto/roster.c proto/roster_parse.c proto/roster_graph.c \
              proto/roster_apply.c proto/roster_rules.c proto/roster_state.c \
              proto/audit.c
# Small helpers both programs share, which may read clocks and the
# environment (proto/ may not).
LIB_SRC    := lib/clock.c lib/datadir.c
# The store is one module in several files (daemon/store_int.h).
STORE_SRC  := daemon/store.c daemon/store_sql.c daemon/store_schema.c \
              daemon/store_box.c daemon/store_circle.c daemon/store_cs.c \
              daemon/store_merge.c daemon/store_replica.c daemon/store_vp.c \
              daemon/store_rk.c daemon/store_fresh.c daemon/store_record.c \
              daemon/store_peer.c daemon/store_cut.c daemon/store_erase.c \
              daemon/store_journal.c
DAEMON_LIB := daemon/log.c daemon/conf.c $(STORE_SRC) daemon/zsock.c \
              daemon/index.c daemon/vault.c daemon/ctl.c daemon/ctl_records.c \
              daemon/ctl_circles.c daemon/ctl_peers.c daemon/ctl_admin.c \
              daemon/render.c daemon/circle.c daemon/writer.c \
              daemon/loader.c daemon/api.c \
              daemon/peer.c daemon/link.c daemon/zap.c daemon/session.c \
              daemon/intake.c daemon/zmsg.c \
              daemon/beacon.c daemon/durable.c daemon/pool.c \
              daemon/testhook.c daemon/ckpt.c daemon/fdguard.c \
              daemon/trim.c
# Export and import (issue 26); trail is where the read audit plugs in.
DAEMON_LIB += daemon/ctl_bulk.c daemon/trail.c daemon/trail_query.c
# Packaging (issue 27): sd_notify, the metrics registry and its file.
DAEMON_LIB += daemon/notify.c daemon/metrics.c daemon/metricsfile.c
# The trust lifecycle (issue 24): the key code, and writing roster ops.
DAEMON_LIB += daemon/keyring.c daemon/circle_ops.c
# Exile sessions and departures (issue 24).
DAEMON_LIB += daemon/circle_exile.c daemon/depart.c
# Erasure (issue 25): purges and retention in the membership layer.
DAEMON_LIB += daemon/circle_purge.c
DAEMON_SRC := daemon/main.c $(DAEMON_LIB)
CLI_LIB    := cli/client.c cli/zmtp.c cli/reply.c cli/cmd.c \
              cli/argcheck.c cli/passphrase.c cli/keyfile.c cli/help.c \
              cli/cmd_device.c cli/cmd_record.c cli/cmd_peer.c \
              cli/cmd_circle.c cli/cmd_bulk.c cli/csv.c cli/subject.c
# The human forms: output.c, and a renderer per subject on it.
CLI_LIB    += cli/output.c cli/output_records.c cli/output_sync.c \
              cli/output_circles.c
CLI_SRC    := cli/main.c $(CLI_LIB)

# The store's tests, one per area of daemon/store*.c.
STORE_TESTS := test_store_db test_store_schema test_store_box \
               test_store_circle test_store_cs test_store_merge \
               test_store_replica test_store_vp test_store_record \
               test_store_peer test_store_cut test_store_erase
# The roster's tests, one per part of proto/roster*.c (roster_int.h).
ROSTER_TESTS := test_roster test_roster_graph test_roster_parse
# Unit tests of cli/ and lib/ build as cli/ does, without daemon/.
UNIT_CLI   := test_reply test_zmtp test_client test_argcheck test_datadir \
              test_passphrase test_keyfile test_csv
UNIT_DAEMON := test_wire test_devid test_hlc test_rid test_keywrap \
              test_changeset test_ops test_merge $(STORE_TESTS) test_conf \
              test_index test_sync test_sync_ids test_peer test_durable \
              test_pool test_zap test_notify test_metrics test_metricsfile \
              test_request test_circle $(ROSTER_TESTS) test_keyring test_lock \
              test_audit test_trail test_circle_purge
UNIT_TESTS := $(UNIT_DAEMON) $(UNIT_CLI)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROTO_OBJ  := $(call obj,$(PROTO_SRC) $(LIB_SRC))
DAEMON_LIB_OBJ := $(call obj,$(DAEMON_LIB))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
CLI_LIB_OBJ := $(call obj,$(CLI_LIB))
CLI_OBJ    := $(call obj,$(CLI_SRC))
UNIT_BIN   := $(addprefix $(BUILD)/tests/unit/,$(UNIT_TESTS))
# Test tools that are not unit tests (tests/torture).
TOOL_BIN   := $(BUILD)/tests/torture/cutfs

.PHONY: all deps test run-tests unit system demo bench clean fuzz torture \
        soak
.DEFAULT_GOAL := all

all: $(BUILD)/samend $(BUILD)/samen

$(BUILD)/proto/%.o: INC := $(PROTO_INC)
$(BUILD)/lib/%.o: INC := $(LIB_INC)
$(BUILD)/daemon/%.o: INC := $(DAEMON_INC)
$(BUILD)/cli/%.o: INC := $(CLI_INC)
# Helpers that several unit tests of the daemon share (tests/unit/*.o).
$(BUILD)/tests/%.o: INC := $(DAEMON_INC)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/samend: $(DAEMON_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/samen: $(CLI_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) $^ $(CLI_LIBS) -o $@

# Unit tests may #include the module's .c to reach its statics; they link
# the proto and lib objects and their side's modules (not main.c), and drop
# the object of any module they include.  A helper object that several
# tests share (tests/unit/*.o, given as a prerequisite) is linked too.
# $(call unit_link,INC,OBJS,LIBS)
unit_link = $(CC) $(CPPFLAGS) $(1) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -MMD -MP $< $(filter $(BUILD)/tests/unit/%.o,$^) \
	    $(filter-out $(shell sed -n \
	    's|^\#include "\.\./\.\./\(.*\)\.c"|$(BUILD)/\1.o|p' $<),$(2)) \
	    $(3) -lcmocka -o $@

$(addprefix $(BUILD)/tests/unit/,$(UNIT_DAEMON)): $(BUILD)/tests/unit/%: \
    tests/unit/%.c $(PROTO_OBJ) $(DAEMON_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call unit_link,$(DAEMON_INC),$(PROTO_OBJ) $(DAEMON_LIB_OBJ),$(LDLIBS))

$(addprefix $(BUILD)/tests/unit/,$(UNIT_CLI)): $(BUILD)/tests/unit/%: \
    tests/unit/%.c $(PROTO_OBJ) $(CLI_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call unit_link,$(CLI_INC),$(PROTO_OBJ) $(CLI_LIB_OBJ),$(CLI_LIBS))

# The store's tests share their world and helpers: store_fixture.c.
$(addprefix $(BUILD)/tests/unit/,$(STORE_TESTS)): \
    $(BUILD)/tests/unit/store_fixture.o
# The roster's share their devices and scenarios: roster_fixture.c.
$(addprefix $(BUILD)/tests/unit/,$(ROSTER_TESTS)): \
    $(BUILD)/tests/unit/roster_fixture.o
# Tests of several devices in one process share circle_fixture.c.
CIRCLE_TESTS := test_circle test_trail
$(addprefix $(BUILD)/tests/unit/,$(CIRCLE_TESTS)): \
    $(BUILD)/tests/unit/circle_fixture.o

# Small programs the system tests run (tests/helpers/), linked as the unit
# tests are.
HELPERS    := metricsdump
HELPER_BIN := $(addprefix $(BUILD)/tests/helpers/,$(HELPERS))
$(BUILD)/tests/helpers/%: tests/helpers/%.c $(PROTO_OBJ) $(DAEMON_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DAEMON_INC) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -MMD -MP $< $(PROTO_OBJ) $(DAEMON_LIB_OBJ) $(LDLIBS) -o $@

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

run-tests: all $(UNIT_BIN) $(HELPER_BIN) $(TOOL_BIN)
	@tests/run-tests.sh $(BUILD)

unit: deps
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=address,undefined all $(addprefix $(TEST_BUILD)/tests/unit/,$(UNIT_TESTS))
	@tests/run-tests.sh $(TEST_BUILD) unit

system: deps
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=address,undefined all
	@tests/run-tests.sh $(TEST_BUILD) system

demo: deps all
	@tests/demo.sh $(BUILD)
	@tests/demo-sync.sh $(BUILD)
	@tests/demo-purge.sh $(BUILD)
	@tests/demo-clock.sh $(BUILD)

clean:
	rm -rf build samen_*.deb

# ---- install: man pages, make install, make uninstall, make deb ------------
#   make man                 the man pages, in BUILD/man
#   make conf-example        conf/samen.conf, written from daemon/conf.c
#   make install [PREFIX=/usr/local] [DESTDIR=]   samen, samend, the man
#                pages, the bash completion, the systemd user unit (with
#                the installed path of samend), the example config, the docs
#   make uninstall [PREFIX=...] [DESTDIR=]        exactly those files
#   make deb [DEB_OUT=.]     samen_VERSION_ARCH.deb from a staged install of
#                an -O2 hardened build in build/deb, checked by lintian

# man/confdoc writes samen.conf(5)'s options and the example file from
# conf.c's table, so that neither can drift from what samend parses.
CONFDOC      := $(BUILD)/man/confdoc
MAN_PAGES    := $(BUILD)/man/samen.1 $(BUILD)/man/samend.8 \
                $(BUILD)/man/samen.conf.5
EXAMPLE_CONF := $(BUILD)/samen.conf

.PHONY: man conf-example

# The system tests read the pages and the example file (test_install.py).
run-tests: $(MAN_PAGES) $(EXAMPLE_CONF)

$(CONFDOC): man/confdoc.c $(BUILD)/daemon/conf.o $(BUILD)/daemon/log.o \
    $(BUILD)/lib/clock.o \
    $(BUILD)/proto/util.o
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DAEMON_INC) $(CFLAGS) $(LDFLAGS) $^ -o $@

$(BUILD)/man/samen.1 $(BUILD)/man/samend.8: $(BUILD)/man/%: man/%
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/man/samen.conf.5: man/samen.conf.5.in $(CONFDOC)
	$(CONFDOC) man $< >$@.tmp && mv $@.tmp $@

$(EXAMPLE_CONF): $(CONFDOC)
	$(CONFDOC) conf >$@.tmp && mv $@.tmp $@

man: $(MAN_PAGES)

conf-example: $(EXAMPLE_CONF)
	cp $(EXAMPLE_CONF) conf/samen.conf

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/samen
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
DOCS        := README.md docs/cli.md docs/api.md docs/design.md \
               docs/sync.md docs/metrics.md docs/performance.md

# Every file install puts down, for install and uninstall alike.
INSTALLED   := $(BINDIR)/samen $(BINDIR)/samend \
               $(MANDIR)/man1/samen.1 $(MANDIR)/man8/samend.8 \
               $(MANDIR)/man5/samen.conf.5 $(BASHCOMPDIR)/samen \
               $(USERUNITDIR)/samend.service $(DOCDIR)/examples/samen.conf \
               $(addprefix $(DOCDIR)/,$(notdir $(DOCS)))

.PHONY: install uninstall

# The unit is written here, from its template, with samend's real path.
install: all $(MAN_PAGES) $(EXAMPLE_CONF)
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(USERUNITDIR) \
	    $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BUILD)/samen $(BUILD)/samend $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BUILD)/man/samen.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/samen.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/man/samend.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 conf/samen.bash $(DESTDIR)$(BASHCOMPDIR)/samen
	sed 's|@BINDIR@|$(BINDIR)|g' conf/samend.service.in \
	    >$(DESTDIR)$(USERUNITDIR)/samend.service
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/samend.service
	install -m 0644 $(EXAMPLE_CONF) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

# Only what install put down, and the directories that are samen's own.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

# The package is built from its own tree, build/deb: -O2, no sanitizers,
# Debian's hardening flags, whatever BUILD, OPT and SANITIZE say.
# deb-package is its second half, run in that tree.
VERSION      := $(shell sed -n 's/^\#define SAMEN_VERSION "\(.*\)"/\1/p' \
                  proto/version.h)
DEB_BUILDDIR := build/deb
DEB_OUT      ?= .
DEB_HARDEN   := DEB_BUILD_MAINT_OPTIONS=hardening=+all

.PHONY: deb deb-package

deb:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_BUILD) $(DEB_DEB)"
	@CFLAGS="$$($(DEB_HARDEN) dpkg-buildflags --get CFLAGS)" \
	    CPPFLAGS="$$($(DEB_HARDEN) dpkg-buildflags --get CPPFLAGS)" \
	    LDFLAGS="$$($(DEB_HARDEN) dpkg-buildflags --get LDFLAGS)" \
	    $(MAKE) --no-print-directory BUILD=$(DEB_BUILDDIR) OPT=-O2 \
	    SANITIZE= deb-package

deb-package: all $(MAN_PAGES) $(EXAMPLE_CONF)
	@rm -rf $(BUILD)/root
	@$(MAKE) --no-print-directory -s install PREFIX=/usr \
	    DESTDIR=$(CURDIR)/$(BUILD)/root
	@dist/mkdeb.sh $(BUILD)/root $(VERSION) $(DEB_OUT)
# ---- end install ------------------------------------------------------------

# ---- torture: the long fault-injection runs (docs/reliability.md) ----------
#   make torture            every harness, long: power cuts (ROUNDS=100),
#                           power cuts during purges (ROUNDS), disk
#                           full, descriptors, network faults
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
#                       a time (nice -n FUZZ_NICE), from the seeds and the
#                       kept corpus; crash inputs land in tests/fuzz/regress/T/
#                       FUZZ_CPU=S stops a target once it has had S seconds
#                       of CPU (FUZZ_TIME then only caps the wall time)
#   make fuzz-build     the targets and mkseeds, in build/fuzz/ (clang)
#   make fuzz-regress   replay tests/fuzz/regress/, the seeds and the kept
#                       corpus tests/fuzz/corpus/: seconds
#   make fuzz-keep      minimise tests/fuzz/corpus/T and build/fuzz/corpus/T
#                       into a new tests/fuzz/corpus/T (commit it)
# Always clang, sanitizers and build/fuzz/, whatever CC, SANITIZE and BUILD say.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_TIME    ?= 60
FUZZ_PAR     ?= 1
# The targets' niceness: 19 where they share the machine with other work.
FUZZ_NICE    ?= 0
# A target's CPU seconds; empty: FUZZ_TIME of wall time is the only limit.
FUZZ_CPU     ?=
FUZZ_TARGETS := header payload ops wire changeset sync zmtp request keyring \
                conf roster csv audit
FUZZ_PROTO   := util error wire devid hlc rid keywrap changeset ops merge \
                sync request roster roster_parse roster_graph roster_apply \
                roster_rules roster_state audit
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iproto \
                 -Ilib -Icli -Idaemon -Itests/fuzz
FUZZ_CFLAGS  := -std=c11 -g -O1 $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_PKG_CFLAGS = $(shell pkg-config --cflags msgpack libsodium 2>/dev/null)
FUZZ_LIBS    = $(shell pkg-config --libs msgpack libsodium 2>/dev/null)
FUZZ_OBJ     := $(patsubst %,$(FUZZ_BUILD)/obj/proto/%.o,$(FUZZ_PROTO)) \
                $(FUZZ_BUILD)/obj/cli/zmtp.o $(FUZZ_BUILD)/obj/cli/csv.o \
                $(FUZZ_BUILD)/obj/tests/fuzz/fixture.o
FUZZ_BIN     := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))

.PHONY: fuzz-build fuzz-seeds fuzz-regress fuzz-deps fuzz-keep
# The config parser is the daemon's: fuzz_conf links it (and its logging).
FUZZ_CONF_OBJ := $(FUZZ_BUILD)/obj/daemon/conf.o $(FUZZ_BUILD)/obj/daemon/log.o \
                 $(FUZZ_BUILD)/obj/lib/clock.o
# So is the key code: fuzz_keyring and mkseeds link it.
FUZZ_KEYRING_OBJ := $(FUZZ_BUILD)/obj/daemon/keyring.o
# Keep the targets' objects: make would delete them as intermediate files.
.SECONDARY: $(patsubst %,$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS)) \
    $(FUZZ_CONF_OBJ) $(FUZZ_KEYRING_OBJ)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_PKG_CFLAGS) $(FUZZ_CFLAGS) -MMD -MP \
	    -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(FUZZ_LIBS) -o $@

$(FUZZ_BUILD)/fuzz_conf: $(FUZZ_CONF_OBJ)
$(FUZZ_BUILD)/fuzz_keyring: $(FUZZ_KEYRING_OBJ)

$(FUZZ_BUILD)/mkseeds: $(FUZZ_BUILD)/obj/tests/fuzz/mkseeds.o $(FUZZ_OBJ) \
    $(FUZZ_KEYRING_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) $^ $(FUZZ_LIBS) -o $@

fuzz-build: $(FUZZ_BIN) $(FUZZ_BUILD)/mkseeds

fuzz-seeds: $(FUZZ_BUILD)/mkseeds
	@$(FUZZ_BUILD)/mkseeds $(FUZZ_BUILD)/corpus

fuzz-regress: fuzz-build fuzz-seeds
	@tests/fuzz/run.sh regress $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-keep: fuzz-build fuzz-seeds
	@tests/fuzz/run.sh keep $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_BUILD) $(DEB_FUZZ)"

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-regress
	@FUZZ_NICE=$(FUZZ_NICE) FUZZ_CPU=$(FUZZ_CPU) tests/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_TIME) \
	    $(FUZZ_PAR) $(FUZZ_TARGETS)
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

# gen and storm link the daemon's modules (not main.c) for the store, and
# see the daemon's headers; the others only the proto and lib objects.
BENCH_STORE := gen storm
$(addprefix $(BUILD)/bench/,$(BENCH_STORE)): $(BUILD)/bench/%: bench/%.c \
    $(PROTO_OBJ) $(DAEMON_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DAEMON_INC) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -MMD -MP $< $(PROTO_OBJ) $(DAEMON_LIB_OBJ) $(LDLIBS) -o $@

$(addprefix $(BUILD)/bench/,$(filter-out $(BENCH_STORE),$(BENCH_TOOLS))): \
    $(BUILD)/bench/%: bench/%.c $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_INC) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -MMD -MP $< $(PROTO_OBJ) $(LDLIBS) -o $@

bench-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(DEB_BUILD) $(DEB_BENCH)"
# ---- end bench --------------------------------------------------------------
