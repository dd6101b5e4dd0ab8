// httpprobe: a small net/http program for the analyzer's tests and known
// tables. It serves and fetches over loopback (plain HTTP/1.1 and TLS with
// HTTP/2), so the net/http server, client, bundled HTTP/2, bufio and
// crypto/tls code that weft instruments is linked in and really used.
//
//	httpprobe            run one plain and one TLS round trip, print "ok"
//	httpprobe -serve A   serve on address A until killed
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

func handler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s %s traceparent=%q\n", r.Method, r.URL.Path, r.Proto,
		r.Header.Get("traceparent"))
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}

func get(c *http.Client, url string) (string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "httpprobe")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func run() error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", handler)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	plain := &http.Server{Handler: mux}
	go plain.Serve(ln)
	defer plain.Close()

	cert, pool, err := selfSigned()
	if err != nil {
		return err
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	secure := &http.Server{Handler: mux, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}}
	go secure.ServeTLS(tln, "", "")
	defer secure.Close()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	for _, u := range []string{"http://" + ln.Addr().String() + "/plain",
		"https://" + tln.Addr().String() + "/tls"} {
		body, err := get(client, u)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		w.WriteString(body)
		w.Flush()
	}
	return nil
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve" {
		mux := http.NewServeMux()
		mux.HandleFunc("/", handler)
		if err := http.ListenAndServe(os.Args[2], mux); err != nil {
			fmt.Fprintln(os.Stderr, "httpprobe: error:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpprobe: error:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
