# injectors/net: network-level injectors.

# ---- weft-http: HTTP/1.x header insertion (sk_msg) -------------------------
WEFT_HTTP_SRCS := injectors/net/weft_http.c injectors/net/loop_threads.c injectors/net/rt_discover.c injectors/net/rt_nginx.c injectors/net/rt_node.c \
	injectors/net/rt_proc.c injectors/net/rt_asyncio.c injectors/net/rt_attach.c injectors/net/h2_server.c \
	injectors/net/tcpopt_util.c
WEFT_HTTP_OBJS := $(WEFT_HTTP_SRCS:%.c=$(B)/obj/%.o)

# The BPF object, linked from units by concern (bpf/net/http_shared.bpf.h).
WEFT_HTTP_BPF_UNITS := bpf/net/http_shared.bpf.c bpf/net/http_insert.bpf.c \
	bpf/net/http_observe.bpf.c bpf/net/http_rt.bpf.c \
	bpf/net/http_enrol.bpf.c
$(B)/bpf/bpf/net/weft_http.bpf.o: $(WEFT_HTTP_BPF_UNITS:%.bpf.c=$(B)/bpf/%.unit.o)
	$(WEFT_BPF_LINK)
WEFT_LINKED_BPF += $(B)/bpf/bpf/net/weft_http.bpf.o

$(B)/obj/injectors/net/weft_http.o: $(B)/bpf/bpf/net/weft_http.skel.h
# bpf/include headers carry "#pragma unroll" for clang -target bpf
$(B)/obj/injectors/net/weft_http.o: CFLAGS += -Wno-unknown-pragmas

$(B)/bin/weft-http: $(WEFT_HTTP_OBJS) $(EXPORT_LIB) $(OFFSETS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(WEFT_HTTP_OBJS) $(EXPORT_LIB) $(OFFSETS_LIB) $(COMMON_LIB) \
		$(LIBBPF_LIBS) $(EXPORT_LIBS) -lxxhash -lelf -lnghttp2

PROGRAMS += $(B)/bin/weft-http
LINT_SOURCES += $(WEFT_HTTP_SRCS)

# bench/http's forwarding service (A in A -> B).
$(B)/tests/http-forwarder: bench/http/forwarder.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lpthread
TESTS_BIN += $(B)/tests/http-forwarder
LINT_SOURCES += bench/http/forwarder.c
# ---- end weft-http -----------------------------------------------------------

# ---- weft-tcpopt: trace context in a TCP option, OpenSSL spans -------------
WEFT_TCPOPT_SRCS := injectors/net/weft_tcpopt.c injectors/net/tcpopt_util.c \
	injectors/net/tcpopt_ssl_layout.c injectors/net/loop_threads.c
WEFT_TCPOPT_OBJS := $(WEFT_TCPOPT_SRCS:%.c=$(B)/obj/%.o)

# The BPF object, linked from units by concern (bpf/net/tcpopt_shared.bpf.h).
WEFT_TCPOPT_BPF_UNITS := bpf/net/tcpopt_shared.bpf.c bpf/net/tcpopt_option.bpf.c \
	bpf/net/tcpopt_discover.bpf.c bpf/net/tcpopt_ssl.bpf.c
$(B)/bpf/bpf/net/weft_tcpopt.bpf.o: $(WEFT_TCPOPT_BPF_UNITS:%.bpf.c=$(B)/bpf/%.unit.o)
	$(WEFT_BPF_LINK)
WEFT_LINKED_BPF += $(B)/bpf/bpf/net/weft_tcpopt.bpf.o

$(B)/obj/injectors/net/weft_tcpopt.o: $(B)/bpf/bpf/net/weft_tcpopt.skel.h
# bpf/include headers carry "#pragma unroll" for clang -target bpf
$(B)/obj/injectors/net/weft_tcpopt.o: CFLAGS += -Wno-unknown-pragmas

$(B)/bin/weft-tcpopt: $(WEFT_TCPOPT_OBJS) $(B)/lib/libweftexport.a $(B)/lib/libweftcommon.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(WEFT_TCPOPT_OBJS) $(B)/lib/libweftexport.a $(B)/lib/libweftcommon.a \
		$(LIBBPF_LIBS) $(or $(EXPORT_LIBS),-lprotobuf-c -lcurl -lz -lpthread) -lelf -lz

# Test helper: a sockops program that takes the option space (tcpopt_no_room).
$(B)/tests/tcpopt_filler.bpf.o: $(B)/bpf/tests/apps/tls/tcpopt_filler.bpf.o
	@mkdir -p $(@D)
	cp $< $@

# Test helper: drop the first transmission of option segments (tcpopt_retransmit).
$(B)/tests/tcpopt_dropfirst.bpf.o: $(B)/bpf/tests/apps/tls/tcpopt_dropfirst.bpf.o
	@mkdir -p $(@D)
	cp $< $@

# bench/asyncio's and bench/node's floor: empty programs on a runtime rule's uprobe sites.
$(B)/obj/bench/uprobe_traps.o: $(B)/bpf/bench/uprobe_traps.skel.h
$(B)/bench-rt/uprobe-traps: $(B)/obj/bench/uprobe_traps.o $(B)/obj/bench/traps_hold.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS)
TESTS_BIN += $(B)/bench-rt/uprobe-traps
LINT_SOURCES += bench/uprobe_traps.c bench/traps_hold.c

# bench/tcpopt's mechanism floor: empty programs on weft-tcpopt's OpenSSL probes.
$(B)/obj/bench/tcpopt/ssl_traps.o: $(B)/bpf/bench/tcpopt/ssl_traps.skel.h
$(B)/bench-tcpopt/ssl-traps: $(B)/obj/bench/tcpopt/ssl_traps.o $(B)/obj/bench/traps_hold.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS)

PROGRAMS += $(B)/bin/weft-tcpopt
TESTS_BIN += $(B)/tests/tcpopt_filler.bpf.o $(B)/tests/tcpopt_dropfirst.bpf.o \
	$(B)/bench-tcpopt/ssl-traps
LINT_SOURCES += $(WEFT_TCPOPT_SRCS) bench/tcpopt/ssl_traps.c
# ---- end weft-tcpopt --------------------------------------------------------

# Unit test of injectors/net/h2_server.c fed by hand (tests/unit/h2_server.test).
$(B)/tests/h2_server_test: $(B)/obj/tests/unit/h2_server_test.o $(B)/obj/injectors/net/h2_server.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lnghttp2
TESTS_BIN += $(B)/tests/h2_server_test
LINT_SOURCES += tests/unit/h2_server_test.c

# Unit test of bpf/net/h2_verify.h fed sends by hand (tests/unit/h2_verify.test).
$(B)/tests/h2_verify_test: $(B)/obj/tests/unit/h2_verify_test.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS)
TESTS_BIN += $(B)/tests/h2_verify_test
LINT_SOURCES += tests/unit/h2_verify_test.c
