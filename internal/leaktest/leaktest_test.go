package leaktest

import (
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what the check reports.
type recorder struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(f string, a ...any) {
	r.errors = append(r.errors, strings.SplitN(f, "\n", 2)[0])
}

func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestAGoroutineLeftRunningFailsTheTest(t *testing.T) {
	r := &recorder{TB: t}
	stop := make(chan struct{})
	defer close(stop)
	Check(r)
	go func() { <-stop }()
	start := time.Now()
	r.end()
	if len(r.errors) != 1 {
		t.Fatalf("a goroutine left running gave %d errors, want 1", len(r.errors))
	}
	if waited := time.Since(start); waited < 9*time.Second {
		t.Errorf("failed after %v: a goroutine that is ending gets 10 s", waited)
	}
}

func TestAGoroutineThatEndsSoonPasses(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	go func() { time.Sleep(100 * time.Millisecond) }()
	r.end()
	if len(r.errors) != 0 {
		t.Fatalf("a goroutine that ended within the grace period failed the test: %v", r.errors)
	}
}
