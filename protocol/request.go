package protocol

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Request errors. Match them with errors.Is.
var (
	// ErrNotHash means a frame's value is not a hash. Every IKC message is
	// one; a Perl kernel receiving anything else dies.
	ErrNotHash = errors.New("ikc: message is not a hash")

	// ErrBadEvent means the event is missing or not a specifier. Perl
	// then treats it as an empty specifier and answers with a "check"
	// remote_error (unless the message is itself an error).
	ErrBadEvent = errors.New("ikc: bad or missing event")

	// ErrFromNotHash means from is true but not a hash (a string, say).
	// Perl dies when a handler posts back to such a sender; Request.From
	// is nil, so a Go kernel treats the sender as anonymous.
	ErrFromNotHash = errors.New("ikc: from is not a hash")

	// ErrBadRsvp means rsvp is true (the sender wants a reply) but is not
	// a specifier, so no reply can be addressed.
	ErrBadRsvp = errors.New("ikc: bad rsvp")

	// ErrCallNotHash means the message has a defined call key that is not
	// a hash. Perl's channel dies on receipt ("Can't use string as a HASH
	// ref"); Request.Value never sends such a key.
	ErrCallNotHash = errors.New("ikc: call is not a hash")

	// ErrNoRsvp means a reply was asked for a request that wants none.
	ErrNoRsvp = errors.New("ikc: request has no rsvp")

	// ErrNoFrom means a post-back was asked for a request without from
	// (Perl drops it with "anonymous foreign post").
	ErrNoFrom = errors.New("ikc: request has no from")
)

// RequestError reports a problem with one key of a message. It matches the
// sentinel in Err.
type RequestError struct {
	Key    string // the message key ("" for the message itself)
	Err    error  // one of the sentinels above
	Detail string
}

