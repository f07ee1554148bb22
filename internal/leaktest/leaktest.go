// Package leaktest fails a test that leaves goroutines behind: the
// project promises never to leak one, whatever a peer sends.
package leaktest

import (
	"runtime"
	"testing"
	"time"
)

// grace is how long ending goroutines get; tests of this package shorten it.
var grace = 10 * time.Second

// Check fails t if, when it ends, more goroutines run than when Check
// was called. Goroutines that are ending get 10 seconds to go (a Perl
// peer on a loaded machine can be that slow to hang up); the failure
// shows every goroutine's stack.
func Check(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(grace)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines left behind (before %d):\n%s", n-before, before, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
