//go:build !cgo

package main

func cgoTouch() {}
