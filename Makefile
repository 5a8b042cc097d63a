# braid — one binary, built with a plain Makefile and pkg-config.
#   make            build/braid
#   make run        install what is missing, build, start braid with demo data
#   make test       install what is missing, build, run every test (unit, ASan+UBSan, integration)
#   make bench      benchmarks (figures go to docs/PERFORMANCE.md by hand)
#   make fuzz       build and briefly run the libFuzzer harnesses

CC      ?= cc
PKGS    := libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3 libedit
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpg_query -lm -lpthread
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -Iinclude $(PKG_CFLAGS) -MMD -MP
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
MAIN_SRC := src/cli/main.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

OBJ      := $(LIB_SRC:%.c=build/obj/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
ASAN_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests-asan/%)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

.PHONY: all deps run test unit unit-asan integration bench fuzz clean slt
all: build/braid

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c $< -o $@

build/libbraid.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

build/libbraid-asan.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/braid: build/obj/src/cli/main.o build/libbraid.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/tests/%: tests/unit/%.c build/libbraid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libbraid.a $(PKG_LIBS) -lcmocka

build/tests-asan/%: tests/unit/%.c build/libbraid-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -o $@ $< build/libbraid-asan.a $(PKG_LIBS) -lcmocka

build/fuzz/%: fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc -Iinclude $(PKG_CFLAGS) \
		-o $@ $< $(LIB_SRC) $(PKG_LIBS)

deps:
	@scripts/deps.sh

unit: $(UNIT_BIN)
unit-asan: $(ASAN_BIN)

test: deps
	@$(MAKE) --no-print-directory all unit unit-asan
	@tests/run.sh

integration: deps all
	@tests/run.sh --integration-only

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh

bench: deps all
	@bench/run.sh

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); echo "== $$f"; mkdir -p build/fuzz/corpus-$$n; \
		if ! $$f -max_total_time=$${FUZZ_SECONDS:-20} build/fuzz/corpus-$$n $$(ls -d fuzz/seeds/$$n 2>/dev/null) \
			> build/fuzz/$$n.log 2>&1; then tail -40 build/fuzz/$$n.log; echo "fuzz: $$n found a problem"; exit 1; fi; \
		tail -1 build/fuzz/$$n.log; done

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) build/obj/src/cli/main.d

# The server under ASan+UBSan, for running integration tests against it by hand:
#   make build/braid-asan && BRAID_BIN=$PWD/build/braid-asan tests/run.sh --integration-only
build/braid-asan: src/cli/main.c build/libbraid-asan.a
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -o $@ $< build/libbraid-asan.a $(PKG_LIBS)

# sqllogictest runner over ../shared/slt (or SLT="a.test b.test")
SLT ?= $(wildcard ../shared/slt/*.test)
build/slt: tests/slt/runner.c build/libbraid.a
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libbraid.a $(PKG_LIBS)
slt: build/slt
	@build/slt $(SLT)
