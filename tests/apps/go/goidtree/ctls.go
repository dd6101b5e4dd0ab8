//go:build cgo

package main

// A C thread-local beside Go's g: with external linking the TLS block holds
// more than g, so g is no longer at -8 from the thread pointer.

/*
__thread long goidtree_tls[3];
static long goidtree_bump(void) { return ++goidtree_tls[1]; }
*/
import "C"

func cgoTouch() { C.goidtree_bump() }
