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

// Upstream is a route to another kernel, typically the Perl IKC server a
// deployment is migrating away from: publish it for the states Go does not
// handle yet (k.Handle("svc/*", up)) and every request for them is
// forwarded there, with its arguments, its context (wantarray) and its
// reply, remote errors and SENDER post-backs relayed back, so the client
// cannot tell it went through this kernel.
//
// Perl routes a handler's post-backs by the request's from, which names
// the client's kernel, unknown upstream. So every forwarded request carries
// a from of ours, {kernel => our ID, session => "ikcgate:fwd:N", state =>
// "IKC:proxy"}; a post-back to it is relayed to the original sender, and
// the upstream's error texts, which quote the from, are rewritten to quote
// the original one.
type Upstream struct {
	k      *Kernel
	link   *Link
	opts   UpstreamOptions
	prefix string // "ikcgate:fwd:<n>:", this upstream's from sessions
	hookID uint64

	mu   sync.Mutex
	seq  uint64
	fwd  map[uint64]*forwarded
	fifo []uint64 // forwarded entries in age order, for eviction
}

// UpstreamOptions tune an Upstream.
type UpstreamOptions struct {
	LinkOptions
	// Wait bounds how long a request waits for the upstream channel when
	// it is down (default 5s); then it fails with a remote error, as a
	// request to an unreachable kernel should.
	Wait time.Duration
	// RememberSenders and SenderTTL bound the table that maps forwarded
	// requests to their senders for post-backs and error reports
	// (defaults 65536 and 10 minutes).
	RememberSenders int
	SenderTTL       time.Duration
}

type forwarded struct {
	id      uint64
	origin  *channel
	req     *protocol.Request
	ourFrom protocol.Specifier
	expires time.Time
}

// fwdPrefix starts the sessions our forwarded requests come "from"; each
// Upstream adds its own number, so post-backs find the right one.
const fwdPrefix = "ikcgate:fwd:"

var upstreamSeq atomic.Uint64

// NewUpstream starts a route to the kernel at address (see Connect). Close
// it when done; Shutdown closes it too.
func (k *Kernel) NewUpstream(network, address string, opts UpstreamOptions) *Upstream {
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Second
	}
	if opts.RememberSenders <= 0 {
		opts.RememberSenders = 65536
	}
	if opts.SenderTTL <= 0 {
		opts.SenderTTL = 10 * time.Minute
	}
	n := upstreamSeq.Add(1)
	u := &Upstream{k: k, opts: opts, fwd: map[uint64]*forwarded{}, prefix: fwdPrefix + strconv.FormatUint(n, 10) + ":", hookID: n}
	u.link = k.Connect(network, address, opts.LinkOptions)
	k.mux.change("", func(t *muxTable, _ *session) { t.prefixes[u.prefix] = HandlerFunc(u.postBack) })
	k.mu.Lock()
	k.errorHooks = append(k.errorHooks, errorHook{id: n, fn: u.relayError})
	k.mu.Unlock()
	return u
}

// Close stops the route's link and forgets its senders; requests it was
// published for fail from then on.
func (u *Upstream) Close() {
	u.link.Close()
	u.k.mux.change("", func(t *muxTable, _ *session) { delete(t.prefixes, u.prefix) })
	u.k.mu.Lock()
	hooks := u.k.errorHooks[:0]
	for _, h := range u.k.errorHooks {
		if h.id != u.hookID {
			hooks = append(hooks, h)
		}
	}
	u.k.errorHooks = hooks
	u.k.mu.Unlock()
	u.mu.Lock()
	u.fwd, u.fifo = map[uint64]*forwarded{}, nil
	u.mu.Unlock()
}

// Healthy reports whether the upstream channel is up now.
func (u *Upstream) Healthy() bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := u.link.Peer(ctx)
	return err == nil
}

// ServeIKC forwards r upstream.
func (u *Upstream) ServeIKC(ctx context.Context, r *Request) (perlcompat.Value, error) {
	peer, _, _ := u.link.state()
	if peer == nil { // down: wait a while for the link to come back
		wctx, cancel := context.WithTimeout(ctx, u.opts.Wait)
		var err error
		peer, err = u.link.Peer(wctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("upstream %s unavailable: %w", u.link.addr, err)
		}
	}
	ch := peer.ch
	orig := r.Message
	f := u.remember(ch, r)
	// The kernel part of the event is ignored by the receiver (PROTOCOL.md
	// section 6.3) but quoted in its error texts: keep the client's.
	msg := &protocol.Request{
		Event:      orig.Event,
		EventValue: orig.EventValue,
		Params:     orig.Params,
		WantArray:  orig.WantArray,
		From:       &f.ourFrom,
	}
	if !r.WantReply {
		return nil, ch.send(ctx, msg)
	}
	// The call goes upstream now, in order. Its answer is relayed by
	// whichever goroutine receives it (the upstream channel's reader),
	// when the client's channel can take it later: the next request is
	// forwarded meanwhile, as a Perl kernel, which never waits, would, and
	// no goroutine waits per call.
	c, err := u.k.startCall(ctx, ch, msg, sendAtOnce, false, false)
	if err != nil {
		return nil, err
	}
	timeout := u.k.limits().CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if r.ch == nil || !r.ch.deferAnswer() {
		v, err := c.await(ctx) // ctx's deadline, or the call's own
		return u.answer(f, v, err)
	}
	c.then(timeout, func(v perlcompat.Value, err error) {
		deliver := func() {
			defer r.ch.answered()
			if v, err = u.answer(f, v, err); err != nil {
				u.k.requestFailed(r.ch, r.Message, protocol.StepInvocation, err)
				return
			}
			u.k.reply(r.ch, r.Message, r.Session, v)
		}
		u.sendTo(r.ch, deliver)
	})
	return nil, nil
}

