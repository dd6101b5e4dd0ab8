// grpcpre: a grpc-go channel opened before an injector starts (issue 18),
// built with Debian's grpc-go (1.33) in GOPATH mode beside grpcchain, whose
// chain.proto (service weft.test.Chain) it calls; grpcchain serves it.
//
//	grpcpre -call HOST:PORT -n N
//
// dials HOST:PORT, makes one unary RPC (path /warmup), prints "ready", then
// reads one line from stdin (the go-signal: nothing is timed) and makes N
// unary RPCs one after another on the same connection, RPC i with path
// /p<i> and the app's own metadata x-weft-app=p<i>, printing one line each:
//
//	resp i=1 answer=B/p1 status=OK
//
// Exits 1 if any RPC failed or the connection was replaced (grpc-go would
// reconnect on its own: the channel must stay the one opened before).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
)

var (
	target = flag.String("call", "", "the service to call (HOST:PORT)")
	nrpc   = flag.Int("n", 1000, "RPCs after the go-signal")
)

func run() error {
	// the RPCs carry no deadline (grpc-timeout would make the bytes differ
	// from run to run); only the dial has one
	cc, err := grpc.Dial(*target, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithTimeout(60*time.Second))
	if err != nil {
		return fmt.Errorf("dial %s: %v", *target, err)
	}
	defer cc.Close()
	c := NewChainClient(cc)
	if _, err := c.Unary(context.Background(), &Req{Path: "/warmup"}); err != nil {
		return fmt.Errorf("warm-up RPC: %v", err)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("no go-signal on stdin: %v", err)
	}
	for i := 1; i <= *nrpc; i++ {
		p := fmt.Sprintf("/p%d", i)
		rctx := metadata.AppendToOutgoingContext(context.Background(), "x-weft-app", p[1:])
		resp, err := c.Unary(rctx, &Req{Path: p})
		if err != nil {
			return fmt.Errorf("RPC %d: %v", i, err)
		}
		fmt.Printf("resp i=%d answer=%s status=OK\n", i, resp.Answer)
		if s := cc.GetState(); s != connectivity.Ready && s != connectivity.Idle {
			return fmt.Errorf("the channel left READY after RPC %d: %v", i, s)
		}
	}
	return nil
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "grpcpre: error: %v\n", err)
		os.Exit(1)
	}
}
