// goidtree: goroutines spawned in chains, each writing "goid=N parent=P\n"
// with one write(2) to the file named by its first argument: N is its own id
// (the header of runtime.Stack), P the id its creator passed down. The test
// loader (tests/tools/goid) reads both from the kernel at that write and
// compares (tests/integration/go_goid.test).
//
//	goidtree FILE [CHAINS [DEPTH]]      (default 40 chains of 25)
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// goid: this goroutine's id from "goroutine N [running]:".
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		panic("goidtree: cannot read the goroutine id: " + err.Error())
	}
	return n
}

func report(f *os.File, parent int64) int64 {
	me := goid()
	if _, err := f.Write([]byte(fmt.Sprintf("goid=%d parent=%d\n", me, parent))); err != nil {
		fmt.Fprintln(os.Stderr, "goidtree: write:", err)
		os.Exit(1)
	}
	return me
}

// link reports, lets the scheduler move it, reports again (another thread,
// maybe) and spawns the next link of its chain. Every fourth link locks its
// thread and ends locked: no other goroutine writes from that thread, so the
// writes come from several threads, and Go ends the thread with the link (new
// threads replace them).
func link(f *os.File, wg *sync.WaitGroup, parent int64, left int) {
	defer wg.Done()
	if left%4 == 0 {
		runtime.LockOSThread()
	}
	me := report(f, parent)
	if left%3 == 0 {
		time.Sleep(time.Duration(left%5) * 100 * time.Microsecond)
	} else {
		runtime.Gosched()
	}
	report(f, parent)
	if left > 1 {
		wg.Add(1)
		go link(f, wg, me, left-1)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goidtree FILE [CHAINS [DEPTH]]")
		os.Exit(2)
	}
	chains, depth := 40, 25
	if len(os.Args) > 2 {
		chains, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		depth, _ = strconv.Atoi(os.Args[3])
	}
	f, err := os.OpenFile(os.Args[1], os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goidtree:", err)
		os.Exit(1)
	}
	cgoTouch()
	var wg sync.WaitGroup
	me := report(f, 0)
	for i := 0; i < chains; i++ {
		wg.Add(1)
		go link(f, &wg, me, depth)
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "goidtree:", err)
		os.Exit(1)
	}
}
