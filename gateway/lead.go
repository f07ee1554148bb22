package gateway

import (
	"context"
	"time"

	"github.com/ikcgate/ikcgate/protocol"
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
// So when the reader has settled a call that a caller awaits, and no other
// call is pending and nothing more is buffered, it lends the read role
// (rmu) and sleeps (lendAfterAnswer: never before the answer is in, and
// not when a call started meanwhile). A caller that then awaits its reply
// takes the role and reads frames itself until its reply comes: the poller
// wakes it directly, as it would wake a plain read. Replies to other calls
// and error reports it settles as the reader would. A request from the
// peer it hands back to the reader with the role (parked), so requests are
// handled as before and in order: a post the peer sent before our answer
// has run when the caller has the answer, as in Perl, and the caller never
// waits on the work queue. A read error goes back too; the reader ends the
// channel with it. When the caller leaves with other calls pending, or a
// call starts that nobody will lead (Go, a forwarded call), the reader is
// woken at once; else it takes the role back once lendFor passes with no
// caller leading, and reads on. A frame the peer sends on its own while no
// call is awaited waits at most about twice that. Under RsvpPerl, where an
// answer may come on another channel, and on a connection that takes no
// read deadline, nothing is lent.
const defaultLendFor = time.Millisecond // lendFor, unless a test sets Kernel.lendFor

// mayLend reports whether the reader may lend the read role now that p
// (nil for other frames) is settled: p's caller awaits it here and no
// other call is pending on the channel.
func (ch *channel) mayLend(p *pendingCall) bool {
	// Under RsvpPerl an answer may come on another channel, which could
	// not wake a caller reading this one.
	if p == nil || p.ch != ch || !p.awaited.Load() || ch.noLead.Load() || ch.k.cfg.Rsvp == RsvpPerl {
		return false
	}
	ch.mu.Lock()
	idle := len(ch.pending) == 0 && ch.failErr == nil && !ch.draining
	ch.mu.Unlock()
	return idle
}

// lendAfterAnswer lends the read role once the reader has settled an
// awaited call (mayLend). Only then: lent before the answer was in, the
// role could go to that very call's caller, which would wait for the
// frame the reader had already read (a sequential call hung until its
// context ended). A call started meanwhile may have found the role not
// lent, and then waits for the reader: so the reader takes the role
// back. One that found it lent and took rmu reads until its answer;
// the reader waits for rmu meanwhile, as for any leader.
func (ch *channel) lendAfterAnswer() {
	ch.lent.Store(true)
	ch.mu.Lock()
	started := len(ch.pending) > 0
	ch.mu.Unlock()
	if started {
		ch.lent.Store(false)
	}
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
			if ch.leads.Load() != led && ch.lent.Load() {
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
// answered, ctx ends, c expires, or a frame comes that is not an answer
// or an error report; it returns at once unless the role is lent and
// free.
func (c *startedCall) lead(ctx context.Context) {
	ch := c.ch
	if !ch.lent.Load() || !ch.rmu.TryLock() {
		return
	}
	if !ch.lent.Load() {
		// The reader woke between the two: it may be handling a frame
		// it read, and frames must be handled in order.
		ch.rmu.Unlock()
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
		ch.stopLending()
		ch.rmu.Unlock()
		return
	}
	ch.leads.Add(1)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { ch.nc.SetReadDeadline(time.Unix(1, 0)) })
	}
	handBack := false
	for !c.answered() {
		in, err := ch.readRequest(ch.fr, false)
		req := in.req
		if err != nil {
			if !protocol.IsTimeout(err) {
				ch.leadErr = err // the reader ends the channel with it
				handBack = true
			}
			break
		}
		if ok, p := ch.settle(req, len(ch.fr.Buffered()) > 0 && ch.fr.HasFrame()); ok {
			if p != nil {
				p.finish(req.Params, nil)
			}
			continue
		}
		// A request from the peer: the reader handles it, as it would
		// have (inline when it can, before the frames after it), so
		// that a post the peer sent before our answer has run when the
		// caller has the answer, as in Perl. The caller, never blocked
		// on the work queue, waits for its answer from the reader.
		ch.parked = in
		handBack = true
		break
	}
	stop() // a late AfterFunc may still set a past deadline: the reader reads on past it (readRequest)
	ch.nc.SetReadDeadline(time.Time{})
	if handBack {
		ch.stopLending()
	}
	ch.rmu.Unlock()
	ch.mu.Lock()
	others := len(ch.pending) > 0
	ch.mu.Unlock()
	if others {
		ch.wakeReader()
	}
}

// stopLending ends the lending at once: no caller leads after this, and
// the reader wakes. Under rmu, by a leader handing back a request or an
// error.
func (ch *channel) stopLending() {
	ch.lent.Store(false)
	select {
	case ch.wake <- struct{}{}:
	default:
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
