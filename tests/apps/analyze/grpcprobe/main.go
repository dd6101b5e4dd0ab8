// grpcprobe: a small gRPC program built from Debian's grpc sources for the
// analyzer's tests and known tables. It serves the standard health service on
// loopback and calls it (unary and streaming), so grpc's server, client
// transport (http2Client, bufWriter), status and golang.org/x/net/http2
// (Framer, hpack) are linked in and used. With -h2 it also makes one request
// through golang.org/x/net/http2.Transport, which links http2.ClientConn.
//
//	grpcprobe        one unary and one streaming health call, print "ok"
//	grpcprobe -h2    also one HTTP/2 cleartext request via x/net/http2
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func grpcRoundTrip() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("weft", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := grpc.DialContext(ctx, ln.Addr().String(), grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return err
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "weft"})
	if err != nil {
		return err
	}
	fmt.Println("check:", resp.GetStatus())
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "absent"})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("want NotFound, got %v", err)
	}
	w, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "weft"})
	if err != nil {
		return err
	}
	first, err := w.Recv()
	if err != nil {
		return err
	}
	fmt.Println("watch:", first.GetStatus())
	return nil
}

// h2cRoundTrip serves HTTP/2 with prior knowledge from x/net/http2's server and
// fetches from it with x/net/http2's client transport.
func h2cRoundTrip() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	h2s := &http2.Server{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h2s.ServeConn(c, &http2.ServeConnOpts{Handler: http.HandlerFunc(
				func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprintf(w, "%s %s\n", r.Proto, r.URL.Path)
				})})
		}
	}()
	tr := &http2.Transport{AllowHTTP: true,
		DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		}}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(
		"http://" + ln.Addr().String() + "/h2c")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	return err
}

func main() {
	if err := grpcRoundTrip(); err != nil {
		fmt.Fprintln(os.Stderr, "grpcprobe: error:", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "-h2" {
		if err := h2cRoundTrip(); err != nil {
			fmt.Fprintln(os.Stderr, "grpcprobe: error:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ok")
}