func (e *RequestError) Error() string {
	msg := e.Err.Error()
	if e.Key != "" {
		msg += " (key " + e.Key + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *RequestError) Unwrap() error { return e.Err }

// WantArray is the calling context a ClientLite caller asks for.
type WantArray int8

const (
	// WantVoid: no wantarray key (or undef), as from every full IKC
	// kernel. The callee runs the handler in scalar context.
	WantVoid WantArray = iota
	// WantScalar: wantarray "" (ClientLite call in scalar context).
	WantScalar
	// WantList: wantarray true, "1" on the wire (ClientLite in list
	// context). The callee replies with an array of all return values.
	WantList
)

func (w WantArray) String() string {
	switch w {
	case WantVoid:
		return "void"
	case WantScalar:
		return "scalar"
	case WantList:
		return "list"
	}
	return fmt.Sprintf("WantArray(%d)", int8(w))
}

// Request is one IKC message: every frame carries one, whether a post, a
// call, a reply or an error report (PROTOCOL.md §5).
//
// Event, From and Rsvp are parsed; EventValue, FromValue and RsvpValue keep
// the values as received, so that a reply can address the rsvp exactly as
// the caller wrote it. Value sends a raw value only while it still parses
// to the parsed field, so changing Event, From or Rsvp is enough. A raw
// hash is not parsed again each time: replace a raw value rather than
// edit a received hash in place (an edit would be sent as it is).
type Request struct {
	Event  Specifier        // destination
	Params perlcompat.Value // the handler's ARG0 (for IKC:proxy, [state, [args]])

	// From is the sender, to which a handler may post back; nil when
	// absent or unusable.
	From *Specifier
	// Rsvp is where the reply goes; nil for a post.
	Rsvp *Specifier

	WantArray WantArray
	IsError   bool // an error report, never answered with an error

	// Extra holds the other keys, in the order received. Perl leaks
	// errors_to and call onto the wire (captures/c3-…); receivers ignore
	// them.
	Extra []perlcompat.Entry

	EventValue perlcompat.Value
	FromValue  perlcompat.Value
	RsvpValue  perlcompat.Value

	// What Decode and NewReply keep beside a call or a reply; nil for a
	// plain post, which is then a 192-byte allocation instead of 512.
	x *requestExtra
}

type requestExtra struct {
	// What this package parsed a raw hash as: Value sends the raw hash
	// as it is, without parsing it again, while neither changed. A reply
	// re-parsed its call's rsvp for that, 5% of a server's CPU per call.
	rsvpSeen, eventSeen seenSpec

	// What Decode points From and Rsvp at.
	fromStore, rsvpStore Specifier
}

// requestWithExtra is a Request and its extra in one allocation.
type requestWithExtra struct {
	r Request
	x requestExtra
}

func newRequestWithExtra() *Request {
	a := &requestWithExtra{}
	a.r.x = &a.x
	return &a.r
}

// seenSpec is a raw specifier hash and what it was parsed as.
type seenSpec struct {
	raw *perlcompat.Hash
	sp  Specifier
}

// unchanged reports that raw and sp are still what was seen.
func (s seenSpec) unchanged(raw perlcompat.Value, sp Specifier) bool {
	h, ok := raw.(*perlcompat.Hash)
	return ok && s.raw != nil && h == s.raw && sp == s.sp
}

// DecodeRequest reads a thawed message the way a Perl kernel does: undef
// counts as missing, unknown keys are kept in Extra, Perl's truth decides
// whether from and rsvp are present.
//
// A value that is not a hash gives ErrNotHash and no request. Otherwise a
// request is always returned; when some key is unusable the error says
// which (a *RequestError, or several joined) and the request is still
// usable:
//   - ErrBadEvent: answer with a "check" remote_error (see RemoteError);
//   - ErrFromNotHash: From is nil; do not post back (Perl would die);
//   - ErrBadRsvp: the sender wants a reply that cannot be addressed;
//   - ErrCallNotHash: ignore the key (Perl would die on receipt).
func DecodeRequest(v perlcompat.Value) (*Request, error) {
	var d RequestDecoder
	return d.Decode(v)
}

// RequestDecoder is DecodeRequest with a memory: it remembers the last
// event string it parsed, as a channel's requests mostly name one or a few
// states. Parsing "poe://kernel/session/state" was a twentieth of a busy
// gateway's CPU. Use one per channel reader; it is not safe for
// concurrent use.
type RequestDecoder struct {
	lastEvent perlcompat.Str
	lastSpec  Specifier
}

// Decode is DecodeRequest.
func (d *RequestDecoder) Decode(v perlcompat.Value) (*Request, error) {
	return d.decode(nil, v)
}

// RequestStore is room for one decoded plain post, for a caller that
// allocates it together with its own data: a server then pays one
// allocation per post where it paid two (the second was 7% of its CPU per
// post).
type RequestStore struct{ r Request }

// IsPlainPost reports a message that DecodeIn decodes into its store: a
// hash with neither from nor rsvp true. Calls and requests from a session
// carry parsed specifiers beside them, which need more room.
func IsPlainPost(v perlcompat.Value) bool {
	h, ok := v.(*perlcompat.Hash)
	if !ok || h == nil {
		return false
	}
	for _, e := range h.Entries {
		// Keys are compared as bytes, sparing the scan of Str.Chars: a
		// key's bytes equal an ASCII name exactly when its characters
		// do (a byte string's high byte is a character above 127, and
		// a character string's UTF-8 has high bytes only for those).
		if k := e.Key.S; (k == "from" || k == "rsvp") && perlcompat.Truth(e.Value) {
			return false
		}
	}
	return true
}

// DecodeIn is Decode with a plain post's request in s, which it
// overwrites; the request lives as long as s does, and s serves one
// request only. Other messages (see IsPlainPost) are decoded as Decode
// decodes them, in a new request.
func (d *RequestDecoder) DecodeIn(s *RequestStore, v perlcompat.Value) (*Request, error) {
	return d.decode(s, v)
}

func (d *RequestDecoder) decode(s *RequestStore, v perlcompat.Value) (*Request, error) {
	h, ok := v.(*perlcompat.Hash)
	if !ok || h == nil {
		return nil, &RequestError{Err: ErrNotHash, Detail: "got " + describe(v)}
	}
	// Calls (rsvp) and requests from a session (from) carry parsed
	// specifiers beside them; a plain post does not.
	var r *Request
	switch {
	case !IsPlainPost(h):
		r = newRequestWithExtra()
	case s != nil:
		s.r = Request{}
		r = &s.r
	default:
		r = &Request{}
	}
	var errs []error
	for _, e := range h.Entries {
		switch e.Key.S { // as bytes: see IsPlainPost
		case "event":
			r.EventValue = e.Value
		case "params":
			r.Params = e.Value
		case "from":
			r.FromValue = e.Value
		case "rsvp":
			r.RsvpValue = e.Value
		case "wantarray":
			switch {
			case perlcompat.IsUndef(e.Value):
				r.WantArray = WantVoid
			case perlcompat.Truth(e.Value):
				r.WantArray = WantList
			default:
				r.WantArray = WantScalar
			}
		case "is_error":
			r.IsError = perlcompat.Truth(e.Value)
		default:
			r.Extra = setEntry(r.Extra, e)
			if e.Key.Chars() == "call" && !perlcompat.IsUndef(e.Value) {
				if _, ok := e.Value.(*perlcompat.Hash); !ok {
					errs = append(errs, &RequestError{Key: "call", Err: ErrCallNotHash, Detail: describe(e.Value)})
				}
			}
		}
	}
	if perlcompat.IsUndef(r.EventValue) {
		errs = append(errs, &RequestError{Key: "event", Err: ErrBadEvent, Detail: "missing"})
	} else if sp, err := d.event(r.EventValue); err != nil {
		errs = append(errs, &RequestError{Key: "event", Err: ErrBadEvent, Detail: err.Error()})
	} else {
		r.Event = sp
	}
	if perlcompat.Truth(r.FromValue) {
		fh, ok := r.FromValue.(*perlcompat.Hash)
		if !ok {
			errs = append(errs, &RequestError{Key: "from", Err: ErrFromNotHash, Detail: describe(r.FromValue)})
		} else if sp, err := specifierFromHash(fh, true); err != nil {
			errs = append(errs, &RequestError{Key: "from", Err: ErrFromNotHash, Detail: err.Error()})
		} else {
			r.x.fromStore = sp
			r.From = &r.x.fromStore
		}
	}
	if perlcompat.Truth(r.RsvpValue) {
		if sp, err := SpecifierFromValue(r.RsvpValue); err != nil {
			errs = append(errs, &RequestError{Key: "rsvp", Err: ErrBadRsvp, Detail: err.Error()})
		} else {
			r.x.rsvpStore = sp
			r.Rsvp = &r.x.rsvpStore
			if h, ok := r.RsvpValue.(*perlcompat.Hash); ok {
				r.x.rsvpSeen = seenSpec{h, sp}
			}
		}
	}
	return r, errors.Join(errs...)
}

// event parses an event, or returns the last one's specifier when v is
// the same string.
func (d *RequestDecoder) event(v perlcompat.Value) (Specifier, error) {
	s, ok := v.(perlcompat.Str)
	if !ok {
		return SpecifierFromValue(v)
	}
	if s == d.lastEvent && s.S != "" {
		return d.lastSpec, nil
	}
	// Parse a copy: a decoder's strings share one copy of their whole
	// message, and the remembered event (and the specifier parsed from
	// it, which later requests get) must not hold on to a big one.
	s.S = strings.Clone(s.S)
	sp, err := SpecifierFromValue(s)
	if err == nil {
		d.lastEvent, d.lastSpec = s, sp
	}
	return sp, err
}

// setEntry appends e, or replaces an entry with the same key (the last
// one wins, as when Perl stores a key twice).
func setEntry(entries []perlcompat.Entry, e perlcompat.Entry) []perlcompat.Entry {
	for i := range entries {
		if perlcompat.SameKey(entries[i].Key, e.Key) {
			entries[i].Value = e.Value
			return entries
		}
	}
	return append(entries, e)
}

// describe names a value for an error message without quoting much of it.
func describe(v perlcompat.Value) string {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return "undef"
	case perlcompat.Str:
		s := x.Chars()
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Sprintf("the string %q", s)
	}
	s, ok := perlcompat.StringOf(v)
	if ok {
		return "the number " + s
	}
	return "a " + s + " reference"
}

