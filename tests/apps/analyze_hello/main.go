// A small net/http program for weft-analyze's own correctness test. Run with
// "offsets" it prints what Go itself reports for exported struct fields.
package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"unsafe"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "offsets" {
		var r http.Request
		var u url.URL
		var resp http.Response
		fmt.Printf("net/http.Request.Method %d\n", unsafe.Offsetof(r.Method))
		fmt.Printf("net/http.Request.URL %d\n", unsafe.Offsetof(r.URL))
		fmt.Printf("net/http.Request.Header %d\n", unsafe.Offsetof(r.Header))
		fmt.Printf("net/http.Request.Host %d\n", unsafe.Offsetof(r.Host))
		fmt.Printf("net/http.Request.ProtoMajor %d\n", unsafe.Offsetof(r.ProtoMajor))
		fmt.Printf("net/http.Request.RemoteAddr %d\n", unsafe.Offsetof(r.RemoteAddr))
		fmt.Printf("net/http.Request.TLS %d\n", unsafe.Offsetof(r.TLS))
		fmt.Printf("net/url.URL.Scheme %d\n", unsafe.Offsetof(u.Scheme))
		fmt.Printf("net/url.URL.Host %d\n", unsafe.Offsetof(u.Host))
		fmt.Printf("net/url.URL.Path %d\n", unsafe.Offsetof(u.Path))
		fmt.Printf("net/http.Response.StatusCode %d\n", unsafe.Offsetof(resp.StatusCode))
		return
	}
	if len(os.Args) > 5 {
		go http.ListenAndServe("127.0.0.1:0", nil)
		if resp, err := http.Get("http://127.0.0.1:1/"); err == nil {
			resp.Body.Close()
		}
	}
	fmt.Println("hello")
}
