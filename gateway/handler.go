package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// A Handler answers requests for one published state, as a Perl session's
// event handler does.
//
// The returned value is the reply to a call (ignored for a post). As in
// Perl, a call is answered only when the value is defined: return nil (or
// perlcompat.Undef) to send no reply. In list context (ClientLite's
// wantarray) return a *perlcompat.Array of every value; an empty array
// sends no reply.
//
// A returned error, or a panic, reaches the caller as IKC's remote_error
// (when "invocation") and the kernel keeps running. ctx is cancelled when
// the channel closes or the kernel is shut down for good. Requests a peer
// sent just before closing are still served, as Perl serves them, with ctx
// already cancelled.
type Handler interface {
	ServeIKC(ctx context.Context, r *Request) (perlcompat.Value, error)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, r *Request) (perlcompat.Value, error)

// ServeIKC calls f.
func (f HandlerFunc) ServeIKC(ctx context.Context, r *Request) (perlcompat.Value, error) {
	return f(ctx, r)
}

// Request is one request a handler serves.
type Request struct {
	// Session and State are the published pair the request addressed
	// (for a proxied request, the real state).
	Session, State string
	// Args are the handler's ARG0, ARG1, ...: (params) for a plain
	// request, the proxied list for IKC:proxy, then any "?args".
	Args []perlcompat.Value
	// Kernel is the requesting kernel's remote ID (its first announced
	// name); "" for a request from this kernel itself.
	Kernel string
	// From is the requesting session, to which PostBack posts; nil when
	// the request had none.
	From *protocol.Specifier
	// WantReply reports a call: the return value is sent back.
	WantReply bool
	// WantArray is ClientLite's context: WantList asks for every value.
	WantArray protocol.WantArray
	// Freezer and Dialogue are what the channel negotiated.
	Freezer  string
	Dialogue protocol.Dialogue
	// Message is the request as it arrived.
	Message *protocol.Request

	ch     *channel // nil for local requests
	k      *Kernel
	posted atomic.Bool // PostBack or PostTo sent a frame; see postMode
}

// postMode is how PostBack and PostTo send: the handler's first post is
// written at once, as a reply is, since a post_respond or a callback is
// an answer the peer waits for. Later ones go to the channel's writer,
// which sends a streaming handler's run of posts in one writev rather
// than a write each (over a third more post-backs per second).
func (r *Request) postMode() sendMode {
	if r.posted.Swap(true) {
		return sendQueued
	}
	return sendAtOnce
}

// Arg returns ARGn, or undef when there is none.
func (r *Request) Arg(n int) perlcompat.Value {
	if n < 0 || n >= len(r.Args) {
		return perlcompat.Undef{}
	}
	return r.Args[n]
}

// ErrNoSender is returned by PostBack when the request carried no from
// (Perl drops such post-backs with "anonymous foreign post").
var ErrNoSender = errors.New("gateway: request has no sender to post back to")

// PostBack posts state with args to the requesting session, as a Perl
// handler posting to its SENDER does: through the sender's proxy for a
// full Perl kernel, or to {kernel, session => 'IKCLite', state} for
// ClientLite. The sender's kernel accepts it only if that session
// published state (or holds an rsvp permission for it). A post-back is
// an answer the sender awaits, so the handler's first is written at once,
// as a reply is (and as the upstream route relays one); a stream of them
// goes out in batches (see postMode).
func (r *Request) PostBack(ctx context.Context, state string, args ...perlcompat.Value) error {
	msg, err := protocol.NewPostBack(r.Message, state, args...)
	if err != nil {
		if errors.Is(err, protocol.ErrNoFrom) {
			return ErrNoSender
		}
		return err
	}
	if r.ch == nil {
		return r.k.postLocal(ctx, msg)
	}
	return r.ch.sendFrame(ctx, msg, r.postMode())
}

// PostTo posts params to the state named by to, a specifier string or
// hash, on the channel the request came in on. It serves ClientLite's
// post_respond, whose params carry the rsvp hash to post the answer to:
// the peer waits for it, so it is written at once, as a reply is, rather
// than handed to the channel's writer (unless the handler posted before:
// see postMode).
func (r *Request) PostTo(ctx context.Context, to perlcompat.Value, params perlcompat.Value) error {
	sp, err := protocol.SpecifierFromValue(to)
	if err != nil {
		return err
	}
	msg := &protocol.Request{Event: sp, EventValue: to, Params: params}
	if r.ch == nil {
		return r.k.postLocal(ctx, msg)
	}
	return r.ch.sendFrame(ctx, msg, r.postMode())
}

// fromClientLite reports a request from POE::Component::IKC::ClientLite,
// whose from names session IKCLite and no state.
func fromClientLite(req *protocol.Request) bool {
	return req.From != nil && req.From.Session == "IKCLite" && req.From.State == ""
}

