package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// settle handles, on the reader, what must not wait behind handlers:
// replies to this kernel's calls and remote_error reports. It reports
// whether req was consumed, and the call a reply is for, taken from the
// pending table: the caller finishes it with req.Params, after deciding
// whether to lend the read role (lead.go), so that its caller finds the
// role lent when it next calls. more says that another whole frame is
// buffered behind req.
func (ch *channel) settle(req *protocol.Request, more bool) (bool, *pendingCall) {
	if req.Event.Session != ikcSession {
		return false, nil
	}
	switch st := req.Event.State; {
	case st == "remote_error":
		ch.remoteError(req, more)
		return true, nil
	case strings.HasPrefix(st, rsvpPrefix):
		if p := ch.k.takePending(ch, st); p != nil {
			return true, p
		}
		return false, nil // refused by the worker, as an unpublished state
	}
	return false, nil
}

// remoteError reports a remote_error to monitors and fails the pending
// call it is about. IKC's report names the failed request only in its text
// ("….  Request poe://K/s/e sent by …"), so the oldest pending call on this
// channel to that target takes it.
func (ch *channel) remoteError(req *protocol.Request, more bool) {
	msg, when := "", ""
	if a, ok := req.Params.(*perlcompat.Array); ok {
		if len(a.Elems) > 0 {
			msg, _ = perlcompat.StringOf(a.Elems[0])
		}
		if len(a.Elems) > 2 {
			when, _ = perlcompat.StringOf(a.Elems[2])
		}
	}
	if ch.k.log.IsDebug() {
		ch.logger().Debug("remote error", "message", msg, "when", when)
	}
	ch.k.inform(MonitorEvent{Kind: MonitorError, RemoteID: ch.remoteID, Names: ch.names, Operation: "remote-" + when, Message: msg})
	if p := ch.pendingFor(msg); p != nil {
		ch.k.dropKernelPending(p)
		p.finish(nil, &RemoteError{Message: msg, When: when, Kernel: ch.remoteID})
		return
	}
	ch.k.mu.Lock()
	hooks := append([]errorHook(nil), ch.k.errorHooks...)
	ch.k.mu.Unlock()
	for _, h := range hooks {
		if h.fn(ch, msg, when, more) {
			return
		}
	}
}

// RemoteError is an error a remote kernel reported for a request of ours.
type RemoteError struct {
	Message string // Perl's text, "….  Request poe://… sent by …"
	When    string // request, check, resolve or invocation
	Kernel  string // the remote kernel ID

	// relay: returned by a handler, the report goes to the requester as
	// it is (an upstream kernel's own words), not wrapped again.
	relay bool
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("ikc remote error (%s) from %s: %s", e.When, e.Kernel, e.Message)
}

// respond serves one request the way Perl's Responder does (PROTOCOL.md
// §6.3): arguments, check, resolve, invocation, reply; any failure is
// reported back as remote_error, unless the request was itself one.
// ch is nil for a request this kernel posted to itself. start is when
// serving began (the request duration observers see).
func (k *Kernel) respond(ch *channel, req *protocol.Request, ra *requestAlloc, start int64) (end int64) {
	target := req.Target()
	// The handler's Request and its arguments' storage are one
	// allocation (made with a plain post's message, when ra is given): a
	// request costs few, and plain ones have one argument.
	if ra == nil {
		ra = &requestAlloc{}
	}
	var err error
	step := protocol.StepRequest
	var args []perlcompat.Value
	var h Handler
	if target.Session == ikcSession {
		h, err = k.builtin(target.State)
		step = protocol.StepCheck
		if err == nil {
			args, err = req.AppendArgs(ra.args[:0])
			step = protocol.StepRequest
		}
	} else {
		args, err = req.AppendArgs(ra.args[:0])
		if err == nil {
			step = protocol.StepCheck
			h, err = k.mux.find(target.Session, target.State)
		}
	}
	if err == nil {
		step = protocol.StepInvocation
		r := &ra.r
		*r = Request{
			Session: target.Session, State: target.State, Args: args,
			From: req.From, WantReply: req.IsCall(), WantArray: req.WantArray,
			Message: req, ch: ch, k: k,
		}
		ctx := context.Background()
		if ch != nil {
			r.Kernel, r.Freezer, r.Dialogue, ctx = ch.remoteID, ch.freezer.Name(), ch.res.Dialogue, ch.ctx
		}
		var result perlcompat.Value
		result, err = invoke(ctx, h, r)
		if err == nil {
			// Observed before the answer goes out: a caller that has
			// its answer finds the request counted.
			end = k.served(ch, target, req, start, nil)
			k.reply(ch, req, target.Session, result)
			return end
		}
	}
	end = k.served(ch, target, req, start, err)
	k.requestFailed(ch, req, step, err)
	return end
}

type requestAlloc struct {
	r    Request
	args [2]perlcompat.Value
}

// served tells the observer; it returns when (k.clock), or 0 for a
// request of no channel.
func (k *Kernel) served(ch *channel, target protocol.Specifier, req *protocol.Request, start int64, err error) int64 {
	if ch == nil {
		return 0
	}
	end := k.clock()
	k.obs.RequestServed(&ch.info, target.Session, target.State, req.IsCall(), time.Duration(end-start), err)
	return end
}

// invoke runs a handler, turning a panic into an error.
func invoke(ctx context.Context, h Handler, r *Request) (v perlcompat.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			if r.k != nil {
				r.k.log.Error("handler panicked", "state", r.Session+"/"+r.State, "panic", p, "stack", string(debug.Stack()))
			}
		}
	}()
	return h.ServeIKC(ctx, r)
}

