package gateway

import (
	"context"
	"sync/atomic"
)

// ctxGroupFires counts the groups whose context ended while watched, for
// tests.
var ctxGroupFires atomic.Uint64

// ctxGroup fails the calls sent with Go under one context when it ends.
// A caller keeping many calls in flight passes them all the same context;
// watching it once per channel, instead of with context.AfterFunc per call
// (two allocations and a lock on the context shared with the reader that
// settles the call), took a microsecond off each call's client CPU.
//
// A channel has at most one group, for the context of the calls in
// flight; a call under another context is watched on its own. The group
// ends with its last call: a caller that cancels its context after each
// answer must not find a watch still registered (its end would start a
// goroutine). Everything is under the channel's mu, and joining and
// leaving ride on adding and removing the pending call.
type ctxGroup struct {
	ch   *channel
	ctx  context.Context
	done <-chan struct{}
	head *pendingCall // the calls in flight, linked by gnext and gprev
	stop func() bool
}

// joinCtxGroup adds p to the group for ctx, making the group if the
// channel has none. While another context's calls are in flight it leaves
// p out (p.grouped stays false), and the caller watches ctx itself. ch.mu
// is held.
func (ch *channel) joinCtxGroup(p *pendingCall, ctx context.Context) {
	g := ch.group
	done := ctx.Done()
	if g != nil && g.done != done {
		return
	}
	if g == nil {
		g = &ctxGroup{ch: ch, ctx: ctx, done: done}
		// If ctx is done already, fire runs at once on a goroutine of
		// its own, and waits for ch.mu.
		g.stop = context.AfterFunc(ctx, g.fire)
		ch.group = g
	}
	p.group, p.grouped = g, true
	p.gnext = g.head
	if g.head != nil {
		g.head.gprev = p
	}
	g.head = p
}

// leaveCtxGroup takes p out of its group, if it is in one, and ends the
// group with its last call. ch.mu is held.
func (ch *channel) leaveCtxGroup(p *pendingCall) {
	g := p.group
	if g == nil {
		return
	}
	if p.gprev != nil {
		p.gprev.gnext = p.gnext
	} else {
		g.head = p.gnext
	}
	if p.gnext != nil {
		p.gnext.gprev = p.gprev
	}
	p.group, p.gprev, p.gnext = nil, nil, nil
	if g.head == nil {
		if ch.group == g {
			ch.group = nil
		}
		g.stop() // false, and nothing to do, when the group is firing
	}
}

// dropCtxGroup forgets the channel's group as it fails (its calls fail
// with the channel) and returns the stop of its watch. ch.mu is held.
func (ch *channel) dropCtxGroup() func() bool {
	g := ch.group
	if g == nil {
		return nil
	}
	ch.group = nil
	return g.stop
}

// fire fails the group's calls as their context ended: ErrNoReply at its
// deadline, as a call's own expiry would, else the context's error.
func (g *ctxGroup) fire() {
	ctxGroupFires.Add(1)
	ch := g.ch
	ch.mu.Lock()
	var calls []*pendingCall
	for p := g.head; p != nil; {
		next := p.gnext
		ch.removePending(p) // the last one ends the group
		calls = append(calls, p)
		p = next
	}
	ch.mu.Unlock()
	for _, p := range calls {
		ch.k.dropKernelPending(p)
		p.finish(nil, endedErr(g.ctx, p.event))
	}
}
