# offsets/: the offsets database library (record format, atomic store, lookup,
# validation) and the wanted table (offsets/wanted.def).
OFFSETS_SRCS := offsets/wanted.c offsets/record.c offsets/codec.c offsets/hash.c offsets/db.c
OFFSETS_LIB  := $(B)/lib/libweftoffsets.a
OFFSETS_LIBS := -lxxhash

$(OFFSETS_LIB): $(OFFSETS_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(B)/obj/offsets/wanted.o: offsets/wanted.def offsets/needed.def

LINT_SOURCES += $(OFFSETS_SRCS)
