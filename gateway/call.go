package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// rsvpPrefix starts the state names of our calls' replies: IKC/ikcgate:rsvp:N.
// They are always sent in hash form, where any characters are fine.
const rsvpPrefix = "ikcgate:rsvp:"

// pendingCall waits for the reply to one call.
type pendingCall struct {
	state  string
	target string // the request as Perl names it in error texts
	ch     *channel
	once   sync.Once
	done   chan struct{}
	value  perlcompat.Value
	err    error

	// awaited: a caller waits for the answer in await, and may read
	// it itself (lead.go).
	awaited atomic.Bool

	mu       sync.Mutex
	finished bool
	then     func(perlcompat.Value, error) // see onDone
	async    *goCall                       // settled instead, with no closure (see notify)

	// A call with no deadline of its own (its context has none) expires
	// at deadline (Kernel.clock's ns): it is listed in its channel's expiry list
	// (guarded by the channel's mu) until answered. See expiry.go.
	event      protocol.Specifier
	deadline   int64
	prev, next *pendingCall
	listed     bool

	// A call sent with Go whose context can end: the channel's group for
	// that context watches it (ctxgroup.go), linked by gprev and gnext
	// while in flight (guarded by the channel's mu). grouped is set
	// before the call is sent and never changes.
	group        *ctxGroup
	gprev, gnext *pendingCall
	grouped      bool
}

func (p *pendingCall) finish(v perlcompat.Value, err error) {
	p.once.Do(func() {
		p.value, p.err = v, err
		close(p.done)
		p.mu.Lock()
		p.finished = true
		then, async := p.then, p.async
		p.mu.Unlock()
		if then != nil {
			then(v, err)
		}
		if async != nil {
			async.settle(v, err)
		}
	})
}

