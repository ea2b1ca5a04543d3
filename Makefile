# openztp: `make` builds, `make run` tries it, `make test` proves it.
CC      ?= cc
PKGS    := libh2o-evloop openssl libpq jansson libsodium libcurl
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers $(if $(CI),-Werror)
CFLAGS  ?= -O2 -g
BASE     = -std=gnu11 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE $(PKGCFLAGS) $(WARN)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS  := $(filter-out services/main.c,$(wildcard services/*.c redirect/*.c activation/*.c admin-api/*.c))
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
# the console's static files (its README is for people, not browsers)
CONSOLE   := $(sort $(shell find console -type f ! -name '*.md' 2>/dev/null))
GEN_OBJS  := build/obj/gen/migrations.o build/obj/gen/console.o
GEN_SAN   := build/san/gen/migrations.o build/san/gen/console.o
OPENAPI   := admin-api/openapi.json

OBJS      := $(LIB_SRCS:%.c=build/obj/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=build/san/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRCS:tests/unit/%.c=build/san/tests/%)
PHONE_SRCS := $(wildcard tools/ztp-phone/*.c)

.PHONY: all deps run test bench fuzz fmt clean image-smoke FORCE
all: build/ztpd $(if $(PHONE_SRCS),build/ztp-phone)

deps:
	@tools/install-deps.sh build

# regenerated on every run, replaced only when the list of files changed
build/gen/migrations.c: FORCE
	@mkdir -p $(@D)
	@tools/embed-migrations.sh $(MIGRATIONS) > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

build/gen/console.c: FORCE
	@mkdir -p $(@D)
	@tools/embed-console.sh $(CONSOLE) > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

FORCE:

build/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

build/san/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g $(SAN) -c $< -o $@

build/obj/admin-api/openapi.o build/san/admin-api/openapi.o: $(OPENAPI)

build/ztpd: $(OBJS) build/obj/services/main.o $(GEN_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(PKGLIBS) -pthread

build/obj/gen/migrations.o: build/gen/migrations.c $(MIGRATIONS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

build/san/gen/migrations.o: build/gen/migrations.c $(MIGRATIONS)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g $(SAN) -c $< -o $@

build/obj/gen/console.o: build/gen/console.c $(CONSOLE)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

build/san/gen/console.o: build/gen/console.c $(CONSOLE)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g $(SAN) -c $< -o $@

build/san/ztpd: $(SAN_OBJS) build/san/services/main.o $(GEN_SAN)
	$(CC) -g $(SAN) -o $@ $^ $(PKGLIBS) -pthread

# the pure part of ztp-phone is unit-tested too
PHONE_SAN := build/san/tools/ztp-phone/rule.o build/san/tools/ztp-phone/vendor.o

build/san/tests/%: tests/unit/%.c $(SAN_OBJS) $(GEN_SAN) $(PHONE_SAN)
	@mkdir -p $(@D)
	$(CC) $(BASE) -O1 -g $(SAN) -o $@ $< $(SAN_OBJS) $(GEN_SAN) $(PHONE_SAN) $(PKGLIBS) \
		-lexpat -lcmocka -pthread

build/ztp-phone: $(PHONE_SRCS) build/obj/redirect/profile.o build/obj/services/buf.o build/obj/redirect/useragent.o \
		build/obj/redirect/mac.o build/obj/redirect/vendor.o build/obj/services/copytext.o $(wildcard tools/ztp-phone/*.h)
	$(CC) $(BASE) $(shell pkg-config --cflags libcurl expat 2>/dev/null) $(CFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(shell pkg-config --libs libcurl expat jansson libsodium 2>/dev/null) -lm -pthread

run:
	@tools/install-deps.sh run
	@$(MAKE) --no-print-directory build/ztpd
	@tools/run.sh

test:
	@tools/install-deps.sh test
	@$(MAKE) --no-print-directory build/san/ztpd build/ztpd $(UNITS) $(if $(PHONE_SRCS),build/ztp-phone)
	@[ -x tests/lint/node_modules/.bin/spectral ] || (cd tests/lint && npm install --no-audit --no-fund \
		--silent >/dev/null 2>&1) || echo "npm is unavailable: the OpenAPI linter test will be skipped"
	@[ tests/browser/node_modules/.installed -nt tests/browser/package-lock.json ] || (cd tests/browser && \
		npm ci --no-audit --no-fund --silent >/dev/null 2>&1 && touch node_modules/.installed) || \
		echo "npm is unavailable: the console's browser tests will be skipped"
	@python3 tests/run.py

bench:
	@tools/install-deps.sh bench
	@$(MAKE) --no-print-directory build/ztpd build/ztp-phone
	@python3 tests/bench/bench.py

# libFuzzer (clang) over every parser of hostile input: MAC, User-Agent,
# codes, CSV and JSON imports, profile rules, the phone's rules and profiles
FUZZ_SECONDS ?= 30
FUZZ_SRCS := $(LIB_SRCS) tools/ztp-phone/rule.c tools/ztp-phone/vendor.c tests/fuzz/fuzz_parsers.c
build/fuzz/fuzz_parsers: $(FUZZ_SRCS) build/gen/migrations.c build/gen/console.c $(wildcard */*.h)
	@mkdir -p $(@D)
	clang $(BASE) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRCS) build/gen/migrations.c \
		build/gen/console.c \
		$(PKGLIBS) -lexpat -pthread

fuzz: build/fuzz/fuzz_parsers
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_parsers -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus

image-smoke:
	deploy/image-smoke.sh

fmt:
	clang-format -i $(wildcard */*.c */*.h tests/unit/*.c tools/ztp-phone/*.c)

clean:
	rm -rf build
