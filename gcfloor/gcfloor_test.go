package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"testing"
	"time"
)

func TestGCPercentLetsTheHeapGrowByTheFloor(t *testing.T) {
	for _, c := range []struct {
		scan, floor int64
		base        int
		want        int
	}{
		{4 << 20, 64 << 20, 100, 1600},   // a gateway's few MB: a collection every 64 MB
		{3 << 20, 100 << 20, 100, 3333},  // rounds down
		{48 << 20, 64 << 20, 100, 133},   // a little over Go's default
		{64 << 20, 64 << 20, 100, 100},   // scanned bytes at the floor: Go's default
		{512 << 20, 64 << 20, 100, 100},  // past it: never under Go's default
		{0, 64 << 20, 100, 6400},         // nothing scanned counts as 1 MB
		{1 << 19, 10 << 20, 100, 1000},   // so does under 1 MB
		{100 << 10, 1 << 40, 100, 10000}, // capped
		{4 << 20, 0, 100, 100},           // off
		{4 << 20, -1, 100, 100},          // off
		{64 << 20, 64 << 20, 300, 300},   // never under the program's own percent
		{4 << 20, 0, 50, 50},             // off: the program's percent
		{4 << 20, 64 << 20, 50, 1600},    // a lower program percent is raised like Go's
	} {
		if got := gcPercentFor(c.scan, c.floor, c.base); got != c.want {
			t.Errorf("gcPercentFor(%d, %d, %d) = %d, want %d", c.scan, c.floor, c.base, got, c.want)
		}
	}
}

func gogc(t *testing.T) uint64 {
	t.Helper()
	s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

func TestGCTunerRaisesThePercentForASmallHeapAndRestoresItOnStop(t *testing.T) {
	unsetenv(t, "GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	tu := Start(512 << 20) // far above this test binary's live heap
	if tu == nil {
		t.Fatal("no tuner without GOGC")
	}
	deadline := time.Now().Add(5 * time.Second)
	for gogc(t) < 200 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer runs after the collection
	}
	if p := gogc(t); p < 200 {
		t.Fatalf("GOGC %d after collections with a 512 MiB floor, want well over 100", p)
	}
	tu.SetFloor(0) // a reload: applied at once, not at the next collection
	if p := gogc(t); p != 100 {
		t.Fatalf("GOGC %d right after the floor went to 0, want 100", p)
	}
	tu.SetFloor(512 << 20)
	runtime.GC()
	tu.Stop()
	if p := gogc(t); p != 100 {
		t.Fatalf("GOGC %d after stop, want the 100 it started from", p)
	}
	runtime.GC() // the armed finalizer runs and must not tune any more
	time.Sleep(20 * time.Millisecond)
	if p := gogc(t); p != 100 {
		t.Fatalf("GOGC %d after stop and a collection, want 100", p)
	}
}

func TestGCTunerStaysOffWhenGOGCIsSet(t *testing.T) {
	t.Setenv("GOGC", "150")
	if tu := Start(64 << 20); tu != nil {
		tu.Stop()
		t.Fatal("tuner started though GOGC is set")
	}
}

// unsetenv removes key for the test, and puts back what it held after
// (t.Setenv can only set it, but restores it).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

// The heap goal counts goroutine stacks and globals too: a gateway with
// thousands of connections' stacks and a small live heap must not get a
// percent that lets the heap grow many times the floor.
func TestGCTunerCountsGoroutineStacksAgainstTheFloor(t *testing.T) {
	unsetenv(t, "GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	const floor = 8 << 20
	release := make(chan struct{})
	var ready sync.WaitGroup
	for i := 0; i < 1000; i++ { // about 32 MB of stacks: four floors
		ready.Add(1)
		go deepStack(24, &ready, release)
	}
	ready.Wait()
	defer close(release)
	tu := Start(floor)
	if tu == nil {
		t.Fatal("no tuner without GOGC")
	}
	defer tu.Stop()
	runtime.GC()
	time.Sleep(20 * time.Millisecond) // the finalizer tunes after the collection
	tu.SetFloor(floor)                // and so does this, at once
	s := []rtmetrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	rtmetrics.Read(s)
	goal, live, scan := s[0].Value.Uint64(), s[1].Value.Uint64(), s[1].Value.Uint64()+s[2].Value.Uint64()+s[3].Value.Uint64()
	// At the floor or Go's default (growth by what is scanned), whichever
	// is more, give or take the pacer's rounding.
	if limit := max(uint64(floor), scan) * 5 / 4; goal-live > limit {
		t.Errorf("heap goal %d MB past the live heap (GOGC %d), want at most %d MB: stacks %d MB",
			(goal-live)>>20, gogc(t), limit>>20, s[2].Value.Uint64()>>20)
	}
}

// deepStack holds about 32 KB of stack until release closes.
func deepStack(n int, ready *sync.WaitGroup, release chan struct{}) {
	var pad [1 << 10]byte
	if n > 0 {
		deepStack(n-1, ready, release)
		stackSink += pad[n]
		return
	}
	ready.Done()
	<-release
}

var stackSink byte

func TestGCTunerKeepsTheProgramsOwnPercent(t *testing.T) {
	unsetenv(t, "GOGC")
	before := debug.SetGCPercent(300)
	defer debug.SetGCPercent(before)
	tu := Start(0)
	if tu == nil {
		t.Fatal("no tuner without GOGC")
	}
	if p := gogc(t); p != 300 {
		t.Errorf("GOGC %d with the floor off, want the program's 300", p)
	}
	tu.SetFloor(1 << 40)
	if p := gogc(t); p < 300 {
		t.Errorf("GOGC %d with a huge floor, want at least 300", p)
	}
	tu.Stop()
	if p := gogc(t); p != 300 {
		t.Errorf("GOGC %d after stop, want 300 back", p)
	}

	debug.SetGCPercent(-1) // the program turned the collector off
	if tu := Start(64 << 20); tu != nil {
		tu.Stop()
		t.Error("tuner started though the collector is off")
	}
	if p := debug.SetGCPercent(100); p != -1 {
		t.Errorf("GC percent %d, want it left off (-1)", p)
	}
}
