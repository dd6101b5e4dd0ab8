// grpcchain: a gRPC test service for weft-go, built with Debian's grpc-go
// (1.33) in GOPATH mode, as Debian builds its own Go programs. It carries no
// tracing library: every traceparent a hop receives beyond the client's own
// comes from weft-go. The service weft.test.Chain (chain.proto) has a unary
// method and a server-streaming one.
//
// Serve mode (default): each RPC received is logged on stdout as
//
//	recv name=A method=/weft.test.Chain/Unary path=/x n=1 traceparent=00-... app=v
//
// (n = number of traceparent values in the incoming metadata, values joined
// by ','; app = the app's own metadata x-weft-app, forwarded to the next hop
// as is). An RPC that carries tracestate metadata adds the line
//
//	ts name=A rpc=/x n=1 values=["congo=t61rcWkgMzE"]
//
// (its tracestate values, JSON). With -own-tp TP a hop puts its own traceparent
// TP into the next hop's metadata (metadata.AppendToOutgoingContext), as an
// app with its own tracing would. With -next HOST:PORT the hop calls the next one with the same
// method, path and app metadata and answers NAME>answer (unary) or relays
// every message as NAME>message (streaming); a leaf answers NAME/path, or
// -count messages NAME/path#i; a unary path starting with /fail makes the
// leaf fail with status Internal (passed back up the chain). Every hop sets
// the response header x-weft-hop and the trailer x-weft-done to its name.
//
// Call mode (-call HOST:PORT): one RPC (-rpc unary|stream) with -path, -tp
// (a traceparent the client sends itself, empty: none) and -app; or with
// -n N, N RPCs at once on one shared connection, RPC i with path /c<i> and
// traceparent 00-<0xabc000+i as 32 hex>-<i as 16 hex>-01. -ts: a tracestate
// the client sends itself. Prints one line per
// RPC, in order:
//
//	resp i=1 answer=A>B>C/x header=A trailer=A status=OK
//
// (streaming answers joined by '|'); exits 1 if any RPC failed.
//
// Load mode (-call HOST:PORT -load D, benchmarks): -c goroutines make unary
// RPCs with path /bench and no metadata back to back on one shared connection
// for D, then one line is printed:
//
//	load rpcs=N errors=E secs=S rps=R p99ms=P differ=X
//
// (rps = N / S; p99 of the RPCs' latencies in ms); exits 1 on any error.
// With -rpcs N the run ends after N RPCs (-load, if given, bounds it); with
// -want LINE each RPC is made as in call mode (-rpc, -path, -app, no
// traceparent of its own) and its result line (answer=... status=...) must
// equal LINE: X counts those that differ; exits 1 if any does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	name   = flag.String("name", "A", "service name used in answers and logs")
	listen = flag.String("listen", "127.0.0.1:0", "address to serve on")
	next   = flag.String("next", "", "next hop HOST:PORT (empty: leaf)")
	pfile  = flag.String("port-file", "", "write the bound port here once listening")
	quiet  = flag.Bool("quiet", false, "do not log RPCs (benchmarks)")
	count  = flag.Int("count", 3, "streaming: messages a leaf sends per RPC")
	target = flag.String("call", "", "call mode: the service to call (HOST:PORT)")
	rpc    = flag.String("rpc", "unary", "call mode: unary | stream")
	path   = flag.String("path", "/x", "call mode: the request's path")
	tp     = flag.String("tp", "", "call mode: a traceparent the client sends itself")
	app    = flag.String("app", "", "call mode: the app's own metadata x-weft-app")
	ts     = flag.String("ts", "", "call mode: a tracestate the client sends itself")
	ownTP  = flag.String("own-tp", "", "serve mode: a traceparent this hop sends the next one itself")
	nrpc   = flag.Int("n", 0, "call mode: this many concurrent RPCs on one connection")
	load   = flag.Duration("load", 0, "call mode: unary RPCs back to back for this long (load mode)")
	conc   = flag.Int("c", 8, "load mode: concurrent callers")
	rpcs   = flag.Int("rpcs", 0, "load mode: stop after this many RPCs in all (0: after -load)")
	want   = flag.String("want", "", "load mode: every RPC's result (answer=... header=... trailer=... status=...) must be this; the others are counted as differing")
)

