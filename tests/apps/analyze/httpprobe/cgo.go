//go:build cgo

// With cgo enabled the probe links a trivial C function, so the cgo build of
// the matrix really is a cgo binary (runtime/cgo, external linking).
package main

/*
static int weft_probe_c(void) { return 42; }
*/
import "C"

func init() {
	if C.weft_probe_c() != 42 {
		panic("cgo")
	}
}
