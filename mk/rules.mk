# Pattern rules: C objects, BPF objects, libbpf skeletons, vmlinux.h.
# Keep intermediate BPF objects (skeletons embed them; tests load them).
.SECONDARY:
# A failed recipe leaves no half-written target behind.
.DELETE_ON_ERROR:

PROGRAMS :=
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

# Skeleton name: the file's base name with '-' for '_' (weft_http.bpf.c -> weft_http.skel.h).
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$(notdir $*)) > $@.tmp && mv $@.tmp $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)
