package gateway

import (
	"context"
	"time"
)

// Handlers run on their channel's reader when nothing is queued (see
// channel.runInline). A handler that waits must not stop its channel
// being read: replies to its own calls over that channel come through
// the reader, and so does a disconnect. So a handler about to wait hands
// reading to a new goroutine first (WillBlock; the kernel's Call does
// this itself), and the watchdog does it for a handler running longer
// than inlineTakeover that did not say so.
//
// The watchdog is one goroutine per kernel, ticking only while handlers
// run and for a while after, so a quick request costs two atomic
// operations rather than a timer (a timer reset wakes the runtime's
// poller: 15% of the server's CPU per sequential call). It ticked every
// millisecond at first: those wake-ups were 15-20% of the CPU of a
// server taking posts from a Perl client.
const (
	inlineTakeover = 5 * time.Millisecond
	watchTick      = 5 * time.Millisecond
)

const watchLinger = 200 // ticks without inline handlers before it stops

// WillBlock tells the kernel that the handler running with ctx is about
// to wait (for I/O, another service, a lock): if it runs on its
// channel's reader, reading moves to a new goroutine now rather than
// when the watchdog notices, so frames that arrive meanwhile (a reply
// the handler waits for, a disconnect) are read at once. It is cheap,
// and does nothing for a context that is not a handler's or whose
// handler does not run on the reader.
func WillBlock(ctx context.Context) {
	if ch, ok := ctx.Value(handlerChannelKey{}).(*channel); ok {
		ch.handOffRead()
	}
}

// handlerChannelKey marks a channel's handler context with the channel.
type handlerChannelKey struct{}

// handOffRead hands reading to a new goroutine if a handler runs inline
// on ch's reader (with one handler at a time per channel, it is the
// caller's, or the caller's handler's).
func (ch *channel) handOffRead() {
	from := ch.inlineFrom.Load()
	if from <= 0 {
		return
	}
	ch.k.wg.Add(1)
	if !ch.takeOver(from) {
		ch.k.wg.Done()
	}
}

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
	t := time.NewTicker(k.watchTick)
	defer t.Stop()
	quiet, linger := 0, watchLinger
	done := k.done
	for {
		select {
		case <-t.C:
		case <-done:
			// Shutting down: stop as soon as no handler runs inline,
			// looking often rather than every tick.
			done, linger = nil, 1
			quiet = 0
			t.Reset(time.Millisecond)
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
// inline handler has run for inlineTakeover: the same run seen running
// at that many ticks in a row. Runs are told apart by a count, not a
// start time: reading the clock for every inline handler was 4% of a
// server's CPU per post.
func (k *Kernel) takeOverSlow() {
	ticks := max(1, int((k.inlineTakeover+k.watchTick-1)/k.watchTick))
	k.mu.Lock()
	defer k.mu.Unlock()
	for ch := range k.channels {
		from := ch.inlineFrom.Load()
		if from <= 0 || from != ch.watchSaw {
			ch.watchSaw, ch.watchTicks = from, 0
			continue
		}
		if ch.watchTicks++; ch.watchTicks < ticks {
			continue
		}
		k.wg.Add(1)
		if !ch.takeOver(from) {
			k.wg.Done()
		}
	}
}
