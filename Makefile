# FlyTrap: build, test and demo. `make run` and `make test` install what
# they need themselves (scripts/deps.sh).

BUILD ?= build
CC ?= cc
PREFIX ?= /usr/local

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) \
	-Icommon $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = -Wl,--as-needed $(LDFLAGS) $(EXTRA_LDFLAGS)

COMMON_SRCS := $(sort $(wildcard common/*.c))
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)
LIBCOMMON := $(BUILD)/libflytrap.a

# Libraries per program: proxyd links neither sqlite nor libcurl nor
# libsecp256k1 (it holds no keys and verifies nothing itself).
LIBS_proxyd := -lev -lmsgpackc -linih
LIBS_authd := -lev -lmsgpackc -lsecp256k1 -lcrypto -linih -lmaxminddb \
	-ljansson
LIBS_chaind := -lev -lmsgpackc -lcurl -ljansson -lsqlite3 -lsecp256k1 \
	-lcrypto -linih -lmicrohttpd
# reportd: sqlite, and no network library at all.
LIBS_reportd := -lev -lmsgpackc -lsqlite3 -ljansson -linih
LIBS_flytrapctl := -lsecp256k1 -lcrypto -linih -ljansson -lcurl -lmsgpackc
LIBS_tests := -lcmocka -lev -lmsgpackc -lcurl -ljansson -lsqlite3 \
	-lsecp256k1 -lcrypto -linih -lmaxminddb

PROGRAMS := proxyd authd chaind reportd flytrapctl
BINS := $(PROGRAMS:%=$(BUILD)/bin/%)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS := $(BUILD)/bench/connect_bench $(BUILD)/bench/pub_bench \
	$(BUILD)/bench/flood_bench
# The client side the benchmarks share (tests/bench/bench.c).
BENCH_OBJS := $(BUILD)/tests/bench/bench.o

.PHONY: all deps test unit integration contract-test run bench format \
	format-check clang-check clean

# The contract, compiled with the pinned solcjs; flytrapctl deploy finds it
# next to bin/ (FlyTrap.abi is written with it).
CONTRACT_ARTIFACTS := $(BUILD)/contracts/FlyTrap.bin $(BUILD)/contracts/FlyTrap.abi

all: $(BINS) $(UNIT_BINS) $(BENCH_BINS) $(CONTRACT_ARTIFACTS)

deps:
	scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/contracts/FlyTrap.bin: contracts/FlyTrap.sol contracts/build.sh
	contracts/build.sh $(BUILD)/contracts

# build.sh writes the .abi before the .bin: nothing more to do for it.
$(BUILD)/contracts/FlyTrap.abi: $(BUILD)/contracts/FlyTrap.bin ;

$(LIBCOMMON): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

.SECONDEXPANSION:
# (No '%' inside: in a pattern rule it would stand for the stem.)
$(BUILD)/bin/%: $$(addprefix $(BUILD)/,$$(addsuffix .o, \
		$$(basename $$(sort $$(wildcard $$*/*.c))))) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBCOMMON) \
		$(LDFLAGS_ALL) $(LIBS_$*)

# Unit tests of a daemon's own modules link those objects too.
TEST_OBJS_test_expset := $(BUILD)/authd/expset.o
TEST_OBJS_test_buffer := $(BUILD)/proxyd/buffer.o
TEST_OBJS_test_store := $(BUILD)/chaind/store.o
TEST_OBJS_test_reportq := $(BUILD)/proxyd/reportq.o
TEST_OBJS_test_spool := $(BUILD)/reportd/spool.o
TEST_OBJS_test_geoip := $(BUILD)/authd/geoip.o
TEST_OBJS_test_ban := $(BUILD)/authd/ban.o
TEST_OBJS_test_workq := $(BUILD)/authd/workq.o

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $$(TEST_OBJS_$$*) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(TEST_OBJS_$*) $(LIBCOMMON) \
		$(LDFLAGS_ALL) $(LIBS_tests)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(BENCH_OBJS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BENCH_OBJS) $(LIBCOMMON) $(LDFLAGS_ALL) \
		-lsecp256k1 -lcrypto -lm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- Tests ------------------------------------------------------------------

test:
	scripts/deps.sh --check-or-install
	$(MAKE) all
	$(MAKE) clang-check
	$(MAKE) format-check
	$(MAKE) unit
	$(MAKE) contract-test
	$(MAKE) integration
	@echo "make test: all suites passed"

unit: $(UNIT_BINS)
	scripts/run-unit.sh $(UNIT_BINS)

# The contract against a real local node (anvil), with node's test runner.
contract-test:
	node --test tests/contract/

integration: $(BINS) $(BENCH_BINS)
	FLYTRAP_BUILD=$(BUILD) /usr/bin/python3 -m pytest -q tests/integration

# The same tree must build warning-free with clang too.
clang-check:
	$(MAKE) BUILD=$(BUILD)/clang CC=clang all

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find common proxyd authd chaind reportd flytrapctl tests -name '*.[ch]')

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# ---- Demo and benchmarks ----------------------------------------------------

run:
	scripts/deps.sh --check-or-install
	$(MAKE) all
	FLYTRAP_BUILD=$(BUILD) scripts/demo.sh

bench:
	scripts/deps.sh --check-or-install
	$(MAKE) all
	FLYTRAP_BUILD=$(BUILD) scripts/bench.sh

clean:
	rm -rf $(BUILD)