// mux holds the published sessions and states and their handlers. Every
// request looks its handler up, and publishing is rare: readers load an
// immutable table without a lock, and a change copies it (under mu).
type mux struct {
	mu    sync.Mutex // serializes changes
	table atomic.Pointer[muxTable]
}

type muxTable struct {
	sessions map[string]*session
	prefixes map[string]Handler // internal sessions named by prefix (upstream post-backs)
}

// session is immutable once in a table; a change replaces it.
type session struct {
	states map[string]Handler // published states
	all    Handler            // "session/*": every state
}

func newMux() *mux {
	m := &mux{}
	m.table.Store(&muxTable{sessions: map[string]*session{}, prefixes: map[string]Handler{}})
	return m
}

// change applies f to a copy of the table, then publishes the copy. Only
// the session f names by sess is copied deeply (f may change it).
func (m *mux) change(sess string, f func(t *muxTable, s *session)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.table.Load()
	t := &muxTable{sessions: maps.Clone(old.sessions), prefixes: maps.Clone(old.prefixes)}
	s := &session{states: map[string]Handler{}}
	if o := old.sessions[sess]; o != nil {
		s.states, s.all = maps.Clone(o.states), o.all
	}
	f(t, s)
	if sess != "" {
		if len(s.states) == 0 && s.all == nil {
			delete(t.sessions, sess)
		} else {
			t.sessions[sess] = s
		}
	}
	m.table.Store(t)
}

// Builtin states of session IKC, published in every kernel as in Perl.
const (
	ikcSession  = "IKC"
	rsvpSession = "IKC" // our calls' replies come to IKC/<rsvp state>
)

// Handle publishes pattern and serves it with h. pattern is
// "session/state", or "session/*" for every state of the session (used by
// routes that forward whole sessions). Publishing a pattern again replaces
// its handler. Session "IKC" is the kernel's own.
func (k *Kernel) Handle(pattern string, h Handler) {
	sess, state, err := splitPattern(pattern)
	if err != nil {
		panic(err) // a programming error, as with http.Handle
	}
	if h == nil {
		panic("gateway: Handle " + pattern + ": nil handler")
	}
	k.mux.change(sess, func(_ *muxTable, s *session) {
		if state == "*" {
			s.all = h
		} else {
			s.states[state] = h
		}
	})
}

// HandleFunc publishes pattern and serves it with f.
func (k *Kernel) HandleFunc(pattern string, f func(ctx context.Context, r *Request) (perlcompat.Value, error)) {
	k.Handle(pattern, HandlerFunc(f))
}

// Retract withdraws pattern ("session/state", or "session/*" for the
// whole session). Retraction is local, as in Perl: nothing is announced,
// later requests are refused.
func (k *Kernel) Retract(pattern string) {
	sess, state, err := splitPattern(pattern)
	if err != nil {
		return
	}
	k.mux.change(sess, func(_ *muxTable, s *session) {
		if state == "*" {
			s.states, s.all = nil, nil
		} else {
			delete(s.states, state)
		}
	})
}

// Published lists the published patterns, sorted.
func (k *Kernel) Published() []string {
	var out []string
	for name, s := range k.mux.table.Load().sessions {
		for st := range s.states {
			out = append(out, name+"/"+st)
		}
		if s.all != nil {
			out = append(out, name+"/*")
		}
	}
	sort.Strings(out)
	return out
}

func splitPattern(p string) (sess, state string, err error) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return "", "", fmt.Errorf("gateway: pattern %q is not session/state", p)
	}
	sess, state = p[:i], p[i+1:]
	if sess == ikcSession {
		return "", "", fmt.Errorf("gateway: session %q is the kernel's own", ikcSession)
	}
	return sess, state, nil
}

// find applies Perl's check step: a session with nothing published is
// "not available"; a state it did not publish is refused.
func (m *mux) find(sess, state string) (Handler, error) {
	t := m.table.Load()
	s := t.sessions[sess]
	if s == nil {
		for p, h := range t.prefixes {
			if strings.HasPrefix(sess, p) {
				return h, nil
			}
		}
		return nil, fmt.Errorf("Session '%s' is not available for remote kernels", sess)
	}
	if h := s.states[state]; h != nil {
		return h, nil
	}
	if s.all != nil {
		return s.all, nil
	}
	return nil, fmt.Errorf("Session '%s' has not published state '%s'", sess, state)
}

// publishedSession reports what do_you_have asks: is the session (and the
// state, when one is given) published.
func (m *mux) publishedSession(sess, state string) bool {
	if sess == ikcSession {
		return state == "" || state == "ping" || state == "do_you_have" || state == "remote_error"
	}
	_, err := m.find(sess, state)
	if state == "" {
		return m.table.Load().sessions[sess] != nil
	}
	return err == nil
}
