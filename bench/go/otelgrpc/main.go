// otelgrpc: the benchmark peer of weft-go for gRPC. The unary method of the
// gRPC chain service (tests/apps/go/grpcchain, chain.proto: serve, call
// -next with the same request, answer NAME>answer, a leaf NAME/path),
// instrumented by hand with the OpenTelemetry Go SDK: a server interceptor
// (W3C traceparent extracted from the incoming metadata, a server span per
// RPC) and a client interceptor (a client span per call, traceparent injected
// into the outgoing metadata), spans batched to a JSON file by the stdout
// exporter. Built with chain.proto's generated Go code (injectors/go/module.mk).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	name   = flag.String("name", "A", "service name")
	listen = flag.String("listen", "127.0.0.1:0", "address to serve on")
	next   = flag.String("next", "", "next hop HOST:PORT (empty: leaf)")
	pfile  = flag.String("port-file", "", "write the bound port here")
	spans  = flag.String("spans", os.DevNull, "span output file")
)

var (
	prop   = propagation.TraceContext{}
	tracer trace.Tracer
	nextCl ChainClient
)

// mdCarrier makes gRPC metadata a propagation.TextMapCarrier.
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

func serverInterceptor(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo,
	handler grpc.UnaryHandler) (interface{}, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = prop.Extract(ctx, mdCarrier(md))
	ctx, span := tracer.Start(ctx, info.FullMethod, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	return handler(ctx, req)
}

func clientInterceptor(ctx context.Context, method string, req, reply interface{},
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	prop.Inject(ctx, mdCarrier(md))
	return invoker(metadata.NewOutgoingContext(ctx, md), method, req, reply, cc, opts...)
}

type server struct{}

func (server) Unary(ctx context.Context, req *Req) (*Resp, error) {
	if nextCl == nil {
		return &Resp{Answer: *name + req.Path}, nil
	}
	resp, err := nextCl.Unary(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Resp{Answer: *name + ">" + resp.Answer}, nil
}

func (server) Stream(*Req, Chain_StreamServer) error {
	return status.Error(codes.Unimplemented, "otelgrpc serves the unary method only")
}

func run() error {
	f, err := os.Create(*spans)
	if err != nil {
		return err
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
	if err != nil {
		return err
	}
	tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp)).Tracer("otelgrpc")
	if *next != "" {
		cc, err := grpc.Dial(*next, grpc.WithInsecure(), grpc.WithUnaryInterceptor(clientInterceptor))
		if err != nil {
			return err
		}
		nextCl = NewChainClient(cc)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(serverInterceptor))
	RegisterChainServer(s, server{})
	if *pfile != "" {
		os.WriteFile(*pfile+".tmp", []byte(fmt.Sprintf("%d\n", ln.Addr().(*net.TCPAddr).Port)), 0o644)
		os.Rename(*pfile+".tmp", *pfile)
	}
	return s.Serve(ln)
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "otelgrpc:", err)
		os.Exit(1)
	}
}
