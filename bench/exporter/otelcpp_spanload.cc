// SPDX-License-Identifier: BSD-2-Clause
/*
 * otelcpp_spanload: the peer of weft_spanload. Sends the same HTTP server
 * spans through the OpenTelemetry C++ SDK (Debian's opentelemetry-cpp): a
 * tracer provider with a BatchSpanProcessor feeding the OTLP/HTTP protobuf
 * exporter, to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT.
 *
 *   otelcpp_spanload --spans N [--rate R]
 *
 * --rate 0 (default): as fast as the pipeline takes them; the producer keeps
 * at most half the processor's queue in flight so nothing is dropped and the
 * figure is the pipeline's throughput. --rate R: R spans per second, paced
 * every millisecond; spans the processor refuses are counted as drops.
 * Prints one line, as weft_spanload: "spans N exported N dropped N wall_s X
 * cpu_s X main_cpu_s X exporter_cpu_s X warmup N" (main:
 * this thread, which starts and ends the spans; exporter: the SDK's
 * processor and exporter threads). First, not measured, one queue's worth of
 * spans warms the pipeline up, as weft_spanload does.
 *
 * The exporter is built with its factory's defaults (options read from the
 * OTEL_* environment inside the library), so this program never depends on
 * the library's option struct layout.
 */
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "opentelemetry/exporters/otlp/otlp_http_exporter_factory.h"
#include "opentelemetry/sdk/resource/resource.h"
#include "opentelemetry/sdk/trace/batch_span_processor_factory.h"
#include "opentelemetry/sdk/trace/batch_span_processor_options.h"
#include "opentelemetry/sdk/trace/exporter.h"
#include "opentelemetry/sdk/trace/tracer_provider.h"
#include "opentelemetry/sdk/trace/tracer_provider_factory.h"
#include "opentelemetry/trace/span_context.h"
#include "opentelemetry/trace/span_startoptions.h"

namespace otlp = opentelemetry::exporter::otlp;
namespace sdktrace = opentelemetry::sdk::trace;
namespace trace_api = opentelemetry::trace;
namespace nostd = opentelemetry::nostd;
namespace resource = opentelemetry::sdk::resource;

static std::atomic<uint64_t> g_exported{0};

/* Forwards to the OTLP exporter and counts what it acknowledged. */
class CountingExporter final : public sdktrace::SpanExporter
{
      public:
	explicit CountingExporter(std::unique_ptr<sdktrace::SpanExporter> inner)
	    : inner_(std::move(inner))
	{
	}
	std::unique_ptr<sdktrace::Recordable> MakeRecordable() noexcept override
	{
		return inner_->MakeRecordable();
	}
	opentelemetry::sdk::common::ExportResult
	Export(const nostd::span<std::unique_ptr<sdktrace::Recordable>> &spans) noexcept override
	{
		size_t n = spans.size();
		auto r = inner_->Export(spans);
		if (r == opentelemetry::sdk::common::ExportResult::kSuccess)
			g_exported.fetch_add(n, std::memory_order_relaxed);
		return r;
	}
	bool ForceFlush(std::chrono::microseconds t) noexcept override
	{
		return inner_->ForceFlush(t);
	}
	bool Shutdown(std::chrono::microseconds t) noexcept override
	{
		return inner_->Shutdown(t);
	}

      private:
	std::unique_ptr<sdktrace::SpanExporter> inner_;
};

