package gateway

import (
	"context"
	"errors"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// AsyncCall is a call sent with Go: when it settles, Reply and Err are set
// and it is sent on Done. Its fields are not to be read before then.
type AsyncCall struct {
	To    protocol.Specifier // the state called
	Reply perlcompat.Value
	Err   error           // as Call would return it
	Done  chan *AsyncCall // where the call goes once settled

	k *Kernel // for a full Done: see settle
	g *goCall // what it was allocated with
}

// goCall is a Go call's AsyncCall, its message and its started call in
// one allocation: a call from Go cost three.
type goCall struct {
	ac  AsyncCall
	msg protocol.Request
	sc  startedCall
}

// Go sends a call and returns without waiting for its answer, as net/rpc's
// Client.Go does: one goroutine keeps many calls in flight, and no
// goroutine waits per call to a remote kernel (a call to this kernel
// runs its handler on a goroutine of its own, as Call would run it). The
// answer, or the error Call would return, is sent on done when it comes.
//
// done should have room for every call in flight on it: the goroutine
// that reads the channel delivers answers, and never waits for done. A
// full done costs a goroutine per answer until it is read, or until
// Shutdown begins (the answer is then dropped). A nil done gets a new
// channel with room for one; an unbuffered one panics, as in net/rpc.
//
// ctx bounds the wait for room in the send queue and, when it ends, the
// wait for the answer (ErrNoReply at its deadline). With no deadline in
// ctx the call expires after Limits.CallTimeout, as a Call does.
// Go blocks only while the channel's send queue is full.
func (k *Kernel) Go(ctx context.Context, to string, params any, done chan *AsyncCall, opts ...PostOption) *AsyncCall {
	c := k.newAsyncCall(done)
	sp, err := parseDestination(to)
	if err != nil {
		return c.settle(nil, err)
	}
	return k.goSpec(ctx, c, sp, params, opts)
}

// GoSpec is Go with a parsed specifier.
func (k *Kernel) GoSpec(ctx context.Context, to protocol.Specifier, params any, done chan *AsyncCall, opts ...PostOption) *AsyncCall {
	return k.goSpec(ctx, k.newAsyncCall(done), to, params, opts)
}

// Go calls a state of this peer's kernel (to is "session/state") without
// waiting for the answer: see Kernel.Go.
func (p *Peer) Go(ctx context.Context, to string, params any, done chan *AsyncCall, opts ...PostOption) *AsyncCall {
	c := p.ch.k.newAsyncCall(done)
	sp, v, o, err := p.prepare(to, params, opts)
	c.To = sp
	if err != nil {
		return c.settle(nil, err)
	}
	p.ch.k.goOn(ctx, c, p.ch, sp, v, o)
	return c
}

func (k *Kernel) newAsyncCall(done chan *AsyncCall) *AsyncCall {
	switch {
	case done == nil:
		done = make(chan *AsyncCall, 1)
	case cap(done) == 0:
		panic("gateway: Go's done channel is unbuffered")
	}
	g := &goCall{ac: AsyncCall{Done: done, k: k}}
	g.ac.g = g
	return &g.ac
}

func (k *Kernel) goSpec(ctx context.Context, c *AsyncCall, to protocol.Specifier, params any, opts []PostOption) *AsyncCall {
	c.To = to
	v, err := perlcompat.FromGo(params)
	if err != nil {
		return c.settle(nil, err)
	}
	o := applyOptions(opts)
	if to.Kernel == "*" {
		return c.settle(nil, errors.New("gateway: Go needs one kernel, not \"*\""))
	}
	if k.isClosing() {
		return c.settle(nil, ErrShutdown)
	}
	targets, local, err := k.resolve(to.Kernel)
	switch {
	case err != nil:
		return c.settle(nil, err)
	case local:
		// A local handler runs as a Call would run it, on a goroutine of
		// its own: Go never waits for a handler.
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			c.settle(k.callLocal(ctx, to, v, o.from))
		}()
		return c
	}
	k.goOn(ctx, c, targets[0], to, v, o)
	return c
}

// goOn sends c on ch and has its answer delivered when it comes.
func (k *Kernel) goOn(ctx context.Context, c *AsyncCall, ch *channel, to protocol.Specifier, v perlcompat.Value, o postOptions) {
	msg, sc := &c.g.msg, &c.g.sc
	*msg = protocol.Request{Event: to, Params: v} // protocol.NewPost
	if o.from != "" {
		msg.From = protocol.ProxyFrom(ch.localID, o.from)
	}
	if err := k.startCallIn(ctx, sc, ch, msg, sendOwnCall, false, true); err != nil {
		msg.Params = nil // see goCall.settle
		c.settle(nil, err)
		return
	}
	ch.wakeReader() // pending now: nobody waits on this call to read for the reader
	sc.notify(ctx, c)
}

// settle records the answer and delivers c on Done, without waiting: a
// full Done gets a goroutine that waits for room, or for Shutdown. That
// goroutine counts in the kernel's wait group, so Shutdown returns only
// once it has delivered or dropped its answer. Once Shutdown waits for
// the kernel's goroutines none is started: an answer that finds Done
// full then is dropped at once.
func (c *AsyncCall) settle(v perlcompat.Value, err error) *AsyncCall {
	c.Reply, c.Err = v, err
	select {
	case c.Done <- c:
		return c
	default:
	}
	k := c.k
	if !k.addLate() {
		select { // room may have come meanwhile: use it
		case c.Done <- c:
		default:
		}
		return c
	}
	go func() {
		defer k.wg.Done()
		select {
		case c.Done <- c:
		case <-k.done:
			select { // room may have come with Shutdown: use it
			case c.Done <- c:
			default:
			}
		}
	}()
	return c
}

// notify settles ac with the answer on whichever goroutine gets it. A
// call with no deadline of its own expires from its channel's list; one
// whose ctx can end is failed when it does, as await would fail it: by
// the channel's group for ctx, or, when another context's calls hold
// the group, by a watch of its own.
func (c *startedCall) notify(ctx context.Context, ac *AsyncCall) {
	g := ac.g // c is &g.sc
	if ctx.Done() == nil || c.p.grouped {
		// Nothing of its own to stop: the call settles g directly,
		// which spares a closure per call.
		c.p.mu.Lock()
		if !c.p.finished {
			c.p.async = g
			c.p.mu.Unlock()
			return
		}
		c.p.mu.Unlock()
		g.settle(c.p.value, c.p.err)
		return
	}
	stop := context.AfterFunc(ctx, func() {
		c.k.dropPending(c.ch, c.p)
		c.p.finish(nil, endedErr(ctx, c.p.event))
	})
	c.p.onDone(func(v perlcompat.Value, err error) {
		stop()
		g.settle(v, err)
	})
}

// settle tells the observer and delivers the answer. The message, frozen
// long since, lets go of its params: a caller keeping answered calls must
// not keep what it sent with them.
func (g *goCall) settle(v perlcompat.Value, err error) {
	g.msg.Params = nil
	g.sc.finished(err)
	g.ac.settle(v, err)
}