// reply sends a call's result, when Perl would: a defined scalar, or a
// non-empty list in list context.
func (k *Kernel) reply(ch *channel, req *protocol.Request, session string, result perlcompat.Value) {
	if !req.IsCall() || perlcompat.IsUndef(result) {
		return
	}
	if req.WantArray == protocol.WantList {
		if a, ok := result.(*perlcompat.Array); ok {
			if len(a.Elems) == 0 {
				return
			}
		} else {
			result = perlcompat.NewArray(result)
		}
	}
	msg, err := protocol.NewReply(req, result)
	if err != nil {
		k.log.Debug("reply not sent", "error", err)
		return
	}
	if ch == nil {
		msg.From = protocol.ProxyFrom(k.id, session)
		k.deliverLocal(msg)
		return
	}
	msg.From, msg.FromValue = ch.proxyFrom(session)
	// A reply goes back on the channel the call came in on. Perl routes it
	// by rsvp.kernel instead, which comes to the same for a caller that
	// announced that name.
	mode := sendAtOnce
	if ch.burstReq.Load() == req {
		mode = sendHeld // served inline with more requests behind it
	}
	if err := ch.sendFrame(ch.replyCtx, msg, mode); err != nil {
		var fe *FreezeError
		if errors.As(err, &fe) {
			// The caller would wait forever: tell it why instead.
			k.requestFailed(ch, req, protocol.StepInvocation, err)
			return
		}
		if ch.k.log.IsDebug() {
			ch.logger().Debug("reply not sent", "error", err)
		}
	}
}

// requestFailed reports a failed request: to local monitors, and to the
// requester as remote_error unless the request was an error report.
func (k *Kernel) requestFailed(ch *channel, req *protocol.Request, step string, err error) {
	text := err.Error()
	remote := ""
	if ch != nil {
		remote = ch.remoteID
	}
	k.inform(MonitorEvent{Kind: MonitorError, RemoteID: remote, Operation: "local-" + step, Message: req.ErrorMessage(text)})
	if ch == nil {
		k.log.Debug("local request failed", "step", step, "error", text)
		return
	}
	if ch.k.log.IsDebug() {
		ch.logger().Debug("request failed", "step", step, "error", text, "event", req.Target().String())
	}
	if !req.IsCall() && fromClientLite(req) {
		// ClientLite reads only while it awaits a reply and mis-parses the
		// frame after an unexpected one (PROTOCOL.md section 7): an error
		// report for a post would break its next call. Perl sends it; we
		// don't.
		return
	}
	rep := req.RemoteError(ch.remoteID, text, step)
	if rep == nil {
		return
	}
	var re *RemoteError
	if errors.As(err, &re) && re.relay {
		rep.Params.(*perlcompat.Array).Elems[0] = perlcompat.Text(re.Message)
		rep.Params.(*perlcompat.Array).Elems[2] = perlcompat.Text(re.When)
	}
	mode := sendAtOnce
	if ch.burstReq.Load() == req {
		mode = sendHeld // as a reply: a stream of bad posts gets its reports in one write
	}
	if err := ch.sendFrame(ch.replyCtx, rep, mode); err != nil {
		if ch.k.log.IsDebug() {
			ch.logger().Debug("remote_error not sent", "error", err)
		}
	}
}

// builtin returns the handler of a state of session IKC: ping,
// do_you_have and remote_error are published in every kernel.
func (k *Kernel) builtin(state string) (Handler, error) {
	switch state {
	case "ping":
		return HandlerFunc(func(context.Context, *Request) (perlcompat.Value, error) {
			return perlcompat.Str{S: "PONG"}, nil
		}), nil
	case "do_you_have":
		return HandlerFunc(k.doYouHave), nil
	case "remote_error":
		// Reached only for reports this kernel posted to itself.
		return HandlerFunc(func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil }), nil
	}
	return nil, fmt.Errorf("Session '%s' has not published state '%s'", ikcSession, state)
}

// doYouHave answers a subscription request (PROTOCOL.md §5.4): params are
// [spec, subscriber ID]; the reply is [spec with its kernel filled in, our
// ID] or "Refused subscription <spec>".
func (k *Kernel) doYouHave(_ context.Context, r *Request) (perlcompat.Value, error) {
	a, ok := r.Arg(0).(*perlcompat.Array)
	if !ok || len(a.Elems) == 0 {
		return nil, errors.New("Bad state (no specifier)")
	}
	spec, err := protocol.SpecifierFromValue(a.Elems[0])
	if err != nil {
		s, _ := perlcompat.StringOf(a.Elems[0])
		return nil, fmt.Errorf("Bad state %s", s)
	}
	if !k.mux.publishedSession(spec.Session, spec.State) {
		return perlcompat.Text("Refused subscription " + spec.String()), nil
	}
	id := k.id
	if r.ch != nil {
		id = r.ch.localID
	}
	if spec.Kernel == "" {
		spec.Kernel = id
	}
	k.inform(MonitorEvent{Kind: MonitorSubscribe, RemoteID: r.Kernel, Session: spec.Session})
	return perlcompat.NewArray(spec.Value(), perlcompat.Text(id)), nil
}

// fromValue is a from specifier and its hash form, shared by the frames
// that carry it: neither is written once built.
type fromValue struct {
	sp protocol.Specifier
	v  *perlcompat.Hash
}

// proxyFrom returns the from of a reply sent on ch from session
// (protocol.ProxyFrom) and its hash.
func (ch *channel) proxyFrom(session string) (*protocol.Specifier, *perlcompat.Hash) {
	f := ch.replyFrom.Load()
	if f == nil || f.sp.Session != session {
		f = &fromValue{sp: *protocol.ProxyFrom(ch.localID, session)}
		f.v = f.sp.Value()
		ch.replyFrom.Store(f)
	}
	return &f.sp, f.v
}
