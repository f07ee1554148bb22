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
	defer func(g time.Duration) { grace = g }(grace)
	grace = 500 * time.Millisecond
	r := &recorder{TB: t}
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }()
	Check(r)
	go func() { <-stop; close(stopped) }()
	start := time.Now()
	r.end()
	if len(r.errors) != 1 {
		t.Fatalf("a goroutine left running gave %d errors, want 1", len(r.errors))
	}
	if waited := time.Since(start); waited < grace {
		t.Errorf("failed after %v: a goroutine that is ending gets %v", waited, grace)
	}
}

func TestAGoroutineThatEndsSoonPasses(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	go func() { time.Sleep(200 * time.Millisecond) }()
	start := time.Now()
	r.end()
	if len(r.errors) != 0 {
		t.Fatalf("a goroutine that ended within the grace period failed the test: %v", r.errors)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("the check returned after %v, before the goroutine ended", waited)
	}
}
