# tests/: the runner is tests/run; test programs built here are listed in TESTS_BIN.

# Uprobes on two functions called in a loop by four threads: the VM must keep
# their results right (tests/vm/vm_harness.test).
$(B)/tests/uprobe_xol: $(B)/obj/tests/vm/uprobe_xol.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/uprobe_xol
LINT_SOURCES += tests/vm/uprobe_xol.c

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
