package daemon

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultGCHeapFloor is limits.gc_heap_floor's default.
const DefaultGCHeapFloor = 16 << 20

// gcTuner keeps the garbage collector from running before the heap has
// grown limits.gc_heap_floor bytes past the live data. Go's default
// (GOGC=100) runs it when the heap doubles: a gateway holds a few MB of
// live data and allocates per message, so that is a collection every few
// MB of traffic, a fifth of its CPU under load. With the floor a busy
// gateway's heap grows by about that much more; one whose live data is
// already past the floor is unchanged (the percent never goes under
// the program's own, Go's 100 by default). The default, 16 MiB, takes most of the gain (64 MiB saved little
// more) and keeps 10,000 idle connections under 20 KB each: memory freed
// by a collection stays with the process up to the heap goal, so the
// floor shows in RSS.
//
// After each collection it sets the percent that puts the next one
// floor bytes past the live heap. Go's heap goal is live heap + (live
// heap + goroutine stacks + globals) x percent/100, so the percent is
// the floor over that sum: with thousands of connections' stacks,
// dividing by the live heap alone let the heap grow many times the
// floor. GOGC in the environment is the operator's choice, and turns
// the tuner off; so does a program that turned the collector off.
//
// The percent is process-wide: the first daemon of a process to run
// tunes it, until it stops; others leave it alone.
type gcTuner struct {
	floor   atomic.Int64
	stopped atomic.Bool
	mu      sync.Mutex
	percent int // what it last set
	orig    int // the percent before it started: its minimum, restored on stop
	sample  []rtmetrics.Sample
}

// gcPercentFor is the GC percent that lets the heap grow by floor past
// the live heap before the next collection, given the bytes the
// collector scans (live heap, stacks, globals): at least base (the
// program's own percent, Go's 100 by default), at most 10000.
func gcPercentFor(scan, floor int64, base int) int {
	if floor <= 0 {
		return base
	}
	scan = max(scan, 1<<20)
	return int(min(max(floor*100/scan, int64(base)), 10000))
}

// activeTuner is the process's tuner: the GC percent is process-wide, so
// the first daemon to run owns it.
var activeTuner atomic.Pointer[gcTuner]

// startGCTuner starts tuning with floor (0: the program's percent); nil
// when GOGC is set in the environment, the program turned the collector
// off, or another daemon of the process tunes.
func startGCTuner(floor int64) *gcTuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	t := &gcTuner{sample: []rtmetrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	t.floor.Store(floor)
	if !activeTuner.CompareAndSwap(nil, t) {
		return nil
	}
	t.orig = debug.SetGCPercent(100)
	if t.orig < 0 { // the program turned the collector off: leave it so
		debug.SetGCPercent(t.orig)
		activeTuner.CompareAndSwap(t, nil)
		return nil
	}
	debug.SetGCPercent(t.orig)
	t.percent = t.orig
	t.tune()
	t.arm()
	return t
}

// setFloor applies a reloaded limits.gc_heap_floor at once.
func (t *gcTuner) setFloor(floor int64) {
	if t != nil {
		t.floor.Store(floor)
		t.tune()
	}
}

// stop restores the percent the process had.
func (t *gcTuner) stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(t.orig)
	activeTuner.CompareAndSwap(t, nil)
}

// arm has tune run after the next collection: a finalizer runs once the
// collector has found its object unreachable.
func (t *gcTuner) arm() {
	s := new(gcSentinel)
	runtime.SetFinalizer(s, func(*gcSentinel) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	})
}

type gcSentinel struct{ _ [16]byte } // not tiny: tiny objects share a block, and their finalizers run late

func (t *gcTuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	rtmetrics.Read(t.sample)
	var scan int64 // live heap + stacks + globals
	for _, s := range t.sample {
		if s.Value.Kind() == rtmetrics.KindUint64 {
			scan += int64(s.Value.Uint64())
		}
	}
	p := gcPercentFor(scan, t.floor.Load(), t.orig)
	// Set it when it moves by a tenth or more: each setting recomputes
	// the pacer.
	if d := p - t.percent; d*10 >= t.percent || -d*10 >= t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}
