package leaktest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// settle waits until the goroutine count holds still: the previous
// test's goroutines may still be on their way out, and Check would count
// them as running before it.
func settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for same, n := 0, runtime.NumGoroutine(); same < 5; same++ {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			same, n = -1, m
		}
		if time.Now().After(deadline) {
			t.Fatal("the goroutine count never settled")
		}
	}
}

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
	settle(t)
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
	settle(t)
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