var (
	logMu  sync.Mutex
	logOut = bufio.NewWriter(os.Stdout)
	nextCl ChainClient
)

func logf(format string, args ...interface{}) {
	logMu.Lock()
	fmt.Fprintf(logOut, format, args...)
	logOut.Flush()
	logMu.Unlock()
}

type server struct{}

// received logs what the RPC brought and returns the app metadata to forward.
func received(ctx context.Context, method, p string) metadata.MD {
	md, _ := metadata.FromIncomingContext(ctx)
	tps := md.Get("traceparent")
	apps := md.Get("x-weft-app")
	if !*quiet {
		logf("recv name=%s method=%s path=%s n=%d traceparent=%s app=%s\n", *name, method, p,
			len(tps), strings.Join(tps, ","), strings.Join(apps, ","))
		if tss := md.Get("tracestate"); len(tss) > 0 {
			vals, _ := json.Marshal(tss)
			logf("ts name=%s rpc=%s n=%d values=%s\n", *name, p, len(tss), vals)
		}
	}
	out := metadata.MD{}
	if len(apps) > 0 {
		out.Set("x-weft-app", apps...)
	}
	return out
}

// outgoing is the next hop's context: the app metadata to forward, and with
// -own-tp the hop's own traceparent.
func outgoing(ctx context.Context, fwd metadata.MD) context.Context {
	ctx = metadata.NewOutgoingContext(ctx, fwd)
	if *ownTP != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", *ownTP)
	}
	return ctx
}

func (server) Unary(ctx context.Context, req *Req) (*Resp, error) {
	fwd := received(ctx, "/weft.test.Chain/Unary", req.Path)
	grpc.SetHeader(ctx, metadata.Pairs("x-weft-hop", *name))
	grpc.SetTrailer(ctx, metadata.Pairs("x-weft-done", *name))
	if nextCl == nil {
		if strings.HasPrefix(req.Path, "/fail") {
			return nil, status.Error(codes.Internal, "fail")
		}
		return &Resp{Answer: *name + req.Path}, nil
	}
	resp, err := nextCl.Unary(outgoing(ctx, fwd), req)
	if err != nil {
		return nil, err
	}
	return &Resp{Answer: *name + ">" + resp.Answer}, nil
}

func (server) Stream(req *Req, ss Chain_StreamServer) error {
	ctx := ss.Context()
	fwd := received(ctx, "/weft.test.Chain/Stream", req.Path)
	ss.SetHeader(metadata.Pairs("x-weft-hop", *name))
	ss.SetTrailer(metadata.Pairs("x-weft-done", *name))
	if nextCl == nil {
		for i := 1; i <= int(req.Count); i++ {
			if err := ss.Send(&Resp{Answer: fmt.Sprintf("%s%s#%d", *name, req.Path, i)}); err != nil {
				return err
			}
		}
		return nil
	}
	cs, err := nextCl.Stream(outgoing(ctx, fwd), req)
	if err != nil {
		return err
	}
	for {
		m, err := cs.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.Send(&Resp{Answer: *name + ">" + m.Answer}); err != nil {
			return err
		}
	}
}

