package gateway

import "time"

// Handlers run on their channel's reader when nothing is queued (see
// channel.runInline). A handler that runs long must not stop its channel
// being read: replies to its own calls over that channel come through
// the reader, and so does a disconnect. The watchdog hands reading to a
// new goroutine for a handler running longer than inlineTakeover.
//
// It is one goroutine per kernel, ticking only while handlers run and
// for a while after, so a quick request costs two atomic operations
// rather than a timer (a timer reset wakes the runtime's poller: 15% of
// the server's CPU per sequential call).
const (
	inlineTakeover = time.Millisecond
	watchTick      = time.Millisecond
	watchLinger    = 200 // ticks without inline handlers before it stops
)

// watchInline counts a handler starting inline and makes sure the
// watchdog runs.
func (k *Kernel) watchInline() {
	k.inlineNow.Add(1)
	if k.watching.Load() || !k.watching.CompareAndSwap(false, true) {
		return
	}
	k.wg.Add(1)
	go k.watchdog()
}

func (k *Kernel) watchdog() {
	defer k.wg.Done()
	t := time.NewTicker(watchTick)
	defer t.Stop()
	quiet, linger := 0, watchLinger
	done := k.done
	for {
		select {
		case <-t.C:
		case <-done:
			done, linger = nil, 1 // shutting down: stop once no handler runs inline
			continue
		}
		if k.inlineNow.Load() == 0 {
			if quiet++; quiet < linger {
				continue
			}
			k.watching.Store(false)
			// A handler that went inline after the check above found
			// watching still true and relies on this goroutine.
			if k.inlineNow.Load() == 0 || !k.watching.CompareAndSwap(false, true) {
				return
			}
		}
		quiet = 0
		k.takeOverSlow()
	}
}

// takeOverSlow hands reading to a new goroutine for every channel whose
// inline handler started more than inlineTakeover ago.
func (k *Kernel) takeOverSlow() {
	limit := time.Now().Add(-inlineTakeover).UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	for ch := range k.channels {
		if from := ch.inlineFrom.Load(); from > 0 && from < limit {
			k.wg.Add(1)
			if !ch.takeOver(from) {
				k.wg.Done()
			}
		}
	}
}
