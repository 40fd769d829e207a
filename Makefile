# anemone — build, test, install.  See README.md.
#
#   make                 build ./anemone (optimised, debug info, warnings are errors)
#   make run             install missing dependencies, build, run a model (MODEL=..., PROMPT=...)
#   make test            install missing dependencies, build, run every test
#   make check-sanitize  the tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz            build the libFuzzer targets (clang) into build-fuzz/
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make clean

VERSION := 0.1.0
PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
CXX     ?= c++
PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

PKGS := libcurl json-c readline sentencepiece libxxhash yaml-0.1 libzip libpcre2-8 libutf8proc libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# V=1 shows the full commands.
V ?= 0
ifeq ($(V),0)
Q = @
SAY = @printf '  %-6s %s\n'
else
Q =
SAY = @true
endif

WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
SANITIZE ?=
CFLAGS_ALL   := -std=gnu11 $(WARN) $(OPT) $(SANITIZE) -pthread -Isrc -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
# The vptr check needs the C++ sanitizer runtime, which clang does not link into C programs.
CXXFLAGS_ALL := -std=c++17 $(WARN) $(OPT) $(SANITIZE) $(if $(SANITIZE),-fno-sanitize=vptr) -pthread -Isrc -MMD -MP $(PKG_CFLAGS) $(CXXFLAGS)
LDFLAGS_ALL  := $(SANITIZE) -pthread $(LDFLAGS)
LIBS_ALL     := $(PKG_LIBS) -lstdc++ -lm $(LIBS)

LIB_C   := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_CXX := $(wildcard src/*/*.cc)
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_C)) $(patsubst %.cc,$(BUILD)/%.o,$(LIB_CXX))
LIB     := $(BUILD)/libanemone.a
BIN     := $(BUILD)/anemone

TEST_C   := $(wildcard tests/*/test_*.c)
TEST_BIN := $(patsubst %.c,$(BUILD)/%,$(TEST_C))
# Helper programs the tests drive (tests/*/tool_*.c), built like the tests.
TOOL_C   := $(wildcard tests/*/tool_*.c)
TOOL_BIN := $(patsubst %.c,$(BUILD)/%,$(TOOL_C))

FUZZ_C := $(wildcard fuzz/fuzz_*.c)

GITREV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)

.PHONY: all run test test-only check-sanitize fuzz fuzz-targets install uninstall clean deps tests

all: anemone

anemone: $(BIN)
	@cp -f $(BIN) anemone

$(BIN): $(BUILD)/src/cli/main.o $(LIB)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(SAY) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(SAY) CC $<
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/%.o: %.cc
	@mkdir -p $(@D)
	$(SAY) CXX $<
	$(Q)$(CXX) $(CXXFLAGS_ALL) -c -o $@ $<

# The version file is rewritten only when the revision changes, so builds stay incremental.
$(BUILD)/gitrev.h: FORCE
	@mkdir -p $(@D)
	@echo '#define ANEMONE_GIT_REV "$(GITREV)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/src/cli/version.o: $(BUILD)/gitrev.h
$(BUILD)/src/cli/version.o: CFLAGS_ALL += -I$(BUILD) -DANEMONE_VERSION='"$(VERSION)"'
$(BUILD)/src/hub/http.o: CFLAGS_ALL += -DANEMONE_VERSION='"$(VERSION)"'
FORCE:

$(BUILD)/tests/%: tests/%.c $(LIB) tests/test.h
	@mkdir -p $(@D)
	$(SAY) TEST $@
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(LIB) $(LDFLAGS_ALL) $(LIBS_ALL)

# Per-test link flags: test_engine counts allocations during predict.
$(BUILD)/tests/mil/test_engine: LDFLAGS_ALL += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

tests: $(BIN) $(TEST_BIN) $(TOOL_BIN)

# Dependencies are installed only when something is missing.
deps:
	@if ! pkg-config --exists $(PKGS) 2>/dev/null || ! $(PYTHON) -c 'import numpy, jinja2, yaml' 2>/dev/null; then \
	    echo "make: some dependencies are missing; running scripts/install-deps.sh" >&2; \
	    scripts/install-deps.sh || { echo "make: could not install the dependencies; see the message above (run scripts/install-deps.sh as root)" >&2; exit 1; }; \
	fi

# The main job: a real `anemone run`. MODEL is a local ANEMLL model directory or a Hugging
# Face repo (org/name); the default is the tiny random-weight test model, which runs
# anywhere but only babbles.
MODEL  ?= tests/fixtures/qwen3-fp16-c1
PROMPT ?= Tell me about the sea.
run: deps
	@$(MAKE) --no-print-directory all
	./anemone run $(MODEL) -n 32 --stats "$(PROMPT)"

test: deps
	@$(MAKE) --no-print-directory test-only

test-only: tests
	@BUILD=$(BUILD) PYTHON=$(PYTHON) tests/run.sh

check-sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san OPT='-O1 -g -fno-omit-frame-pointer' \
	    SANITIZE='-fsanitize=address,undefined -fno-sanitize-recover=undefined' test-only

fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CXX=clang++ OPT='-O1 -g' \
	    SANITIZE='-fsanitize=address,undefined -fsanitize=fuzzer-no-link' fuzz-targets

fuzz-targets: $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_C))

$(BUILD)/fuzz/%: fuzz/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDFLAGS_ALL) -fsanitize=fuzzer $(LIBS_ALL)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 anemone $(DESTDIR)$(PREFIX)/bin/anemone
	install -m 644 man/anemone.1 $(DESTDIR)$(PREFIX)/share/man/man1/anemone.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 scripts/completions/anemone.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/anemone

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/anemone $(DESTDIR)$(PREFIX)/share/man/man1/anemone.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/anemone

clean:
	rm -rf build build-san build-fuzz anemone

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
