# bench/exporter: load generators for weft's exporter and its peer (the
# OpenTelemetry C++ SDK's OTLP/HTTP exporter), and a local OTLP sink.
# Built by bench/exporter/run (`make bench-exporter-programs`).
BENCH_EXP := $(B)/bench/exporter

# OpenTelemetry C++ from Debian (backports): its CMake package asks for
# HAVE_ABSEIL and ABI version 1; the OTLP/HTTP exporter is built in.
OTELCPP_CXXFLAGS := -std=c++17 -O2 -g -DHAVE_ABSEIL -DOPENTELEMETRY_ABI_VERSION_NO=1
OTELCPP_LIBS := -lopentelemetry_exporter_otlp_http -lopentelemetry_exporter_otlp_http_client \
	-lopentelemetry_otlp_recordable -lopentelemetry_http_client_curl -lopentelemetry_proto \
	-lopentelemetry_trace -lopentelemetry_resources -lopentelemetry_common \
	-labsl_bad_variant_access -lprotobuf -lcurl -lpthread
# weft's exporter, linked as every injector links it (exporter/module.mk).
WEFT_EXPORT_LIBS := $(B)/lib/libweftexport.a $(B)/lib/libweftcommon.a
WEFT_EXPORT_LDLIBS := $(or $(EXPORT_LIBS),-lprotobuf-c -lcurl -lz -lpthread)

$(B)/obj/bench/exporter/otlp_sink.o: | $(OTLP_STAMP)
$(BENCH_EXP)/otlp_sink: $(B)/obj/bench/exporter/otlp_sink.o $(OTLP_GEN_C:%.c=$(B)/obj/%.o)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lprotobuf-c

$(B)/obj/bench/exporter/weft_spanload.o: CFLAGS += -Itests/lib
$(B)/obj/bench/exporter/weft_spanload.o: | $(OTLP_STAMP)
$(BENCH_EXP)/weft_spanload: $(B)/obj/bench/exporter/weft_spanload.o $(B)/obj/tests/lib/otlp_pb_reference.o \
			    $(WEFT_EXPORT_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(WEFT_EXPORT_LDLIBS)

$(BENCH_EXP)/otelcpp_spanload: bench/exporter/otelcpp_spanload.cc
	@mkdir -p $(@D)
	$(CXX) $(OTELCPP_CXXFLAGS) -o $@ $< $(LDFLAGS) $(OTELCPP_LIBS)

.PHONY: bench-exporter-programs
bench-exporter-programs: $(BENCH_EXP)/otlp_sink $(BENCH_EXP)/weft_spanload $(BENCH_EXP)/otelcpp_spanload

LINT_SOURCES += bench/exporter/otlp_sink.c bench/exporter/weft_spanload.c
