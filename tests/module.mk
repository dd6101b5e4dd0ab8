# tests/: the runner is tests/run; test programs built here are listed in TESTS_BIN.

# Uprobes on two functions called in a loop by four threads: the VM must keep
# their results right (tests/vm/vm_harness.test).
$(B)/tests/uprobe_xol: $(B)/obj/tests/vm/uprobe_xol.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/uprobe_xol
LINT_SOURCES += tests/vm/uprobe_xol.c

# goid-trace: the goroutine at write(2) as bpf/go/go_goid.bpf.h reads it, for
# tests/integration/go_goid.test, and its Go program tests/apps/go/goidtree
# per toolchain and flavour as the Go chain (GO_CHAIN_* in injectors/go/
# module.mk), plus a cgo build linked externally with a C thread-local beside
# g (cgo) and the same stripped (scgo), with Go 1.22.
GOID_DIR := $(B)/go-goid
GOID_BINS := $(foreach v,$(GO_CHAIN_VERSIONS),$(foreach f,$(GO_CHAIN_FLAVOURS),$(GOID_DIR)/goidtree-$(v)-$(f))) \
             $(GOID_DIR)/goidtree-1.22-cgo $(GOID_DIR)/goidtree-1.22-scgo
GOID_SRCS := $(wildcard tests/apps/go/goidtree/*.go)
goid_cgo_flags = $(if $(filter cgo,$(1)),-ldflags=-linkmode=external,-ldflags=-s\ -w\ -linkmode=external)

$(GOID_DIR)/goidtree-%: $(GOID_SRCS)
	@mkdir -p $(@D)
	$(eval v := $(word 1,$(subst -, ,$*)))
	$(eval f := $(word 2,$(subst -, ,$*)))
	cd tests/apps/go/goidtree && env $(call GO_CHAIN_ENV,$(v)) \
		$(if $(filter cgo scgo,$(f)),CGO_ENABLED=1) /usr/lib/go-$(v)/bin/go build \
		$(if $(filter cgo scgo,$(f)),$(call goid_cgo_flags,$(f)),$(call go_chain_flags,$(f))) \
		-o $(abspath $@).tmp . && mv $(abspath $@).tmp $(abspath $@)
TESTS_BIN += $(GOID_BINS)
$(B)/obj/tests/tools/goid/goid_trace.o: $(B)/bpf/tests/tools/goid/goid_trace.skel.h
$(B)/obj/tests/tools/goid/goid_trace.o: CFLAGS += -Ibpf
$(B)/tests/goid-trace: $(B)/obj/tests/tools/goid/goid_trace.o $(B)/lib/libweftoffsets.a \
                       $(B)/lib/libweftcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBBPF_LIBS) -lxxhash
TESTS_BIN += $(B)/tests/goid-trace
LINT_SOURCES += tests/tools/goid/goid_trace.c


# make soak-vm: weft-go's write paths in the VM: 200k HTTP/1.1 requests
# through the Go chain (tests/vm/go_write_load.test with a request count
# instead of a time; about 30-40 minutes under software emulation on an idle
# machine), then 200k gRPC RPCs through the gRPC chain with traceparent
# written into grpc-go's HEADERS frames (tests/vm/go_grpc_soak.test; about an
# hour). Not part of make check, which runs the gRPC one's 2000-RPC smoke.
# SOAK=http or SOAK=grpc runs one of them.
.PHONY: soak-vm
soak-vm: deps
	@$(MAKE) --no-print-directory all test-programs
	@if [ "$${SOAK:-all}" != grpc ]; then WEFT_GO_LOAD_REQS=$${WEFT_GO_LOAD_REQS:-200000} \
		WEFT_GO_LOAD_SECS=$${WEFT_GO_LOAD_SECS:-14400} tests/vm/go_write_load.test; fi
	@if [ "$${SOAK:-all}" != http ]; then \
		WEFT_GRPC_SOAK_RPCS=$${WEFT_GRPC_SOAK_RPCS:-200000} tests/vm/go_grpc_soak.test; fi
