# injectors/go: weft-go, Go net/http trace context by uprobes.
WEFT_GO_SRCS := injectors/go/weft_go.c injectors/go/go_binary.c \
                injectors/go/go_procs.c \
                injectors/go/go_analyze.c injectors/go/go_discover.c
WEFT_GO_OBJS := $(WEFT_GO_SRCS:%.c=$(B)/obj/%.o)

# The BPF object, linked from units by concern (bpf/go/go_shared.bpf.h).
WEFT_GO_BPF_UNITS := bpf/go/go_shared.bpf.c bpf/go/go_server.bpf.c \
	bpf/go/go_client.bpf.c bpf/go/go_write.bpf.c bpf/go/go_proc.bpf.c
$(B)/bpf/bpf/go/weft_go.bpf.o: $(WEFT_GO_BPF_UNITS:%.bpf.c=$(B)/bpf/%.unit.o)
	$(WEFT_BPF_LINK)
WEFT_LINKED_BPF += $(B)/bpf/bpf/go/weft_go.bpf.o

$(B)/obj/injectors/go/weft_go.o $(B)/obj/injectors/go/go_binary.o: $(B)/bpf/bpf/go/weft_go.skel.h
$(B)/obj/injectors/go/go_discover.o: $(B)/bpf/bpf/go/go_discover.skel.h
# bpf/include headers carry "#pragma unroll" for clang -target bpf
$(WEFT_GO_OBJS): CFLAGS += -Wno-unknown-pragmas -Ibpf

# The analyzer runs as a child process (weft-analyze, go_analyze.c): capstone
# and libdw never load into weft-go, which keeps its RSS down.
$(B)/bin/weft-go: $(WEFT_GO_OBJS) $(B)/lib/libweftoffsets.a \
                  $(B)/lib/libweftexport.a $(B)/lib/libweftcommon.a | $(B)/bin/weft-analyze
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(WEFT_GO_OBJS) $(B)/lib/libweftexport.a \
		$(B)/lib/libweftoffsets.a $(B)/lib/libweftcommon.a $(LIBBPF_LIBS) \
		$(or $(EXPORT_LIBS),-lprotobuf-c -lcurl -lz -lpthread) \
		-lelf -lxxhash -lz -lpthread

PROGRAMS += $(B)/bin/weft-go
LINT_SOURCES += $(WEFT_GO_SRCS)

# The Go chain test service (tests/apps/go/chain), per toolchain and flavour:
#   chain-<ver> (unstripped), -s (stripped), -pie, -spie (stripped PIE).
GO_CHAIN_VERSIONS := 1.19 1.21 1.22 1.23
GO_CHAIN_FLAVOURS := plain s pie spie
GO_CHAIN_DIR := $(B)/go-chain
GO_CHAIN_BINS := $(foreach v,$(GO_CHAIN_VERSIONS),$(foreach f,$(GO_CHAIN_FLAVOURS),$(GO_CHAIN_DIR)/chain-$(v)-$(f)))
GO_CHAIN_ENV = GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(B))/gocache-$(1) CGO_ENABLED=0
go_chain_flags = $(if $(filter s spie,$(1)),-ldflags=-s\ -w) $(if $(filter pie spie,$(1)),-buildmode=pie)

$(GO_CHAIN_DIR)/chain-%: tests/apps/go/chain/main.go
	@mkdir -p $(@D)
	$(eval v := $(word 1,$(subst -, ,$*)))
	$(eval f := $(word 2,$(subst -, ,$*)))
	cd tests/apps/go/chain && env $(call GO_CHAIN_ENV,$(v)) /usr/lib/go-$(v)/bin/go build \
		$(call go_chain_flags,$(f)) -o $(abspath $@).tmp . && mv $(abspath $@).tmp $(abspath $@)

TESTS_BIN += $(GO_CHAIN_BINS)
.PHONY: go-chain
go-chain: $(GO_CHAIN_BINS)

# Benchmark helpers (bench/go/run): trap cost of a uprobe hit; the OpenTelemetry
# SDK peer of the chain, built from Debian's golang-opentelemetry-otel-dev.
$(B)/bench-go/trapcost: bench/go/trapcost.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 -o $@ $< $(LIBBPF_LIBS)
$(B)/bench-go/otelpair: bench/go/otelpair/main.go
	@mkdir -p $(@D)
	cd bench/go/otelpair && env $(call GO_CHAIN_ENV,1.22) /usr/lib/go-1.22/bin/go build \
		-o $(abspath $@).tmp . && mv $(abspath $@).tmp $(abspath $@)
TESTS_BIN += $(B)/bench-go/trapcost $(B)/bench-go/otelpair
LINT_SOURCES += bench/go/trapcost.c