/* CPU seconds, user + system, of the process (RUSAGE_SELF) or this thread. */
static double cpu_seconds(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static uint64_t mono_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage()
{
	fprintf(stderr, "otelcpp_spanload: error: bad arguments: usage: otelcpp_spanload "
			"--spans N [--rate R] (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t nspans = 0, rate = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spans") && i + 1 < argc)
			nspans = strtoull(argv[++i], nullptr, 10);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = strtoull(argv[++i], nullptr, 10);
		else
			usage();
	}
	if (!nspans || !getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		usage();

	const size_t queue_max = 65536;
	sdktrace::BatchSpanProcessorOptions bopts;
	bopts.max_queue_size = queue_max; /* same bounds as weft's exporter */
	bopts.max_export_batch_size = 512;
	bopts.schedule_delay_millis = std::chrono::milliseconds(1000);

	auto exporter = std::unique_ptr<sdktrace::SpanExporter>(
	    new CountingExporter(otlp::OtlpHttpExporterFactory::Create()));
	auto processor = sdktrace::BatchSpanProcessorFactory::Create(std::move(exporter), bopts);

	char host[256] = "localhost", exe[4096] = "";
	gethostname(host, sizeof(host) - 1);
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el > 0)
		exe[el] = 0;
	/* The same resource weft's exporter builds for a target process. */
	auto res = resource::Resource::Create({
	    {"service.name", "spanload"},
	    {"process.pid", (int64_t)getpid()},
	    {"process.executable.name", "otelcpp_spanload"},
	    {"process.executable.path", std::string(exe)},
	    {"host.name", std::string(host)},
	});
	std::shared_ptr<sdktrace::TracerProvider> provider =
	    sdktrace::TracerProviderFactory::Create(std::move(processor), res);
	auto tracer = provider->GetTracer("weft-bench", "0.1.0");

	uint8_t tid[16], sid[8];
	for (int i = 0; i < 16; i++)
		tid[i] = (uint8_t)(0x4b + i * 7);
	for (int i = 0; i < 8; i++)
		sid[i] = (uint8_t)(0xa1 + i * 3);

	const int64_t tid_self = (int64_t)getpid();
	const uint64_t inflight_max = queue_max / 2;

	/* Span seq of a run: its own ids, url.path and client port (as weft_spanload). */
	auto one_span = [&](uint64_t seq) {
		char path[48];
		const int64_t port = 32768 + (int64_t)(seq % 28232);

		snprintf(path, sizeof(path), "/api/v1/orders/%llu",
			 (unsigned long long)(seq % 1000000));
		for (int i = 0; i < 8; i++)
			tid[i] = (uint8_t)(seq >> (8 * i));
		for (int i = 0; i < 4; i++)
			sid[i] = (uint8_t)(seq >> (8 * i));
		/* A remote parent: the server span of a request with a traceparent. */
		trace_api::SpanContext parent(
		    trace_api::TraceId(nostd::span<const uint8_t, 16>(tid)),
		    trace_api::SpanId(nostd::span<const uint8_t, 8>(sid)),
		    trace_api::TraceFlags(trace_api::TraceFlags::kIsSampled), true);
		auto now = std::chrono::system_clock::now();
		trace_api::StartSpanOptions so;
		so.kind = trace_api::SpanKind::kServer;
		so.parent = parent;
		so.start_system_time =
		    opentelemetry::common::SystemTimestamp(now - std::chrono::microseconds(850));
		/* The attributes weft's exporter derives from the same event. */
		auto span = tracer->StartSpan("GET",
					      {
						  {"http.request.method", "GET"},
						  {"url.path", (const char *)path},
						  {"url.scheme", "http"},
						  {"http.response.status_code", (int64_t)200},
						  {"server.address", "orders.internal"},
						  {"server.port", (int64_t)8080},
						  {"client.address", "10.42.7.19"},
						  {"client.port", port},
						  {"network.peer.address", "10.42.7.19"},
						  {"network.peer.port", port},
						  {"network.local.address", "10.42.0.5"},
						  {"network.local.port", (int64_t)8080},
						  {"network.type", "ipv4"},
						  {"network.transport", "tcp"},
						  {"network.protocol.name", "http"},
						  {"network.protocol.version", "1.1"},
						  {"thread.id", (int64_t)tid_self},
						  {"weft.injector", "http"},
						  {"weft.parent_source", "header"},
					      },
					      so);
		trace_api::EndSpanOptions eo;
		eo.end_steady_time =
		    opentelemetry::common::SteadyTimestamp(std::chrono::steady_clock::now());
		span->End(eo);
	};
	/* n spans from first: paced at rate, or as fast as the pipeline takes them. */
	auto run = [&](uint64_t first, uint64_t n, uint64_t r) {
		uint64_t t0 = mono_ns(), base = g_exported.load(), sent = 0;

		while (sent < n) {
			if (r) {
				/* Pace: by now we should have sent r * elapsed spans. */
				uint64_t due = (mono_ns() - t0) * r / 1000000000ull + 1;
				if (sent >= due) {
					struct timespec ts = {
					    0, 1000000 - (long)((mono_ns() - t0) % 1000000)};
					nanosleep(&ts, nullptr);
					continue;
				}
			} else if ((sent & 255) == 0) {
				while (sent - (g_exported.load(std::memory_order_relaxed) - base) >
				       inflight_max) {
					struct timespec ts = {0, 100000};
					nanosleep(&ts, nullptr);
				}
			}
			one_span(first + sent);
			sent++;
		}
		provider->ForceFlush();
	};

	/* Warm-up, not measured: one queue's worth (as weft_spanload). */
	run(0, queue_max, 0);
	const uint64_t exported0 = g_exported.load();
	const double cpu0 = cpu_seconds(RUSAGE_SELF), main0 = cpu_seconds(RUSAGE_THREAD);
	uint64_t t0 = mono_ns(), sent = nspans;

	run(queue_max, nspans, rate);
	uint64_t t1 = mono_ns();
	const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0,
		     main_cpu = cpu_seconds(RUSAGE_THREAD) - main0;
	uint64_t exported = g_exported.load() - exported0;
	printf("spans %llu exported %llu dropped %llu wall_s %.4f cpu_s %.4f main_cpu_s %.4f "
	       "exporter_cpu_s %.4f warmup %zu\n",
	       (unsigned long long)sent, (unsigned long long)exported,
	       (unsigned long long)(sent - exported), (t1 - t0) / 1e9, cpu, main_cpu,
	       cpu - main_cpu, queue_max);
	provider->Shutdown();
	return exported ? 0 : 3;
}