// onDone has fn get the answer on whichever goroutine settles the call
// (at once, here, if it is settled already), so that no goroutine waits
// for it.
func (p *pendingCall) onDone(fn func(perlcompat.Value, error)) {
	p.mu.Lock()
	if !p.finished {
		p.then = fn
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	fn(p.value, p.err)
}

// spec parses a destination the way IKC/post does: a string lacking
// "poe:" gets "poe://" in front.
func parseDestination(to string) (protocol.Specifier, error) {
	if !strings.HasPrefix(to, "poe:") {
		to = "poe://" + to
	}
	sp, err := protocol.ParseSpecifier(to)
	if err != nil {
		return sp, err
	}
	if sp.Session == "" || sp.State == "" {
		return sp, fmt.Errorf("gateway: %q needs a session and a state", to)
	}
	return sp, nil
}

// PostOption adjusts a Post or a Call.
type PostOption func(*postOptions)

type postOptions struct{ from string }

// applyOptions returns what opts set. Only a call with options pays for
// the struct they write to, which escapes to the heap: when every post
// took its address, that allocation was 6% of a Go poster's CPU.
func applyOptions(opts []PostOption) postOptions {
	if len(opts) == 0 {
		return postOptions{}
	}
	o := new(postOptions)
	for _, f := range opts {
		f(o)
	}
	return *o
}

// From names the local session the request comes from. Perl handlers that
// post to their SENDER then reach that session's published states here.
func From(session string) PostOption { return func(o *postOptions) { o.from = session } }

// Post sends params to the state named by to ("poe://Kernel/session/state",
// or "Kernel/session/state"), fire and forget. Kernel "*" posts to every
// channel and to this kernel. params is converted with perlcompat.FromGo
// (a perlcompat.Value goes as it is). It returns once the message is
// queued for each destination.
func (k *Kernel) Post(ctx context.Context, to string, params any, opts ...PostOption) error {
	sp, err := parseDestination(to)
	if err != nil {
		return err
	}
	return k.PostSpec(ctx, sp, params, opts...)
}

// PostSpec is Post with a parsed specifier.
func (k *Kernel) PostSpec(ctx context.Context, to protocol.Specifier, params any, opts ...PostOption) error {
	v, err := perlcompat.FromGo(params)
	if err != nil {
		return err
	}
	o := applyOptions(opts)
	if k.isClosing() {
		return ErrShutdown
	}
	targets, local, err := k.resolve(to.Kernel)
	if err != nil {
		return err
	}
	if local {
		msg := protocol.NewPost(to, v)
		if o.from != "" {
			msg.From = protocol.ProxyFrom(k.id, o.from)
		}
		if err := k.postLocal(ctx, msg); err != nil {
			return err
		}
	}
	for _, ch := range targets {
		if err := k.postOn(ctx, ch, to, v, o); err != nil {
			return err
		}
	}
	return nil
}

func (k *Kernel) postOn(ctx context.Context, ch *channel, to protocol.Specifier, v perlcompat.Value, o postOptions) error {
	msg := protocol.NewPost(to, v)
	if o.from != "" {
		msg.From = protocol.ProxyFrom(ch.localID, o.from)
	}
	return ch.send(ctx, msg)
}

// resolve turns a kernel name into channels, as Perl's channel_list does:
// "*" is every channel and this kernel; a local name is this kernel.
func (k *Kernel) resolve(name string) (chans []*channel, local bool, err error) {
	switch {
	case name == "*":
		return k.allChannels(), true, nil
	case name == "":
		return nil, false, fmt.Errorf("%w: the specifier names no kernel (Perl has no working default)", ErrUnknownKernel)
	case k.isLocalName(name):
		return nil, true, nil
	}
	if ch := k.lookup(name); ch != nil {
		return []*channel{ch}, false, nil
	}
	if k.isOwnChannelID(name) {
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("%w %q", ErrUnknownKernel, name)
}

// isOwnChannelID reports one of the fresh IDs our dialled channels
// announce: they name this kernel too.
func (k *Kernel) isOwnChannelID(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for ch := range k.channels {
		if ch.localID == name {
			return true
		}
	}
	return false
}

// Call sends params to the state named by to and waits for the reply. It
// fails with a *RemoteError when the remote kernel reports one, with
// ErrDisconnected at once when the channel closes, and with ErrNoReply
// when ctx's deadline (or Limits.CallTimeout, if ctx has none) passes
// while it waits for the reply: Perl sends no reply when the handler
// returns undef. A ctx that ends before the call is sent (a full send
// queue) gives ctx's error; CallTimeout gives ErrNoReply there too.
func (k *Kernel) Call(ctx context.Context, to string, params any, opts ...PostOption) (perlcompat.Value, error) {
	sp, err := parseDestination(to)
	if err != nil {
		return nil, err
	}
	return k.CallSpec(ctx, sp, params, opts...)
}

// CallSpec is Call with a parsed specifier.
func (k *Kernel) CallSpec(ctx context.Context, to protocol.Specifier, params any, opts ...PostOption) (perlcompat.Value, error) {
	v, err := perlcompat.FromGo(params)
	if err != nil {
		return nil, err
	}
	o := applyOptions(opts)
	if to.Kernel == "*" {
		return nil, errors.New("gateway: Call needs one kernel, not \"*\"")
	}
	if k.isClosing() {
		return nil, ErrShutdown
	}
	targets, local, err := k.resolve(to.Kernel)
	if err != nil {
		return nil, err
	}
	if local {
		return k.callLocal(ctx, to, v, o.from)
	}
	return k.callOn(ctx, targets[0], to, v, o)
}

// callOn sends a call on ch and waits for its reply.
func (k *Kernel) callOn(ctx context.Context, ch *channel, to protocol.Specifier, v perlcompat.Value, o postOptions) (perlcompat.Value, error) {
	msg := protocol.NewPost(to, v)
	if o.from != "" {
		msg.From = protocol.ProxyFrom(ch.localID, o.from)
	}
	return k.callMsg(ctx, ch, msg)
}

// callMsg sends msg as a call on ch, with an rsvp state of ours, and waits
// for the reply.
func (k *Kernel) callMsg(ctx context.Context, ch *channel, msg *protocol.Request) (perlcompat.Value, error) {
	c, err := k.startCall(ctx, ch, msg, sendOwnCall, true, false)
	if err != nil {
		return nil, err
	}
	return c.await(ctx)
}

// targetName is to.String(), remembered for the last target: calls
// mostly go to the same few states, and the name is only for the
// Observer and for matching remote errors.
func (k *Kernel) targetName(to protocol.Specifier) string {
	if c := k.lastTarget.Load(); c != nil && c.sp == to {
		return c.name
	}
	name := to.String()
	k.lastTarget.Store(&targetEntry{sp: to, name: name})
	return name
}

type targetEntry struct {
	sp   protocol.Specifier
	name string
}

// startedCall is a call sent and not yet answered. Its pending entry
// and rsvp live in it: a call is one allocation for the three.
type startedCall struct {
	k       *Kernel
	ch      *channel
	msg     *protocol.Request
	p       *pendingCall
	start   time.Time // zero unless k.timesCalls or the call expires by itself
	pending pendingCall
	rsvp    protocol.Specifier
}

// startCall sends msg as a call on ch; await waits for its answer. The
// two halves let a forwarder send calls in order and wait for them
// concurrently. Without a deadline in ctx the call expires after
// Limits.CallTimeout (see expiry.go). awaited says a caller will await
// it, marked before it is sent so that a quick answer finds it so
// (lead.go).
//
// watch has the channel's context group fail the call when ctx ends (Go's
// calls; see ctxgroup.go); a call nobody awaits is otherwise watched by
// its caller.
func (k *Kernel) startCall(ctx context.Context, ch *channel, msg *protocol.Request, mode sendMode, awaited, watch bool) (*startedCall, error) {
	c := new(startedCall)
	if err := k.startCallIn(ctx, c, ch, msg, mode, awaited, watch); err != nil {
		return nil, err
	}
	return c, nil
}

// startCallIn is startCall with the call in c, which is zero (Go's calls
// allocate it with their AsyncCall and message).
func (k *Kernel) startCallIn(ctx context.Context, c *startedCall, ch *channel, msg *protocol.Request, mode sendMode, awaited, watch bool) error {
	c.k, c.ch, c.msg = k, ch, msg
	_, hasDeadline := ctx.Deadline()
	if k.timesCalls || !hasDeadline {
		c.start = time.Now()
	}
	p := &c.pending
	k.initPending(p, ch, msg.Event)
	c.p = p
	c.rsvp = protocol.Specifier{Kernel: ch.localID, Session: rsvpSession, State: p.state}
	if awaited {
		p.awaited.Store(true)
	}
	msg.Rsvp = &c.rsvp // its hash form is built when the message is frozen
	p.target = k.targetName(msg.Target())
	if !hasDeadline {
		p.deadline = int64(c.start.Sub(k.epoch) + k.limits().CallTimeout)
	}
	var wctx context.Context
	if watch && ctx.Done() != nil {
		wctx = ctx
	}
	if err := ch.addPending(p, wctx); err != nil {
		return err
	}
	// A call with no deadline of its own stops waiting for room in the
	// send queue when it expires: p.done closes then.
	if mode != sendOwnCall {
		ch.wakeReader() // nobody waiting on this call reads for the reader
	}
	if err := ch.sendFrameUntil(ctx, msg, mode, p.done); err != nil {
		k.dropPending(ch, p)
		if err == errAborted {
			err = p.err // ErrNoReply, or a disconnect
		}
		c.finished(err)
		return err
	}
	return nil
}

// finished tells the observer the call ended with err.
func (c *startedCall) finished(err error) {
	if c.k.timesCalls {
		c.k.obs.CallFinished(c.p.target, time.Since(c.start), err)
	}
}

// then has fn get the answer on whichever goroutine settles the call,
// or ErrNoReply after timeout (for a call with no deadline of its own,
// when it expires): nothing waits for it.
func (c *startedCall) then(timeout time.Duration, fn func(perlcompat.Value, error)) {
	if c.p.deadline != 0 {
		c.p.onDone(func(v perlcompat.Value, err error) {
			c.finished(err)
			fn(v, err)
		})
		return
	}
	t := time.AfterFunc(timeout, func() {
		c.k.dropPending(c.ch, c.p)
		c.p.finish(nil, noReply(c.p.event))
	})
	c.p.onDone(func(v perlcompat.Value, err error) {
		t.Stop()
		c.finished(err)
		fn(v, err)
	})
}

// await waits for the answer until ctx is done, or, for a call with no
// deadline of its own, until it expires.
func (c *startedCall) await(ctx context.Context) (reply perlcompat.Value, err error) {
	defer func() { c.finished(err) }()
	select {
	case <-c.p.done:
		return c.p.value, c.p.err
	default:
		WillBlock(ctx) // a handler calling: its channel goes on being read
	}
	c.p.awaited.Store(true)
	c.lead(ctx)
	select {
	case <-c.p.done:
		return c.p.value, c.p.err
	case <-ctx.Done():
		c.k.dropPending(c.ch, c.p)
		return nil, endedErr(ctx, c.p.event)
	}
}

// noReply is the error of a call to to that got no answer in time.
func noReply(to protocol.Specifier) error {
	return fmt.Errorf("%w from %s within the deadline (Perl sends none for undef)", ErrNoReply, to.String())
}

// endedErr is the error of a call to to whose context ended first:
// noReply at its deadline, as the call's own expiry would say, else the
// context's error.
func endedErr(ctx context.Context, to protocol.Specifier) error {
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return noReply(to)
}

// rsvpState is rsvpPrefix and n, in one allocation.
func rsvpState(n uint64) string {
	var b [len(rsvpPrefix) + 20]byte
	return string(strconv.AppendUint(append(b[:0], rsvpPrefix...), n, 10))
}

// initPending readies a new pending call to the event to on ch.
func (k *Kernel) initPending(p *pendingCall, ch *channel, to protocol.Specifier) {
	p.state = rsvpState(k.rsvpSeq.Add(1))
	p.ch = ch
	p.done = make(chan struct{})
	p.event = to
}

// addPending registers p on ch, in ch's context group for watch when
// watch is not nil.
func (ch *channel) addPending(p *pendingCall, watch context.Context) error {
	ch.mu.Lock()
	if ch.failErr != nil {
		ch.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrDisconnected, ch.failErr)
	}
	ch.pending[p.state] = p
	if p.deadline != 0 {
		ch.listExpiry(p)
	}
	if watch != nil {
		ch.joinCtxGroup(p, watch)
	}
	ch.mu.Unlock()
	if ch.k.cfg.Rsvp == RsvpPerl {
		ch.k.mu.Lock()
		ch.k.pending[p.state] = p
		ch.k.mu.Unlock()
	}
	return nil
}

// takePending removes and returns the call a reply to state on ch
// settles. Under RsvpStrict only the channel the call went out on may
// settle it; under RsvpPerl any channel may.
func (k *Kernel) takePending(ch *channel, state string) *pendingCall {
	if k.cfg.Rsvp == RsvpPerl {
		k.mu.Lock()
		p := k.pending[state]
		delete(k.pending, state)
		k.mu.Unlock()
		if p == nil {
			return nil
		}
		p.ch.mu.Lock()
		p.ch.removePending(p)
		p.ch.mu.Unlock()
		return p
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	p := ch.pending[state]
	if p != nil {
		ch.removePending(p)
	}
	return p
}

// removePending forgets p on ch (not kernel-wide). ch.mu is held.
func (ch *channel) removePending(p *pendingCall) {
	delete(ch.pending, p.state)
	ch.unlistExpiry(p)
	ch.leaveCtxGroup(p)
}

func (k *Kernel) dropPending(ch *channel, p *pendingCall) {
	ch.mu.Lock()
	ch.removePending(p)
	ch.mu.Unlock()
	k.dropKernelPending(p)
}

// dropKernelPending forgets p kernel-wide (RsvpPerl's table).
func (k *Kernel) dropKernelPending(p *pendingCall) {
	if k.cfg.Rsvp == RsvpPerl {
		k.mu.Lock()
		if k.pending[p.state] == p {
			delete(k.pending, p.state)
		}
		k.mu.Unlock()
	}
}

// forgetPending drops the kernel-wide entries of a failed channel.
func (k *Kernel) forgetPending(ch *channel) {
	if k.cfg.Rsvp != RsvpPerl {
		return
	}
	k.mu.Lock()
	for s, p := range k.pending {
		if p.ch == ch {
			delete(k.pending, s)
		}
	}
	k.mu.Unlock()
}

// pendingFor finds the oldest pending call whose request a remote_error
// text names.
func (ch *channel) pendingFor(msg string) *pendingCall {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var best *pendingCall
	var bestN uint64
	for _, p := range ch.pending {
		i := strings.Index(msg, ".  Request "+p.target)
		if i < 0 {
			continue
		}
		rest := msg[i+len(".  Request ")+len(p.target):]
		if rest != "" && !strings.HasPrefix(rest, " sent by ") {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimPrefix(p.state, rsvpPrefix), 10, 64)
		if best == nil || n < bestN {
			best, bestN = p, n
		}
	}
	if best != nil {
		ch.removePending(best)
	}
	return best
}

// postLocal runs a request addressed to this kernel itself.
func (k *Kernel) postLocal(ctx context.Context, msg *protocol.Request) error {
	if msg.Event.Session == ikcSession && strings.HasPrefix(msg.Event.State, rsvpPrefix) {
		k.deliverLocal(msg)
		return nil
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		k.respond(nil, msg, nil, 0)
	}()
	return nil
}

// callLocal calls a handler of this kernel directly.
func (k *Kernel) callLocal(ctx context.Context, to protocol.Specifier, v perlcompat.Value, from string) (perlcompat.Value, error) {
	msg := protocol.NewCall(to, v, protocol.Specifier{Kernel: k.id, Session: rsvpSession, State: "local"})
	if from != "" {
		msg.From = protocol.ProxyFrom(k.id, from)
	}
	target := msg.Target()
	var h Handler
	var err error
	if target.Session == ikcSession {
		h, err = k.builtin(target.State)
	} else {
		h, err = k.mux.find(target.Session, target.State)
	}
	if err != nil {
		return nil, &RemoteError{Message: msg.ErrorMessage(err.Error()), When: protocol.StepCheck, Kernel: k.id}
	}
	args, err := msg.Args()
	if err != nil {
		return nil, &RemoteError{Message: msg.ErrorMessage(err.Error()), When: protocol.StepRequest, Kernel: k.id}
	}
	r := &Request{Session: target.Session, State: target.State, Args: args, From: msg.From, WantReply: true, Message: msg, k: k}
	res, err := invoke(ctx, h, r)
	if err != nil {
		return nil, &RemoteError{Message: msg.ErrorMessage(err.Error()), When: protocol.StepInvocation, Kernel: k.id}
	}
	if perlcompat.IsUndef(res) {
		// Perl sends no reply for undef: the caller waits out its
		// deadline, or CallTimeout, as for a remote call, or until
		// Shutdown begins (Go runs this on a goroutine Shutdown waits for).
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, k.limits().CallTimeout)
			defer cancel()
		}
		select {
		case <-ctx.Done():
		case <-k.done:
			return nil, ErrShutdown
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w from %s: the handler returned undef", ErrNoReply, to.String())
	}
	return res, nil
}

// deliverLocal handles a reply addressed to this kernel with no channel:
// local calls return directly, so there is nothing to settle.
func (k *Kernel) deliverLocal(msg *protocol.Request) {
	k.log.Trace("local reply dropped", "event", msg.Event.String())
}