func serve() error {
	if *next != "" {
		cc, err := grpc.Dial(*next, grpc.WithInsecure())
		if err != nil {
			return err
		}
		nextCl = NewChainClient(cc)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	RegisterChainServer(s, server{})
	if *pfile != "" {
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		if err := os.WriteFile(*pfile+".tmp", []byte(port), 0o644); err != nil {
			return err
		}
		if err := os.Rename(*pfile+".tmp", *pfile); err != nil {
			return err
		}
	}
	return s.Serve(ln)
}

// callOne makes one RPC and returns its result line (without "resp i=N ").
func callOne(ctx context.Context, c ChainClient, p, traceparent string) string {
	md := metadata.MD{}
	if traceparent != "" {
		md.Set("traceparent", traceparent)
	}
	if *app != "" {
		md.Set("x-weft-app", *app)
	}
	if *ts != "" {
		md.Set("tracestate", *ts)
	}
	ctx = metadata.NewOutgoingContext(ctx, md)
	var header, trailer metadata.MD
	var answer string
	var err error
	req := &Req{Path: p, Count: int32(*count)}
	if *rpc == "stream" {
		var cs Chain_StreamClient
		cs, err = c.Stream(ctx, req)
		var parts []string
		for err == nil {
			var m *Resp
			if m, err = cs.Recv(); err == nil {
				parts = append(parts, m.Answer)
			}
		}
		if err == io.EOF {
			err = nil
		}
		if cs != nil {
			header, _ = cs.Header()
			trailer = cs.Trailer()
		}
		answer = strings.Join(parts, "|")
	} else {
		var resp *Resp
		resp, err = c.Unary(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
		if resp != nil {
			answer = resp.Answer
		}
	}
	return fmt.Sprintf("answer=%s header=%s trailer=%s status=%s", answer,
		strings.Join(header.Get("x-weft-hop"), ","), strings.Join(trailer.Get("x-weft-done"), ","),
		status.Code(err))
}

// loadRun is load mode: -c callers for -load (or until -rpcs) on connection
// c. With -want, each RPC is made as in call mode (-rpc, -path, -app) and
// its result line compared with -want.
func loadRun(c ChainClient) error {
	lats := make([][]time.Duration, *conc)
	errs := make([]int, *conc)
	diffs := make([]int, *conc)
	var started int64
	start := time.Now()
	end := start.Add(*load)
	if *load <= 0 {
		end = start.Add(24 * time.Hour)
	}
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			req := &Req{Path: "/bench"}
			for t0 := time.Now(); t0.Before(end); t0 = time.Now() {
				if *rpcs > 0 && atomic.AddInt64(&started, 1) > int64(*rpcs) {
					return
				}
				if *want != "" {
					line := callOne(context.Background(), c, *path, "")
					if !strings.HasSuffix(line, " status=OK") {
						errs[w]++
					} else if line != *want {
						diffs[w]++
						if diffs[w] == 1 {
							fmt.Fprintf(os.Stderr, "differing result: %s\n", line)
						}
					}
				} else if _, err := c.Unary(context.Background(), req); err != nil {
					errs[w]++
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	nerr, ndiff := 0, 0
	for w := range lats {
		all = append(all, lats[w]...)
		nerr += errs[w]
		ndiff += diffs[w]
	}
	if len(all) == 0 {
		return fmt.Errorf("no RPC completed")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := all[(len(all)*99+99)/100-1]
	fmt.Printf("load rpcs=%d errors=%d secs=%.3f rps=%.1f p99ms=%.3f differ=%d\n", len(all), nerr,
		secs, float64(len(all))/secs, float64(p99.Microseconds())/1000, ndiff)
	if nerr > 0 {
		return fmt.Errorf("%d of %d RPCs failed", nerr, len(all))
	}
	if ndiff > 0 {
		return fmt.Errorf("%d of %d RPCs brought a different result", ndiff, len(all))
	}
	return nil
}

func call() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc, err := grpc.DialContext(ctx, *target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return err
	}
	defer cc.Close()
	c := NewChainClient(cc)
	if *load > 0 || *rpcs > 0 {
		return loadRun(c)
	}
	if *nrpc <= 0 {
		line := callOne(ctx, c, *path, *tp)
		fmt.Printf("resp i=1 %s\n", line)
		if !strings.HasSuffix(line, " status=OK") {
			return fmt.Errorf("the RPC failed")
		}
		return nil
	}
	lines := make([]string, *nrpc)
	var wg sync.WaitGroup
	for i := 1; i <= *nrpc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := fmt.Sprintf("00-%032x-%016x-01", 0xabc000+i, i)
			lines[i-1] = fmt.Sprintf("resp i=%d %s", i, callOne(ctx, c, fmt.Sprintf("/c%d", i), t))
		}(i)
	}
	wg.Wait()
	failed := 0
	for _, l := range lines {
		fmt.Println(l)
		if !strings.HasSuffix(l, " status=OK") {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d RPCs failed", failed, *nrpc)
	}
	return nil
}

func main() {
	flag.Parse()
	var err error
	if *target != "" {
		err = call()
	} else {
		err = serve()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcchain %s: error: %v\n", *name, err)
		os.Exit(1)
	}
}
