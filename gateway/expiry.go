package gateway

import (
	"time"
)

// A call whose context has no deadline expires after Limits.CallTimeout.
// A timer per call (context.WithTimeout, time.AfterFunc) costs
// allocations and two changes to the runtime's timer heap per call, a
// tenth of a pipelining client's CPU. Instead each channel keeps such
// calls in a list ordered by deadline, oldest first, and one timer armed
// for the head. Answering a call only unlinks it: the timer is not moved,
// and when it fires it expires what is due and re-arms for the new head,
// so a steady stream of answered calls costs about one timer event per
// CallTimeout.
type expiryList struct {
	head, tail *pendingCall
	timer      *time.Timer
	armed      int64 // the deadline the timer is set for; 0: not set
}

// listExpiry adds p, which has a deadline, to ch's list. ch.mu is held.
func (ch *channel) listExpiry(p *pendingCall) {
	l := &ch.expiry
	// Deadlines come in order unless CallTimeout changed meanwhile:
	// walk back from the tail to keep the list sorted.
	at := l.tail
	for at != nil && at.deadline > p.deadline {
		at = at.prev
	}
	p.prev = at
	if at == nil {
		p.next = l.head
		l.head = p
	} else {
		p.next = at.next
		at.next = p
	}
	if p.next == nil {
		l.tail = p
	} else {
		p.next.prev = p
	}
	p.listed = true
	ch.armExpiry()
}

// unlistExpiry removes p from ch's list, if it is there. ch.mu is held.
func (ch *channel) unlistExpiry(p *pendingCall) {
	if !p.listed {
		return
	}
	l := &ch.expiry
	if p.prev == nil {
		l.head = p.next
	} else {
		p.prev.next = p.next
	}
	if p.next == nil {
		l.tail = p.prev
	} else {
		p.next.prev = p.prev
	}
	p.prev, p.next, p.listed = nil, nil, false
}

// armExpiry sets the timer for the head's deadline unless it is set for
// that deadline or an earlier one (then it re-arms when it fires). ch.mu
// is held.
func (ch *channel) armExpiry() {
	l := &ch.expiry
	if l.head == nil || (l.armed != 0 && l.armed <= l.head.deadline) {
		return
	}
	d := time.Duration(l.head.deadline - ch.k.clock())
	if l.timer == nil {
		l.timer = time.AfterFunc(d, ch.expire)
	} else {
		l.timer.Reset(d)
	}
	l.armed = l.head.deadline
}

// expire fails the calls whose deadline has passed with ErrNoReply (Perl
// sends no reply when a handler returns undef), then re-arms.
func (ch *channel) expire() {
	now := ch.k.clock()
	var due []*pendingCall
	ch.mu.Lock()
	ch.expiry.armed = 0
	for p := ch.expiry.head; p != nil && p.deadline <= now; p = ch.expiry.head {
		ch.removePending(p)
		due = append(due, p)
	}
	if ch.failErr == nil {
		ch.armExpiry()
	}
	ch.mu.Unlock()
	for _, p := range due {
		ch.k.dropKernelPending(p)
		p.finish(nil, noReply(p.event))
	}
}

// stopExpiry empties the list of a failed channel, whose pending calls
// have all been taken, and stops its timer. ch.mu is held.
func (ch *channel) stopExpiry() {
	for p := ch.expiry.head; p != nil; {
		next := p.next
		p.prev, p.next, p.listed = nil, nil, false
		p = next
	}
	if ch.expiry.timer != nil {
		ch.expiry.timer.Stop()
	}
	ch.expiry = expiryList{}
}