// IsCall reports whether the sender wants a reply: rsvp is true in Perl's
// sense, even if it could not be parsed.
func (r *Request) IsCall() bool { return perlcompat.Truth(r.RsvpValue) || r.Rsvp != nil }

// Value returns the message as a hash ready to freeze. Optional keys are
// left out when undef or false; from is always a hash; a call key that is
// not a hash is dropped (it would kill a Perl receiver).
func (r *Request) Value() *perlcompat.Hash {
	return r.ValueInto(&perlcompat.Hash{Entries: make([]perlcompat.Entry, 0, 6+len(r.Extra))})
}

// ValueInto is Value built in h, whose entries are replaced: a sender
// freezing message after message reuses one hash and its entries.
func (r *Request) ValueInto(h *perlcompat.Hash) *perlcompat.Hash {
	h.Class = ""
	h.Entries = h.Entries[:0]
	// The known keys are distinct: append them without a lookup each.
	add := func(k string, v perlcompat.Value) {
		h.Entries = append(h.Entries, perlcompat.Entry{Key: perlcompat.Str{S: k}, Value: v})
	}
	if r.x != nil && r.x.eventSeen.unchanged(r.EventValue, r.Event) {
		add("event", r.EventValue)
	} else {
		add("event", rawOr(r.EventValue, r.Event, false))
	}
	params := r.Params
	if params == nil {
		params = perlcompat.Undef{}
	}
	add("params", params)
	if r.From != nil {
		add("from", rawOr(r.FromValue, *r.From, true))
	}
	if r.Rsvp != nil {
		add("rsvp", rawOr(r.RsvpValue, *r.Rsvp, true))
	}
	switch r.WantArray {
	case WantScalar:
		add("wantarray", emptyStr)
	case WantList:
		add("wantarray", oneStr)
	}
	if r.IsError {
		add("is_error", perlcompat.Int(1))
	}
	for _, e := range r.Extra {
		if h.Index(e.Key) >= 0 {
			continue // the known keys above win
		}
		if e.Key.Chars() == "call" {
			if _, ok := e.Value.(*perlcompat.Hash); !ok && !perlcompat.IsUndef(e.Value) {
				continue
			}
		}
		h.Entries = append(h.Entries, e)
	}
	return h
}

