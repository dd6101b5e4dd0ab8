// chain: a test service for weft-go. It serves HTTP and, per request, calls the
// next hop (-next URL) with net/http, then answers with its own name followed
// by the next hop's answer. It carries no tracing library: every traceparent it
// sends comes from weft-go. Each request it receives is logged on stdout as
//
//	recv name=A path=/x n=1 traceparent=00-...
//
// so tests can assert what arrived on the wire (n = number of traceparent
// values; values joined by ',').
//
// Modes (-mode): direct (call from the handler's goroutine), goroutine (call
// from a goroutine the handler spawns, twice removed), appset (the handler sets
// its own traceparent, -app-tp, on the outgoing request), proxy (an
// httputil.ReverseProxy to -next: it copies the incoming headers, traceparent
// and tracestate included, onto its request, and answers with the next hop's
// answer as is). -app-ts sets the app's own tracestate on outgoing requests,
// -body makes them POSTs with that body. A request carrying tracestate is
// also logged as
//
//	recvts name=A path=/x n=1 tracestate=...
//
// (values joined by '|').
//
// -h2 tls serves HTTP/2 over TLS (ALPN h2, net/http's bundled HTTP/2) and
// calls an https:// next hop over HTTP/2 with net/http's Transport; -h2 h2c
// serves cleartext HTTP/2 with prior knowledge (golang.org/x/net/http2/h2c)
// and calls an http:// next hop with x/net's http2.Transport (AllowHTTP).
// Either way concurrent calls to the next hop share its one connection.
//
// -get BASE makes the program a client instead (curl 7.88 cannot multiplex
// cleartext HTTP/2): -n requests GET BASE/c1 .. BASE/cN at once, with -h2's
// client, request i carrying traceparent 00-<0xabc000+i>-<i>-01; it prints
//
//	resp path=/ci status=200 proto=HTTP/2.0
//
// per request and, last, conns=K: the connections it opened (httptrace).
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

var proxy *httputil.ReverseProxy // -mode proxy

var (
	name   = flag.String("name", "A", "service name used in answers and logs")
	listen = flag.String("listen", "127.0.0.1:0", "address to serve on")
	next   = flag.String("next", os.Getenv("CHAIN_NEXT"), "next hop base URL (empty: leaf)")
	mode   = flag.String("mode", "direct", "direct | goroutine | appset | proxy")
	appTP  = flag.String("app-tp", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "traceparent set by the app in appset mode")
	quiet  = flag.Bool("quiet", false, "do not log requests (benchmarks)")
	delay  = flag.Duration("delay", 0, "sleep this long in each request (leaf)")
	pfile  = flag.String("port-file", "", "write the bound port here once listening")
	useTLS = flag.Bool("tls", false, "serve HTTPS (HTTP/1.1) with a self-signed certificate")
	appTS  = flag.String("app-ts", "", "tracestate the app sets on its outgoing requests (any mode but proxy)")
	post   = flag.String("body", "", "call the next hop with POST and this body (default: GET)")
	h2     = flag.String("h2", "", "serve and call over HTTP/2: tls (ALPN) or h2c (cleartext, prior knowledge)")
	getURL = flag.String("get", "", "client mode: GET BASE/c1..cN concurrently (-n) and exit")
	count  = flag.Int("n", 100, "requests in client mode")
)

var (
	logMu  sync.Mutex
	logOut = bufio.NewWriter(os.Stdout)
	// A custom TLS config keeps the client on HTTP/1.1 for https:// next hops.
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
)

func logf(format string, args ...interface{}) {
	logMu.Lock()
	fmt.Fprintf(logOut, format, args...)
	logOut.Flush()
	logMu.Unlock()
}

