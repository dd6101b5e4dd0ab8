//go:build big

package main

import "weft.bench/gen/all"

func init() { extra = func() int { return all.Run(3, "a,b,c") } }
