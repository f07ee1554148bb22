// Package gcfloor keeps Go's garbage collector from running every few MB
// in a program that holds little live data and allocates per message, as
// an IKC kernel does.
//
// Go's default (GOGC=100) collects when the heap has doubled since the
// last collection. A gateway holds a few MB of live data and allocates a
// few hundred bytes per message, so at a million posts a second that is a
// collection every few milliseconds: nearly a third of the daemon's CPU
// per post, and 13-17% of a Go client's per pipelined call, as measured.
// A floor lets the heap grow a fixed number of bytes past the live data
// before the next collection; once the live data is larger than the
// floor, the program's own percent applies again. The ikcgate daemon
// runs one (limits.gc_heap_floor); a Go program that embeds a
// gateway.Kernel may start its own.
//
// The GC percent is process-wide, so the first Tuner started in a process
// owns it, and GOGC in the environment, the operator's choice, turns the
// floor off.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultFloor is the daemon's limits.gc_heap_floor default. It takes
// most of the gain (64 MiB saved little more) and keeps 10,000 idle
// connections under 20 KB each: memory freed by a collection stays with
// the process up to the heap goal, so the floor shows in RSS.
const DefaultFloor = 16 << 20

// Tuner keeps the garbage collector from running before the heap has
// grown its floor past the live data. With the floor a busy program's
// heap grows by about that much more; one whose live data is already past
// the floor is unchanged (the percent never goes under the program's own,
// Go's 100 by default).
//
// After each collection it sets the percent that puts the next one
// floor bytes past the live heap. Go's heap goal is live heap + (live
// heap + goroutine stacks + globals) x percent/100, so the percent is
// the floor over that sum: with thousands of connections' stacks,
// dividing by the live heap alone let the heap grow many times the
// floor. GOGC in the environment is the operator's choice, and turns
// the tuner off; so does a program that turned the collector off.
//
// The percent is process-wide: the first Tuner of a process tunes it,
// until it stops; Start returns nil for any other.
type Tuner struct {
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
// the first Tuner started owns it.
var activeTuner atomic.Pointer[Tuner]

// Start starts tuning with floor bytes (0: the program's own percent). It
// returns nil when GOGC is set in the environment, the program turned the
// collector off, or another Tuner of the process is running; the methods
// of a nil Tuner do nothing, so a caller need not check.
func Start(floor int64) *Tuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	t := &Tuner{sample: []rtmetrics.Sample{
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

// SetFloor changes the floor at once, not at the next collection (the
// daemon calls it on a reload).
func (t *Tuner) SetFloor(floor int64) {
	if t != nil {
		t.floor.Store(floor)
		t.tune()
	}
}

// Stop restores the percent the process had, and lets another Tuner
// start.
func (t *Tuner) Stop() {
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
func (t *Tuner) arm() {
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

func (t *Tuner) tune() {
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
