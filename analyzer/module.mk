# analyzer/: weft-analyze and libweftanalyze (ELF, Go buildinfo, pclntab,
# DWARF via libdw, return sites via capstone, known/ tables for stripped binaries).
ANALYZE_SRCS := analyzer/welf.c analyzer/buildinfo.c analyzer/pclntab.c analyzer/symtab.c \
                analyzer/dwarf.c analyzer/disasm.c analyzer/known.c analyzer/analyze.c \
                analyzer/fileguard.c analyzer/nginx.c analyzer/gosites.c analyzer/goreturns.c analyzer/gotls.c analyzer/node.c analyzer/python.c \
                analyzer/pysites.c analyzer/pyalloc.c \
                analyzer/runtime.c analyzer/accessors.c analyzer/govendor.c
ANALYZE_LIB  := $(B)/lib/libweftanalyze.a
ANALYZE_LIBS := $(B)/lib/libweftanalyze.a $(B)/lib/libweftoffsets.a $(B)/lib/libweftcommon.a \
                -ldw -lelf -lcapstone -lxxhash -lz -lpthread
KNOWN_TSV    := offsets/known/known.tsv

# The known/ table is compiled in, so installed binaries need no data file.
$(B)/gen/weft_known_tsv.c: analyzer/gen-known-c.sh $(wildcard $(KNOWN_TSV))
	@mkdir -p $(@D)
	analyzer/gen-known-c.sh $(KNOWN_TSV) > $@.tmp && mv $@.tmp $@

$(ANALYZE_LIB): $(ANALYZE_SRCS:%.c=$(B)/obj/%.o) $(B)/obj/gen/weft_known_tsv.o
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(B)/obj/gen/weft_known_tsv.o: $(B)/gen/weft_known_tsv.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The CLI links capstone and xxhash statically and is not PIE: a database hit
# (the common case) then starts without the dynamic loader relocating
# libcapstone's ~77k pointers, which was most of its CPU time. (Debian's
# libdw.a/libelf.a lack their libeu helpers, so those stay shared.)
ANALYZE_CLI_LIBS := $(B)/lib/libweftanalyze.a $(B)/lib/libweftoffsets.a $(B)/lib/libweftcommon.a \
                    -Wl,-Bstatic -lcapstone -lxxhash -Wl,-Bdynamic -ldw -lelf -lz -lpthread
$(B)/bin/weft-analyze: $(B)/obj/analyzer/main.o $(ANALYZE_LIB) $(OFFSETS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -no-pie $(LDFLAGS) -o $@ $(B)/obj/analyzer/main.o $(ANALYZE_CLI_LIBS)

PROGRAMS     += $(B)/bin/weft-analyze
LINT_SOURCES += $(ANALYZE_SRCS) analyzer/main.c

# Fuzz target (libFuzzer + ASan/UBSan) over whole files as weft-analyze reads them (from
# a file descriptor, record stored and looked up), and the raw pclntab, buildinfo and
# record parsers. tests/fuzz/analyze_replay.test runs the CI-sized run (make check).
FUZZ_ANALYZE := $(B)/tests/fuzz_analyze
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -D_GNU_SOURCE -DWEFT_VERSION=\"$(VERSION)\" -I. -Icommon \
                -Ioffsets -Ianalyzer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(FUZZ_ANALYZE): analyzer/fuzz_analyze.c $(ANALYZE_SRCS) $(OFFSETS_SRCS) $(B)/gen/weft_known_tsv.c \
                 offsets/wanted.def offsets/needed.def analyzer/internal.h analyzer/analyze.h \
                 offsets/offsets.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ analyzer/fuzz_analyze.c $(ANALYZE_SRCS) $(OFFSETS_SRCS) \
		$(B)/gen/weft_known_tsv.c -ldw -lelf -lcapstone -lxxhash -lz -lpthread
TESTS_BIN += $(FUZZ_ANALYZE)

FUZZ_SECONDS ?= 60
.PHONY: fuzz-analyze
fuzz-analyze: $(FUZZ_ANALYZE)
	@mkdir -p $(B)/fuzz/analyze
	$(FUZZ_ANALYZE) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
		$(B)/fuzz/analyze tests/fuzz/corpus/analyze
fuzz: fuzz-analyze

# Test driver of the database API (lookup as an injector does, verify a DB).
$(B)/tests/analyze_dbtool: $(B)/obj/tests/unit/analyze_dbtool.o $(OFFSETS_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(OFFSETS_LIB) -lxxhash
TESTS_BIN += $(B)/tests/analyze_dbtool
LINT_SOURCES += tests/unit/analyze_dbtool.c