// Boxed once: converting a Str to a Value allocates.
var (
	emptyStr perlcompat.Value = perlcompat.Str{}
	oneStr   perlcompat.Value = perlcompat.Str{S: "1"}
)

// rawOr returns raw when it still stands for sp, else sp's own form (the
// hash form when hashOnly, else the string form when it is lossless).
func rawOr(raw perlcompat.Value, sp Specifier, hashOnly bool) perlcompat.Value {
	if raw != nil && !perlcompat.IsUndef(raw) {
		_, isHash := raw.(*perlcompat.Hash)
		if !hashOnly || isHash {
			var got Specifier
			var err error
			if isHash && hashOnly {
				got, err = specifierFromHash(raw.(*perlcompat.Hash), true)
			} else {
				got, err = SpecifierFromValue(raw)
			}
			if err == nil && got == sp {
				return raw
			}
		}
	}
	if hashOnly {
		return sp.Value()
	}
	return sp.wireValue()
}

// Target returns the destination as Perl's receiver resolves it: for
// state IKC:proxy the real state is params[0] (PROTOCOL.md §5.4).
func (r *Request) Target() Specifier {
	to := r.Event
	if to.State != "IKC:proxy" {
		return to
	}
	switch p := r.Params.(type) {
	case nil, perlcompat.Undef:
		to.State = "" // Perl autovivifies params; the state is then undef
	case *perlcompat.Array:
		to.State = ""
		if len(p.Elems) > 0 {
			if s, ok := perlcompat.StringOf(p.Elems[0]); ok {
				to.State = s
			}
		}
	}
	return to
}

// Args returns the handler's arguments as Perl's receiver builds them:
// (params) for a plain request, @{params[1]} for IKC:proxy, then the
// specifier's ?args. An IKC:proxy request whose params are not
// [state, [args...]] is an error (Perl's "request" step).
func (r *Request) Args() ([]perlcompat.Value, error) {
	return r.AppendArgs(nil)
}