// answer turns the upstream's answer to a forwarded call into the
// handler's: its value, no reply for none, or its remote error with the
// original sender quoted.
func (u *Upstream) answer(f *forwarded, v perlcompat.Value, err error) (perlcompat.Value, error) {
	var re *RemoteError
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, ErrNoReply):
		return nil, nil // the upstream sent none (undef): neither do we
	case errors.As(err, &re):
		return nil, &RemoteError{Message: u.rewrite(re.Message, f), When: re.When, Kernel: re.Kernel, relay: true}
	}
	return nil, err
}

// remember records who sent a forwarded request, for its post-backs and
// error reports.
func (u *Upstream) remember(up *channel, r *Request) *forwarded {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	for len(u.fifo) > 0 {
		old := u.fwd[u.fifo[0]]
		if old != nil && len(u.fifo) < u.opts.RememberSenders && now.Before(old.expires) {
			break
		}
		delete(u.fwd, u.fifo[0])
		u.fifo = u.fifo[1:]
	}
	u.seq++
	f := &forwarded{
		id: u.seq, origin: r.ch, req: r.Message, expires: now.Add(u.opts.SenderTTL),
		ourFrom: protocol.Specifier{Kernel: up.localID, Session: u.prefix + strconv.FormatUint(u.seq, 10), State: "IKC:proxy"},
	}
	u.fwd[f.id] = f
	u.fifo = append(u.fifo, f.id)
	return f
}

func (u *Upstream) lookup(session string) *forwarded {
	id, err := strconv.ParseUint(strings.TrimPrefix(session, u.prefix), 10, 64)
	if err != nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	f := u.fwd[id]
	if f == nil || time.Now().After(f.expires) {
		return nil
	}
	return f
}

// postBack relays an upstream handler's post to its SENDER back to the
// request's original sender, in the shape that sender expects.
func (u *Upstream) postBack(ctx context.Context, r *Request) (perlcompat.Value, error) {
	f := u.lookup(r.Session)
	if f == nil {
		return nil, fmt.Errorf("Session '%s' is not available for remote kernels", r.Session)
	}
	if f.origin == nil {
		return nil, nil
	}
	msg, err := protocol.NewPostBack(f.req, r.State, r.Args...)
	if err != nil {
		// The original request had no from: Perl drops such post-backs.
		u.k.log.Debug("upstream post-back dropped: the original sender is anonymous", "state", r.State)
		return nil, nil
	}
	mode := sendAtOnce
	if r.ch != nil && r.ch.burstReq.Load() == r.Message {
		// More of the upstream's input is buffered behind this one, a
		// stream of post-backs most likely: the origin's writer sends
		// them together rather than a write each.
		mode = sendQueued
	}
	return nil, f.origin.sendFrame(ctx, msg, mode)
}

// relayError passes an upstream's remote_error about a forwarded post to
// the client that sent it. With more of the upstream's frames buffered
// behind the report it is queued for the origin's writer, not written;
// when the origin's send queue is full, a goroutine waits for room.
func (u *Upstream) relayError(ch *channel, text, when string, more bool) bool {
	i := strings.Index(text, " sent by poe://"+ch.localID+"/"+u.prefix)
	if i < 0 {
		return false
	}
	rest := text[i+len(" sent by poe://"+ch.localID+"/"):]
	session, _, _ := strings.Cut(rest, "/")
	f := u.lookup(session)
	if f == nil || f.origin == nil {
		return true // ours, but its sender is gone
	}
	rep := f.req.RemoteError(f.origin.remoteID, "", when)
	if rep == nil {
		return true
	}
	if !f.req.IsCall() && fromClientLite(f.req) {
		return true // ClientLite must not get unsolicited frames
	}
	rep.Params.(*perlcompat.Array).Elems[0] = perlcompat.Text(u.rewrite(text, f))
	mode := sendAtOnce
	if more {
		// A stream of reports (posts to a state the upstream lacks),
		// most likely: the origin's writer sends them together rather
		// than a write each.
		mode = sendQueued
	}
	u.sendTo(f.origin, func() {
		if err := f.origin.sendFrame(f.origin.replyCtx, rep, mode); err != nil {
			u.k.log.Debug("relayed remote_error not sent", "error", err)
		}
	})
	return true
}

// sendTo runs send, which queues a frame for the client on ch, from the
// upstream's reader: at once when ch's send queue has room (queueing
// cannot block), else on a goroutine, so that a slow client does not
// hold every other client's answers. It runs while a channel goroutine
// still holds a k.wg count (the upstream's reader, or the client's, which
// is owed the answer), so adding to it cannot race Shutdown's Wait.
func (u *Upstream) sendTo(ch *channel, send func()) {
	if ch.sendq.roomy() {
		send()
		return
	}
	u.k.wg.Add(1)
	go func() {
		defer u.k.wg.Done()
		send()
	}()
}

// rewrite makes an upstream error text quote the original sender instead
// of our from, as a direct Perl server would have written it.
func (u *Upstream) rewrite(text string, f *forwarded) string {
	ours := " sent by " + f.ourFrom.String()
	if f.req.From != nil {
		return strings.Replace(text, ours, " sent by "+f.req.From.String(), 1)
	}
	return strings.Replace(text, ours, "", 1)
}

// Peer returns the upstream channel, waiting for it until ctx ends.
func (u *Upstream) Peer(ctx context.Context) (*Peer, error) { return u.link.Peer(ctx) }
