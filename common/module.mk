# common/: small shared user-space pieces, linked into every program.
COMMON_SRCS := common/log.c common/lifecycle.c common/mounts.c common/host.c common/injector.c common/random.c common/tracecontext.c
# The shared maps' pins (libbpf): only for programs that link libbpf.
COMMON_BPF_SRCS := common/pins.c
COMMON_LIB  := $(B)/lib/libweftcommon.a

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(B)/obj/%.o) $(COMMON_BPF_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

LINT_SOURCES += $(COMMON_SRCS) $(COMMON_BPF_SRCS)

# Unit test of the trace-context codec (tests/unit/tracecontext.test).
$(B)/tests/tracecontext_test: $(B)/obj/tests/unit/tracecontext_test.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/tracecontext_test
LINT_SOURCES += tests/unit/tracecontext_test.c

# Unit test of the random-byte pool (tests/unit/random_pool.test).
$(B)/tests/random_pool_test: $(B)/obj/tests/unit/random_pool_test.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread
TESTS_BIN += $(B)/tests/random_pool_test
LINT_SOURCES += tests/unit/random_pool_test.c

# The BPF-side parsers (bpf/net/http_parse.bpf.h, weft_tp_parse55) built for the
# host and checked against the codec's verdicts (tests/unit/http_parse.test).
$(B)/tests/http_parse_test: $(B)/obj/tests/unit/http_parse_test.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/http_parse_test
LINT_SOURCES += tests/unit/http_parse_test.c

# make fuzz: the same differential check under ASan and UBSan, two million
# requests, a new seed each run (printed; pass it as the second argument of
# build/tests/fuzz_http_parse to repeat a run).
FUZZ_HTTP_PARSE := $(B)/tests/fuzz_http_parse
$(FUZZ_HTTP_PARSE): tests/unit/http_parse_test.c $(COMMON_SRCS) bpf/net/http_parse.bpf.h
	@mkdir -p $(@D)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -o $@ tests/unit/http_parse_test.c $(COMMON_SRCS) $(LDFLAGS)
.PHONY: fuzz-http-parse
fuzz-http-parse: $(FUZZ_HTTP_PARSE)
	$(FUZZ_HTTP_PARSE) $${WEFT_FUZZ_HTTP_PARSE_REQUESTS:-2000000}
fuzz: fuzz-http-parse
