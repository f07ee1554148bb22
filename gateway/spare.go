package gateway

import "time"

// An accepted connection is served on a goroutine that negotiates and
// then reads the channel. When the channel ends, that goroutine waits a
// while for the next accepted connection instead of exiting: its stack
// has already grown to what a channel needs. A fresh goroutine's stack
// grew twice (2 to 8 KB) on every connection, and growing it (copying
// frames, adjusting pointers) and freeing it were about a tenth of the
// server's CPU per connect-negotiate-close cycle.
const (
	// spareIdle is how long a spare waits before exiting (Kernel.spareIdle;
	// tests shorten it).
	spareIdle = 2 * time.Second
	// maxSpares caps the goroutines waiting at once, so that a burst
	// of closes does not leave thousands behind for spareIdle.
	maxSpares = 32
)

// goServe runs f on a spare goroutine, or on a new one. The caller
// holds a k.wg count for it (taken where Shutdown cannot be waiting on a
// zero count); a spare holds its own, so the caller's is released. The
// goroutine holds its count for as long as it runs or waits; Shutdown's
// done sends waiting spares away.
func (k *Kernel) goServe(f func()) {
	select {
	case k.spare <- f:
		k.wg.Done()
		return
	default:
	}
	go k.serveLoop(f)
}

func (k *Kernel) serveLoop(f func()) {
	defer k.wg.Done()
	var idle *time.Timer
	for {
		f()
		f = nil
		if k.spares.Add(1) > maxSpares {
			k.spares.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(k.spareIdle)
		} else {
			idle.Reset(k.spareIdle)
		}
		select {
		case f = <-k.spare:
		case <-idle.C:
		case <-k.done:
		}
		k.spares.Add(-1)
		if f == nil {
			return
		}
	}
}
