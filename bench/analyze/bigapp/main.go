// bigapp: the benchmark's real-library Go binary. It links gRPC (server,
// client, health, reflection), golang.org/x/net (http2, html, webdav,
// websocket, ipv4/ipv6, icmp, trace, proxy), google.golang.org/protobuf
// (protojson, prototext, known types) and genproto, all from Debian's
// sources. Built with -tags big it also links the generated packages of
// bench/analyze/gen-big (big.go), which take it past 50 MB.
// It does nothing unless run with -run (the benchmark only analyses it), or
// -wait: sleep an hour (bench/go/discover analyses it while it runs).
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	protov1 "github.com/golang/protobuf/proto"
	"golang.org/x/net/html"
	"golang.org/x/net/http2"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/net/proxy"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/net/trace"
	"golang.org/x/net/webdav"
	"golang.org/x/net/websocket"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var extra func() int // set by big.go

func run() error {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Stop()
	cc, err := grpc.Dial(ln.Addr().String(), grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		return err
	}

	doc, err := html.Parse(strings.NewReader("<p>weft</p>"))
	if err != nil {
		return err
	}
	fmt.Println(doc.FirstChild.Data)
	st, _ := structpb.NewStruct(map[string]interface{}{"a": 1.0, "b": "x"})
	js, _ := protojson.Marshal(st)
	tx, _ := prototext.Marshal(timestamppb.Now())
	b, _ := protov1.Marshal(&errdetails.ErrorInfo{Reason: "r", Domain: "d"})
	b2, _ := proto.Marshal(timestamppb.Now())
	b = append(b, b2...)
	fmt.Println(string(js), len(tx), len(b))
	enc, _ := htmlindex.Get("shift_jis")
	fmt.Println(language.Make("en-GB"), norm.NFC.String("é"), enc != nil)
	suffix, _ := publicsuffix.PublicSuffix("www.example.co.uk")
	fmt.Println(suffix, ipv4.Version, ipv6.Version, icmp.ParseMessage != nil, proxy.FromEnvironment() != nil)
	tr := trace.New("weft", "bench")
	tr.Finish()
	h2 := &http2.Server{}
	dav := &webdav.Handler{FileSystem: webdav.NewMemFS(), LockSystem: webdav.NewMemLS()}
	ws := websocket.Handler(func(c *websocket.Conn) { c.Close() })
	mux := http.NewServeMux()
	mux.Handle("/dav/", dav)
	mux.Handle("/ws", ws)
	hs := &http.Server{Handler: mux}
	if err := http2.ConfigureServer(hs, h2); err != nil {
		return err
	}
	if extra != nil {
		fmt.Println(extra())
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-wait" {
		time.Sleep(time.Hour)
	}
	if len(os.Args) > 1 && os.Args[1] == "-run" {
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "bigapp: error:", err)
			os.Exit(1)
		}
	}
}
