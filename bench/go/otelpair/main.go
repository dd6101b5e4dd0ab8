// otelpair: the benchmark peer of weft-go. The same service as
// tests/apps/go/chain (serve, call -next, answer with the next hop's body),
// instrumented by hand with the OpenTelemetry Go SDK: a server span per
// request (W3C traceparent extracted), a client span per call (traceparent
// injected), spans batched to a JSON file by the stdout exporter.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

var (
	name   = flag.String("name", "A", "service name")
	listen = flag.String("listen", "127.0.0.1:0", "address to serve on")
	next   = flag.String("next", "", "next hop base URL (empty: leaf)")
	pfile  = flag.String("port-file", "", "write the bound port here")
	spans  = flag.String("spans", os.DevNull, "span output file")
)

var (
	prop   = propagation.TraceContext{}
	tracer trace.Tracer
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
)

func call(ctx context.Context, path string) (string, int, error) {
	ctx, span := tracer.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, "GET", *next+path, nil)
	if err != nil {
		return "", 0, err
	}
	prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

func handle(w http.ResponseWriter, r *http.Request) {
	ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := tracer.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	if *next == "" {
		fmt.Fprintf(w, "%s%s\n", *name, r.URL.Path)
		return
	}
	body, status, err := call(ctx, r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	fmt.Fprintf(w, "%s>%s", *name, body)
}

func main() {
	flag.Parse()
	f, err := os.Create(*spans)
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelpair:", err)
		os.Exit(1)
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelpair:", err)
		os.Exit(1)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	tracer = tp.Tracer("otelpair")
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelpair:", err)
		os.Exit(1)
	}
	if *pfile != "" {
		os.WriteFile(*pfile+".tmp", []byte(fmt.Sprintf("%d\n", ln.Addr().(*net.TCPAddr).Port)), 0o644)
		os.Rename(*pfile+".tmp", *pfile)
	}
	http.Serve(ln, http.HandlerFunc(handle))
}
