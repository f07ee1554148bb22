package daemon

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentLetsTheHeapGrowByTheFloor(t *testing.T) {
	for _, c := range []struct {
		live, floor int64
		want        int
	}{
		{4 << 20, 64 << 20, 1600},   // a gateway's few MB: a collection every 64 MB
		{3 << 20, 100 << 20, 3333},  // rounds down
		{48 << 20, 64 << 20, 133},   // a little over Go's default
		{64 << 20, 64 << 20, 100},   // live data at the floor: Go's default
		{512 << 20, 64 << 20, 100},  // past it: never under Go's default
		{0, 64 << 20, 6400},         // an empty heap counts as 1 MB
		{1 << 19, 10 << 20, 1000},   // so does one under 1 MB
		{100 << 10, 1 << 40, 10000}, // capped
		{4 << 20, 0, 100},           // off
		{4 << 20, -1, 100},          // off
	} {
		if got := gcPercentFor(c.live, c.floor); got != c.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
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
	t.Setenv("GOGC", "") // t.Setenv restores it; the tuner must see it unset
	unsetenv(t, "GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	tu := startGCTuner(512 << 20) // far above this test binary's live heap
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
	tu.setFloor(0)
	deadline = time.Now().Add(5 * time.Second)
	for gogc(t) != 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := gogc(t); p != 100 {
		t.Fatalf("GOGC %d after the floor went to 0, want 100", p)
	}
	tu.setFloor(512 << 20)
	runtime.GC()
	tu.stop()
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
	if tu := startGCTuner(64 << 20); tu != nil {
		tu.stop()
		t.Fatal("tuner started though GOGC is set")
	}
}

// unsetenv removes key for the test (t.Setenv can only set it).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
