# tests/: the runner is tests/run; test programs built here are listed in TESTS_BIN.

# Code rewritten in place the way the kernel reuses uprobe XOL slots: the VM
# must run what was written (tests/vm/vm_harness.test).
$(B)/tests/xol_rewrite: $(B)/obj/tests/vm/xol_rewrite.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/xol_rewrite
LINT_SOURCES += tests/vm/xol_rewrite.c

.PHONY: test-programs
test-programs: $(TESTS_BIN)

# make soak-vm: weft-go's write path under 200k requests through the Go chain
# in the VM (tests/vm/go_write_load.test with a request count instead of a
# time; about 30-40 minutes under software emulation on an idle machine, so
# not part of make check).
.PHONY: soak-vm
soak-vm: deps
	@$(MAKE) --no-print-directory all test-programs
	@WEFT_GO_LOAD_REQS=$${WEFT_GO_LOAD_REQS:-200000} WEFT_GO_LOAD_SECS=$${WEFT_GO_LOAD_SECS:-14400} tests/vm/go_write_load.test
