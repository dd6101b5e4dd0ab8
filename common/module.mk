# common/: small shared user-space pieces, linked into every program.
COMMON_SRCS := common/log.c
COMMON_LIB  := $(B)/lib/libweftcommon.a

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

LINT_SOURCES += $(COMMON_SRCS)