// AppendArgs is Args appended to dst, whose storage a caller may provide.
func (r *Request) AppendArgs(dst []perlcompat.Value) ([]perlcompat.Value, error) {
	args := dst
	if r.Event.State == "IKC:proxy" {
		a, ok := r.Params.(*perlcompat.Array)
		if !ok {
			return nil, fmt.Errorf("ikc: IKC:proxy params are %s, want [state, [args]]", describe(r.Params))
		}
		var second perlcompat.Value
		if len(a.Elems) > 1 {
			second = a.Elems[1]
		}
		inner, ok := second.(*perlcompat.Array)
		if !ok {
			return nil, fmt.Errorf("ikc: IKC:proxy arguments are %s, want an array", describe(second))
		}
		args = append(args, inner.Elems...)
	} else {
		args = append(args, r.paramsOrUndef())
	}
	if r.Event.HasArgs {
		args = append(args, perlcompat.Text(r.Event.Args))
	}
	return args, nil
}

func (r *Request) paramsOrUndef() perlcompat.Value {
	if r.Params == nil {
		return perlcompat.Undef{}
	}
	return r.Params
}

// NewPost returns a post (fire and forget) of params to the event to.
func NewPost(to Specifier, params perlcompat.Value) *Request {
	return &Request{Event: to, Params: params}
}

// NewCall returns a call: the callee replies to rsvp with the handler's
// return value, if it is defined. rsvp.Kernel must be a name this kernel
// announced: Perl routes the reply by it, and has no working default.
func NewCall(to Specifier, params perlcompat.Value, rsvp Specifier) *Request {
	return &Request{Event: to, Params: params, Rsvp: &rsvp}
}

// NewReply returns the reply to the call req: its event is req's rsvp
// exactly as received, its params the result (for WantList, an array of
// every return value). Perl sends a reply only for a defined result and
// only to an rsvp with a session and a state; NewReply refuses the others
// with ErrNoRsvp. Set From to the handler's session if it has one.
func NewReply(req *Request, result perlcompat.Value) (*Request, error) {
	if req.Rsvp == nil {
		return nil, &RequestError{Key: "rsvp", Err: ErrNoRsvp, Detail: "a post has nothing to reply to"}
	}
	if !truthy(req.Rsvp.Session) || !truthy(req.Rsvp.State) {
		return nil, &RequestError{Key: "rsvp", Err: ErrNoRsvp, Detail: "rsvp " + req.Rsvp.String() + " lacks a session or a state"}
	}
	if req.x != nil && req.x.rsvpSeen.unchanged(req.RsvpValue, *req.Rsvp) {
		rep := newRequestWithExtra()
		rep.Event, rep.EventValue, rep.Params = *req.Rsvp, req.RsvpValue, result
		rep.x.eventSeen = req.x.rsvpSeen
		return rep, nil
	}
	return &Request{Event: *req.Rsvp, EventValue: req.RsvpValue, Params: result}, nil
}

// ProxyFrom returns the from that a Perl kernel puts on requests sent by a
// session that published states: {kernel => ID, session => alias,
// state => "IKC:proxy"}. Posts back to it reach that session.
func ProxyFrom(kernelID, session string) *Specifier {
	return &Specifier{Kernel: kernelID, Session: session, State: "IKC:proxy"}
}

// NewProxyPost returns a post through a proxy session (a subscribed
// remote session): event {kernel, session, state => "IKC:proxy"} with
// params [state, [args...]]. Only to.Kernel and to.Session are used.
func NewProxyPost(to Specifier, state string, args ...perlcompat.Value) *Request {
	ev := Specifier{Kernel: to.Kernel, Session: to.Session, State: "IKC:proxy"}
	return &Request{Event: ev, EventValue: ev.Value(), Params: proxyParams(state, args)}
}

func proxyParams(state string, args []perlcompat.Value) *perlcompat.Array {
	return perlcompat.NewArray(perlcompat.Text(state), perlcompat.NewArray(append([]perlcompat.Value(nil), args...)...))
}

