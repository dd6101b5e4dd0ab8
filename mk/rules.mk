# Pattern rules: C objects, BPF objects, libbpf skeletons, vmlinux.h.
# Keep intermediate BPF objects (skeletons embed them; tests load them).
.SECONDARY:
# A failed recipe leaves no half-written target behind.
.DELETE_ON_ERROR:

PROGRAMS :=
# BPF objects linked from units (their rules add them; GNUmakefile's -include).
WEFT_LINKED_BPF :=
TESTS_BIN :=
LINT_SOURCES :=

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# vmlinux.h is generated once per build tree from the running kernel's BTF
# and used by every BPF program (CO-RE relocations make it portable).
$(B)/gen/vmlinux.h:
	@mkdir -p $(@D)
	@test -r /sys/kernel/btf/vmlinux || { echo "build: /sys/kernel/btf/vmlinux missing: this kernel has no BTF; copy a vmlinux.h to $@" >&2; exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: %.bpf.c $(B)/gen/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@.tmp $@.tmp.o && mv $@.tmp $@
	@rm -f $@.tmp.o

# A BPF object linked from units by concern, one skeleton: each unit
# (.bpf.c) is compiled alone to .unit.o, then libbpf's static linker joins
# them (maps and globals the units share: bpf/include/weft_link.h). The
# object's rule lists its units as prerequisites and uses this recipe:
#   $(B)/bpf/DIR/NAME.bpf.o: $(UNITS:%.bpf.c=$(B)/bpf/%.unit.o)
#   	$(WEFT_BPF_LINK)
#   WEFT_LINKED_BPF += $(B)/bpf/DIR/NAME.bpf.o
$(B)/bpf/%.unit.o: %.bpf.c $(B)/gen/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@

define WEFT_BPF_LINK
@mkdir -p $(@D)
$(BPFTOOL) gen object $@.tmp $(filter %.unit.o,$^) && mv $@.tmp $@
endef

# Skeleton name: the object's base name with '-' for '_' (weft_http.bpf.o -> weft_http.skel.h).
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$(notdir $*)) > $@.tmp && mv $@.tmp $@