// h2Client is the client of -h2 mode.
func h2Client() *http.Client {
	if *h2 == "h2c" {
		return &http.Client{Transport: &http2.Transport{AllowHTTP: true, DisableCompression: true,
			DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
				return net.Dial(network, addr)
			}}}
	}
	return &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, DisableCompression: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func call(path string) (string, int, error) {
	method, body := "GET", io.Reader(nil)
	if *post != "" {
		method, body = "POST", strings.NewReader(*post)
	}
	req, err := http.NewRequest(method, *next+path, body)
	if err != nil {
		return "", 0, err
	}
	if *mode == "appset" {
		req.Header.Set("traceparent", *appTP)
	}
	if *appTS != "" {
		req.Header.Set("tracestate", *appTS)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// callFromGoroutine calls from a grandchild goroutine of the handler.
func callFromGoroutine(path string) (string, int, error) {
	type result struct {
		body   string
		status int
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, s, e := call(path)
			ch <- result{b, s, e}
		}()
		wg.Wait()
	}()
	r := <-ch
	return r.body, r.status, r.err
}

func handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		io.WriteString(w, "ok\n")
		return
	}
	if !*quiet {
		tp := r.Header.Values("Traceparent")
		logf("recv name=%s path=%s n=%d traceparent=%s\n", *name, r.URL.Path, len(tp), strings.Join(tp, ","))
		if ts := r.Header.Values("Tracestate"); len(ts) > 0 {
			logf("recvts name=%s path=%s n=%d tracestate=%s\n", *name, r.URL.Path, len(ts), strings.Join(ts, "|"))
		}
	}
	if *delay > 0 {
		time.Sleep(*delay)
	}
	if *next == "" {
		fmt.Fprintf(w, "%s%s\n", *name, r.URL.Path)
		return
	}
	if *mode == "proxy" {
		proxy.ServeHTTP(w, r)
		return
	}
	var body string
	var status int
	var err error
	if *mode == "goroutine" {
		body, status, err = callFromGoroutine(r.URL.Path)
	} else {
		body, status, err = call(r.URL.Path)
	}
	if err != nil {
		http.Error(w, *name+": "+err.Error(), http.StatusBadGateway)
		return
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	fmt.Fprintf(w, "%s>%s", *name, body)
}

// getAll is -get mode: -n concurrent requests; false when any failed.
func getAll() bool {
	var conns int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			atomic.AddInt64(&conns, 1)
		}
	}}
	lines := make([]string, *count)
	var wg sync.WaitGroup
	for i := 1; i <= *count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := fmt.Sprintf("/c%d", i)
			req, err := http.NewRequest("GET", *getURL+path, nil)
			if err != nil {
				lines[i-1] = fmt.Sprintf("resp path=%s error=%v", path, err)
				return
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			req.Header.Set("traceparent", fmt.Sprintf("00-%032x-%016x-01", 0xabc000+i, i))
			resp, err := client.Do(req)
			if err != nil {
				lines[i-1] = fmt.Sprintf("resp path=%s error=%v", path, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lines[i-1] = fmt.Sprintf("resp path=%s status=%d proto=%s", path, resp.StatusCode, resp.Proto)
		}(i)
	}
	wg.Wait()
	ok := true
	for _, l := range lines {
		fmt.Println(l)
		ok = ok && strings.Contains(l, " status=200 ")
	}
	fmt.Printf("conns=%d\n", atomic.LoadInt64(&conns))
	return ok
}

func main() {
	flag.Parse()
	switch *h2 {
	case "":
	case "tls", "h2c":
		client = h2Client()
	default:
		fmt.Fprintln(os.Stderr, "chain: -h2 must be tls or h2c")
		os.Exit(2)
	}
	if *getURL != "" {
		if !getAll() {
			os.Exit(1)
		}
		return
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
	if *pfile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		tmp := *pfile + ".tmp"
		os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o644)
		os.Rename(tmp, *pfile)
	}
	if *mode == "proxy" {
		u, err := url.Parse(*next)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chain: -next:", err)
			os.Exit(1)
		}
		proxy = httputil.NewSingleHostReverseProxy(u)
		proxy.Transport = client.Transport
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle)}
	switch {
	case *h2 == "tls":
		// Serve sets up HTTP/2 (TLSNextProto is nil); ALPN offers h2.
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned()},
			NextProtos: []string{"h2", "http/1.1"}})
	case *h2 == "h2c":
		srv.Handler = h2c.NewHandler(srv.Handler, &http2.Server{})
	case *useTLS:
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned()}})
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "chain:", err)
		os.Exit(1)
	}
}

// selfSigned makes a throwaway certificate for 127.0.0.1.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "weft-chain"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