// NewPostBack returns what Perl sends when a handler posts (state, args)
// to its SENDER: to a from with a state (a proxy), {event => from, params
// => [state, [args]]}; to a ClientLite from without one, {event => {%from,
// state => state}, params => [args]}. Without from it gives ErrNoFrom.
func NewPostBack(req *Request, state string, args ...perlcompat.Value) (*Request, error) {
	if req.From == nil {
		return nil, &RequestError{Key: "from", Err: ErrNoFrom, Detail: "Perl drops a post-back to an anonymous sender"}
	}
	if truthy(req.From.State) {
		raw := hashOnly(req.FromValue)
		if raw == nil {
			raw = req.From.Value()
		}
		return &Request{Event: *req.From, EventValue: raw, Params: proxyParams(state, args)}, nil
	}
	ev := *req.From
	ev.State = state
	var raw perlcompat.Value = ev.Value()
	if h, ok := req.FromValue.(*perlcompat.Hash); ok {
		c := &perlcompat.Hash{Entries: append([]perlcompat.Entry(nil), h.Entries...)}
		c.Set("state", perlcompat.Text(state))
		raw = c
	}
	return &Request{Event: ev, EventValue: raw, Params: perlcompat.NewArray(append([]perlcompat.Value(nil), args...)...)}, nil
}

func hashOnly(v perlcompat.Value) perlcompat.Value {
	if h, ok := v.(*perlcompat.Hash); ok && h != nil {
		return h
	}
	return nil
}

// Steps at which a request can fail, the "when" of a remote_error.
const (
	StepRequest    = "request"    // building the arguments (bad IKC:proxy params)
	StepCheck      = "check"      // session or state not published
	StepResolve    = "resolve"    // no such session
	StepInvocation = "invocation" // the handler failed
)

// NewRemoteError returns the error report a kernel sends when a request
// fails: a post to {kernel => requesterID, session => "IKC", state =>
// "remote_error"} with params [msg, failedKernel, when] and is_error 1.
// requesterID is the requester's remote ID (its first announced name);
// failedKernel is the kernel part of the failed event, or nil (undef)
// when the event did not parse.
func NewRemoteError(requesterID, msg string, failedKernel perlcompat.Value, when string) *Request {
	if failedKernel == nil {
		failedKernel = perlcompat.Undef{}
	}
	ev := Specifier{Kernel: requesterID, Session: "IKC", State: "remote_error"}
	return &Request{
		Event:      ev,
		EventValue: ev.Value(), // Perl sends the hash form
		Params:     perlcompat.NewArray(perlcompat.Text(msg), failedKernel, perlcompat.Text(when)),
		IsError:    true,
	}
}

// RemoteError returns the error report for r as Perl's Responder builds
// it, or nil when r is itself an error report (errors are never answered
// with errors). The message is "<msg>.  Request <target>" plus
// " sent by <from>" when r had a from; msg loses one trailing newline, as
// with Perl's chomp.
func (r *Request) RemoteError(requesterID, msg, when string) *Request {
	if r.IsError {
		return nil
	}
	return NewRemoteError(requesterID, r.ErrorMessage(msg), r.failedKernel(), when)
}

// ErrorMessage formats msg for a remote_error about r, as Perl does.
func (r *Request) ErrorMessage(msg string) string {
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	msg += ".  Request " + r.Target().String()
	if perlcompat.Truth(r.FromValue) {
		if r.From != nil {
			msg += " sent by " + r.From.String()
		} else if s, ok := perlcompat.StringOf(r.FromValue); ok {
			msg += " sent by " + s // Perl's specifier_name returns a string as is
		}
	}
	return msg
}

// failedKernel is the kernel part Perl reports: the parsed kernel ("" if
// none), or undef when the event did not parse.
func (r *Request) failedKernel() perlcompat.Value {
	if perlcompat.IsUndef(r.EventValue) {
		return perlcompat.Undef{}
	}
	if _, err := SpecifierFromValue(r.EventValue); err != nil {
		return perlcompat.Undef{}
	}
	if h, ok := r.EventValue.(*perlcompat.Hash); ok {
		// Perl reports the hash's own (normalized) value.
		if v := h.Get("kernel"); perlcompat.Truth(v) {
			return v
		}
		return perlcompat.Str{}
	}
	return perlcompat.Text(r.Event.Kernel)
}
