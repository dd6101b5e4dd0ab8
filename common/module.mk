# common/: small shared user-space pieces, linked into every program.
COMMON_SRCS := common/log.c common/mounts.c common/random.c common/tracecontext.c
COMMON_LIB  := $(B)/lib/libweftcommon.a

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

LINT_SOURCES += $(COMMON_SRCS)

# Unit test of the trace-context codec (tests/unit/tracecontext.test).
$(B)/tests/tracecontext_test: $(B)/obj/tests/unit/tracecontext_test.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/tracecontext_test
LINT_SOURCES += tests/unit/tracecontext_test.c
