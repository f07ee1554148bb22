package gateway

import (
	"context"
	"errors"
	"os"
	"time"
)

// A sequential caller reads its own reply.
//
// A channel's reader waits in the runtime's poller. When a reply comes
// it settles the call, and the caller, parked on the call's done
// channel, is made runnable: with another P idle the runtime wakes a
// thread for it, and on a VM that wake-up, the spinning and the sleep
// after it cost a Go client more than the rest of the call (a client
// calling one call at a time spent 39-56 us of CPU per call; the same
// client on one P, 25 us).
//
// So when the reader settles a call that a caller awaits, and no other
// call is pending and nothing more is buffered, it lends the read role
// (rmu) and sleeps for defaultLendFor. A caller that then awaits its reply
// takes the role and reads frames itself until its reply comes: the
// poller wakes it directly, as it would wake a plain read. Whatever else
// it reads is dispatched as the reader would: replies and error reports
// settled, requests queued for the worker (never run on the caller).
// When it leaves with other calls pending, or a call starts that nobody
// will lead (Go, a forwarded call), the reader is woken at once; else it
// takes the role back once that time passes with no caller leading, and
// reads on. A frame the peer sends on its own while no call is awaited
// waits at most about twice that.
const defaultLendFor = time.Millisecond

// mayLend reports whether the reader may lend the read role now that p
// (nil for other frames) is settled: p's caller awaits it here and no
// other call is pending on the channel.
func (ch *channel) mayLend(p *pendingCall) bool {
	if p == nil || p.ch != ch || !p.awaited.Load() || ch.noLead.Load() {
		return false
	}
	ch.mu.Lock()
	idle := len(ch.pending) == 0 && ch.failErr == nil && !ch.draining
	ch.mu.Unlock()
	return idle
}

// sleepLent is the reader's sleep while the role is lent. It sleeps on
// while callers keep leading (each period, it checks that one did), and
// ends when a period passes without one, when woken, or when the channel
// drains or dies.
func (ch *channel) sleepLent() {
	for {
		period := time.Duration(ch.k.lendFor.Load())
		if period <= 0 {
			period = defaultLendFor
		}
		led := ch.leads.Load()
		if ch.lendT == nil {
			ch.lendT = time.NewTimer(period)
		} else {
			ch.lendT.Reset(period)
		}
		select {
		case <-ch.lendT.C:
			if ch.leads.Load() != led {
				continue
			}
		case <-ch.wake:
			ch.lendT.Stop()
		case <-ch.drainCh:
			ch.lendT.Stop()
		case <-ch.dead:
			ch.lendT.Stop()
		}
		ch.lent.Store(false)
		return
	}
}

// wakeReader ends the reader's sleep, if it sleeps.
func (ch *channel) wakeReader() {
	if ch.lent.Load() {
		select {
		case ch.wake <- struct{}{}:
		default:
		}
	}
}

// lead reads frames for the reader while c's caller waits, until c is
// answered, ctx ends, or c expires; it returns at once unless the role
// is lent and free.
func (c *startedCall) lead(ctx context.Context) {
	ch := c.ch
	if !ch.lent.Load() || !ch.rmu.TryLock() {
		return
	}
	// The poller wakes the caller when ctx's deadline or the call's
	// expiry passes, and at once when ctx is cancelled.
	var dl time.Time
	if d, ok := ctx.Deadline(); ok {
		dl = d
	} else if c.p.deadline != 0 {
		dl = time.Now().Add(time.Duration(c.p.deadline - c.k.clock()))
	}
	if dl.IsZero() || ch.nc.SetReadDeadline(dl) != nil {
		// Without a deadline the caller could not stop waiting: a
		// connection without deadlines (some net.Conn wrappers) is
		// left to the reader, which stops lending.
		ch.noLead.Store(true)
		ch.rmu.Unlock()
		ch.wakeReader()
		return
	}
	ch.leads.Add(1)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { ch.nc.SetReadDeadline(time.Unix(1, 0)) })
	}
	failed := false
	for !c.answered() {
		req, err := ch.readRequest(ch.fr, false)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				ch.leadErr = err // the reader ends the channel with it
				failed = true
			}
			break
		}
		if ok, p := ch.settle(req); ok {
			if p != nil {
				p.finish(req.Params, nil)
			}
			continue
		}
		if ch.isDraining() {
			continue
		}
		if !ch.queue(req) {
			break // the channel died
		}
	}
	stop() // a late AfterFunc may still set a past deadline: the reader reads on past it (readRequest)
	ch.nc.SetReadDeadline(time.Time{})
	ch.rmu.Unlock()
	ch.mu.Lock()
	others := len(ch.pending) > 0
	ch.mu.Unlock()
	if others || failed {
		ch.wakeReader()
	}
}

// answered reports whether c has its answer (or failed).
func (c *startedCall) answered() bool {
	select {
	case <-c.p.done:
		return true
	default:
		return false
	}
}
