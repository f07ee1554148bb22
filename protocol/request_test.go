package protocol

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// reqTestFrame is one decoded frame of a capture.
type reqTestFrame struct {
	Scenario string
	Frame    fcapFrame
	Value    perlcompat.Value
}

func reqTestFrames(t *testing.T) []reqTestFrame {
	t.Helper()
	_, expects := fcapLoad(t)
	var out []reqTestFrame
	for _, exp := range expects {
		for _, f := range exp.Frames {
			if f.Value == nil {
				if f.ThawError == "" {
					t.Fatalf("%s: frame without value or thaw_error", exp.Scenario)
				}
				continue
			}
			v, err := fcapValue(f.Value)
			if err != nil {
				t.Fatalf("%s frame %s/%d: %v", exp.Scenario, f.Dir, f.Index, err)
			}
			out = append(out, reqTestFrame{Scenario: exp.Scenario, Frame: f, Value: v})
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d frames with values in the captures", len(out))
	}
	return out
}

// sortedHash compares hashes regardless of entry order (Perl's is random).
var sortedHash = cmp.Transformer("sortedHash", func(h *perlcompat.Hash) *perlcompat.Hash {
	if h == nil {
		return nil
	}
	c := &perlcompat.Hash{Class: h.Class, Entries: append([]perlcompat.Entry(nil), h.Entries...)}
	sort.Slice(c.Entries, func(i, j int) bool { return c.Entries[i].Key.Chars() < c.Entries[j].Key.Chars() })
	return c
})

func TestDecodeRequestReadsEveryCapturedMessage(t *testing.T) {
	for _, f := range reqTestFrames(t) {
		name := f.Scenario + "/" + f.Frame.Dir
		h := f.Value.(*perlcompat.Hash)
		r, err := DecodeRequest(f.Value)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// event: the parsed specifier of the string or hash, raw kept.
		ev := h.Get("event")
		if r.EventValue != ev {
			t.Errorf("%s: EventValue not kept", name)
		}
		switch e := ev.(type) {
		case perlcompat.Str:
			want, _ := ParseSpecifier(e.S)
			if r.Event != want || r.Event.State == "" || !strings.HasPrefix(e.S, "poe://") {
				t.Errorf("%s: event %q decoded as %+v", name, e.S, r.Event)
			}
		case *perlcompat.Hash:
			k, _ := perlcompat.StringOf(e.Get("kernel"))
			s, _ := perlcompat.StringOf(e.Get("session"))
			st, _ := perlcompat.StringOf(e.Get("state"))
			if r.Event != (Specifier{Kernel: k, Session: s, State: st}) {
				t.Errorf("%s: event hash decoded as %+v", name, r.Event)
			}
		default:
			t.Errorf("%s: event is %T", name, ev)
		}
		// rsvp and from: present exactly when the key is, raw kept.
		if rs, ok := h.Lookup("rsvp"); ok != (r.Rsvp != nil) || ok != r.IsCall() || r.RsvpValue != rs {
			t.Errorf("%s: rsvp %v decoded as %+v", name, ok, r.Rsvp)
		} else if ok {
			st, _ := perlcompat.StringOf(rs.(*perlcompat.Hash).Get("state"))
			if r.Rsvp.State != st || r.Rsvp.Kernel == "" || r.Rsvp.Session == "" {
				t.Errorf("%s: rsvp decoded as %+v", name, r.Rsvp)
			}
		}
		if fr, ok := h.Lookup("from"); ok != (r.From != nil) || r.FromValue != fr {
			t.Errorf("%s: from %v decoded as %+v", name, ok, r.From)
		} else if ok && (r.From.Kernel == "" || r.From.Session == "") {
			t.Errorf("%s: from decoded as %+v", name, r.From)
		}
		wa, _ := h.Lookup("wantarray")
		wantWA := map[perlcompat.Value]WantArray{nil: WantVoid, perlcompat.Str{}: WantScalar, perlcompat.Str{S: "1"}: WantList}[wa]
		if r.WantArray != wantWA {
			t.Errorf("%s: wantarray %#v decoded as %v", name, wa, r.WantArray)
		}
		if _, ok := h.Lookup("is_error"); ok != r.IsError {
			t.Errorf("%s: is_error decoded as %v", name, r.IsError)
		}
		// Nothing is lost: the message encodes back to what Perl sent.
		if diff := cmp.Diff(f.Value, perlcompat.Value(r.Value()), sortedHash); diff != "" {
			t.Errorf("%s: Value() differs from the captured message (-captured +Value):\n%s", name, diff)
		}
	}
}

func TestDecodeRequestKeepsLeakedErrorsToAndCallKeys(t *testing.T) {
	found := false
	for _, f := range reqTestFrames(t) {
		if f.Scenario != "c3-subscribe-star-lost-receipt" || f.Frame.Dir != "c2s" {
			continue
		}
		found = true
		r, err := DecodeRequest(f.Value)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range r.Extra {
			keys = append(keys, e.Key.Chars())
		}
		sort.Strings(keys)
		if diff := cmp.Diff([]string{"call", "errors_to"}, keys); diff != "" {
			t.Errorf("Extra keys (-want +got):\n%s", diff)
		}
		if r.Event != (Specifier{Kernel: "*", Session: "IKC", State: "do_you_have"}) {
			t.Errorf("event %+v", r.Event)
		}
	}
	if !found {
		t.Fatal("c3 capture frame not found")
	}
}

// reqTestDecode decodes a captured message, failing the test on error.
func reqTestDecode(t *testing.T, v perlcompat.Value) *Request {
	t.Helper()
	r, err := DecodeRequest(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewReplyReproducesEveryCapturedReply(t *testing.T) {
	frames := reqTestFrames(t)
	matched := 0
	for i, call := range frames {
		req := reqTestDecode(t, call.Value)
		if req.Rsvp == nil {
			continue
		}
		// The reply is the frame, the other way, whose event is the rsvp.
		for _, rep := range frames[i+1:] {
			if rep.Scenario != call.Scenario || rep.Frame.Dir == call.Frame.Dir {
				continue
			}
			h := rep.Value.(*perlcompat.Hash)
			if !cmp.Equal(h.Get("event"), req.RsvpValue, sortedHash) {
				continue
			}
			reply, err := NewReply(req, h.Get("params"))
			if err != nil {
				t.Fatalf("%s: NewReply: %v", call.Scenario, err)
			}
			if from := h.Get("from"); from != nil {
				reply.From = reqTestDecode(t, rep.Value).From
			}
			if diff := cmp.Diff(rep.Value, perlcompat.Value(reply.Value()), sortedHash); diff != "" {
				t.Errorf("%s: reply (-captured +NewReply):\n%s", call.Scenario, diff)
			}
			if reply.Value().Get("event") != req.RsvpValue {
				t.Errorf("%s: reply event is not the rsvp value as received", call.Scenario)
			}
			matched++
			break
		}
	}
	if matched < 20 {
		t.Errorf("only %d captured replies matched a call", matched)
	}
}

func TestRemoteErrorReproducesEveryCapturedErrorReport(t *testing.T) {
	frames := reqTestFrames(t)
	reports, matched := 0, 0
	for _, ef := range frames {
		e := reqTestDecode(t, ef.Value)
		if !e.IsError {
			continue
		}
		reports++
		params := e.Params.(*perlcompat.Array).Elems
		full, _ := perlcompat.StringOf(params[0])
		when, _ := perlcompat.StringOf(params[2])
		msg, _, ok := strings.Cut(full, ".  Request ")
		if !ok {
			t.Fatalf("%s: unexpected error text %q", ef.Scenario, full)
		}
		// Some request of the other direction failed this way.
		for _, rf := range frames {
			if rf.Scenario != ef.Scenario || rf.Frame.Dir == ef.Frame.Dir {
				continue
			}
			req := reqTestDecode(t, rf.Value)
			got := req.RemoteError(e.Event.Kernel, msg+"\n", when)
			if got != nil && cmp.Equal(ef.Value, perlcompat.Value(got.Value()), sortedHash) {
				matched++
				if again := e.RemoteError("x", "y", StepCheck); again != nil {
					t.Errorf("%s: an error report was answered with an error", ef.Scenario)
				}
				break
			}
		}
	}
	if reports < 7 || matched != reports {
		t.Errorf("%d of %d captured remote_error frames reproduced", matched, reports)
	}
}

func TestProxyPostAndPostBackReproduceTheSubscribeCapture(t *testing.T) {
	var c2s, s2c []perlcompat.Value
	for _, f := range reqTestFrames(t) {
		if f.Scenario == "c-subscribe-proxy" {
			if f.Frame.Dir == "c2s" {
				c2s = append(c2s, f.Value)
			} else {
				s2c = append(s2c, f.Value)
			}
		}
	}
	if len(c2s) != 6 || len(s2c) != 5 {
		t.Fatalf("c-subscribe-proxy: %d/%d frames", len(c2s), len(s2c))
	}
	// c2s 1: a post through the proxy for poe://Server/svc.
	captured := reqTestDecode(t, c2s[1])
	p := NewProxyPost(Specifier{Kernel: "Server", Session: "svc"}, "ack_sender", perlcompat.Text("via proxy"))
	p.From = ProxyFrom(captured.From.Kernel, "client")
	if diff := cmp.Diff(c2s[1], perlcompat.Value(p.Value()), sortedHash); diff != "" {
		t.Errorf("proxy post (-captured +built):\n%s", diff)
	}
	if args, err := captured.Args(); err != nil || len(args) != 1 || args[0] != perlcompat.Text("via proxy") {
		t.Errorf("proxy args %v, %v", args, err)
	}
	if captured.Target().State != "ack_sender" {
		t.Errorf("proxy target %+v", captured.Target())
	}
	// s2c 1: the handler posts "ack" back to its SENDER.
	pb, err := NewPostBack(captured, "ack", perlcompat.Text("ack: via proxy"))
	if err != nil {
		t.Fatal(err)
	}
	pb.From = reqTestDecode(t, s2c[1]).From
	if diff := cmp.Diff(s2c[1], perlcompat.Value(pb.Value()), sortedHash); diff != "" {
		t.Errorf("post-back (-captured +built):\n%s", diff)
	}
	// s2c 3: a post-back with no from of its own (do_retract's handler).
	retract := reqTestDecode(t, c2s[4])
	pb, err = NewPostBack(retract, "ack", perlcompat.Text("retracted"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s2c[3], perlcompat.Value(pb.Value()), sortedHash); diff != "" {
		t.Errorf("post-back without from (-captured +built):\n%s", diff)
	}
}

func TestDecodeRequestRefusesNonHashMessages(t *testing.T) {
	for _, v := range []perlcompat.Value{nil, perlcompat.Undef{}, perlcompat.Text("poe://K/s/e"),
		perlcompat.NewArray(), &perlcompat.Ref{Target: perlcompat.NewHash()}, (*perlcompat.Hash)(nil)} {
		r, err := DecodeRequest(v)
		if r != nil || !errors.Is(err, ErrNotHash) {
			t.Errorf("DecodeRequest(%#v) = %v, %v", v, r, err)
		}
	}
}

func TestRequestDecoderGivesEachEventItsOwnSpecifierWhateverItRemembers(t *testing.T) {
	// One decoder, as a channel's reader has, across events that differ
	// from the last one in small ways: each must decode as DecodeRequest
	// does, and a bad one must not be remembered as good.
	events := []perlcompat.Value{
		perlcompat.Text("poe://K/s/a"),
		perlcompat.Text("poe://K/s/a"),
		perlcompat.Text("poe://K/s/b"),
		perlcompat.Bytes([]byte("poe://K/s/b")),
		perlcompat.Bytes([]byte("poe://K/s/\xe9")),
		perlcompat.Bytes([]byte("poe://K/s/\xe9")),
		perlcompat.Text("poe://K/s/é"),
		perlcompat.Bytes([]byte("poe://K/s/é")), // the same bytes, not characters: refused
		perlcompat.Text("poe://K/s/é"),
		perlcompat.Text("s/a"),
		perlcompat.Text(""),
		perlcompat.Text(""),
		reqTestHash("kernel", "K", "session", "s", "state", "a"),
		perlcompat.Text("poe://K/s/a?x=1"),
		perlcompat.Text("poe://K/s/a"),
	}
	var d RequestDecoder
	for i, ev := range events {
		v := reqTestHash("event", ev, "params", perlcompat.NewArray())
		want, wantErr := DecodeRequest(v)
		got, err := d.Decode(v)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("event %d (%#v): error %v, DecodeRequest's %v", i, ev, err, wantErr)
		}
		if got.Event != want.Event {
			t.Errorf("event %d (%#v): %+v, DecodeRequest's %+v", i, ev, got.Event, want.Event)
		}
	}
}

func TestAReplySendsItsCallsRsvpAsReceivedAndFollowsEdits(t *testing.T) {
	rsvp := reqTestHash("kernel", "K", "session", "cli", "state", "got")
	call, err := DecodeRequest(reqTestHash("event", "poe://Srv/svc/echo", "params", "x", "rsvp", rsvp))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReply(call, perlcompat.Text("y"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Value().Get("event"); got != perlcompat.Value(rsvp) {
		t.Errorf("reply event %#v, want the rsvp hash as received", got)
	}
	sent := func(r *Request) Specifier {
		t.Helper()
		sp, err := SpecifierFromValue(r.Value().Get("event"))
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	// Edited: the event goes out as the edit says, not as received.
	rep.Event.State = "other"
	if got := sent(rep); got.State != "other" {
		t.Errorf("edited reply goes to %v, want state other", got)
	}
	// A new raw value with the old specifier: checked, not trusted.
	rep2, _ := NewReply(call, perlcompat.Text("y"))
	rep2.EventValue = reqTestHash("kernel", "K", "session", "cli", "state", "elsewhere")
	if got := sent(rep2); got.State != "got" {
		t.Errorf("reply with a replaced raw event goes to %v, want state got", got)
	}
	// The call's rsvp edited before replying: the reply goes there.
	call.Rsvp.State = "moved"
	rep3, _ := NewReply(call, perlcompat.Text("y"))
	if got := sent(rep3); got.State != "moved" {
		t.Errorf("reply after the rsvp was edited goes to %v, want state moved", got)
	}
}

func reqTestHash(kv ...any) *perlcompat.Hash {
	h := perlcompat.NewHash()
	for i := 0; i < len(kv); i += 2 {
		v, ok := kv[i+1].(perlcompat.Value)
		if s, isStr := kv[i+1].(string); isStr {
			v, ok = perlcompat.Text(s), true
		}
		if !ok {
			panic("bad test value")
		}
		h.Set(kv[i].(string), v)
	}
	return h
}

func TestDecodeRequestReportsWhatPerlWouldDieOrComplainAbout(t *testing.T) {
	cases := []struct {
		name    string
		msg     *perlcompat.Hash
		wantErr []error
		check   func(*Request) bool
	}{
		{"missing event", reqTestHash("params", "x"), []error{ErrBadEvent},
			func(r *Request) bool { return r.Event == Specifier{} && r.failedKernel() == perlcompat.Undef{} }},
		{"undef event", reqTestHash("event", perlcompat.Undef{}), []error{ErrBadEvent}, nil},
		{"unparsable event", reqTestHash("event", "poe://K/s.x/e"), []error{ErrBadEvent},
			func(r *Request) bool { return r.ErrorMessage("boom") == "boom.  Request poe:" }},
		{"string from", reqTestHash("event", "poe:/s/e", "from", "poe://K/s"), []error{ErrFromNotHash},
			func(r *Request) bool {
				_, emitted := r.Value().Lookup("from")
				return r.From == nil && !emitted && r.ErrorMessage("x") == "x.  Request poe:/s/e sent by poe://K/s"
			}},
		{"array from", reqTestHash("event", "poe:/s/e", "from", perlcompat.NewArray()), []error{ErrFromNotHash}, nil},
		{"false from", reqTestHash("event", "poe:/s/e", "from", "0"), nil,
			func(r *Request) bool { return r.From == nil }},
		{"string call", reqTestHash("event", "poe:/s/e", "call", "x"), []error{ErrCallNotHash},
			func(r *Request) bool { _, ok := r.Value().Lookup("call"); return !ok && len(r.Extra) == 1 }},
		{"hash call", reqTestHash("event", "poe:/s/e", "call", reqTestHash("kernel", perlcompat.Undef{})), nil,
			func(r *Request) bool { _, ok := r.Value().Lookup("call"); return ok }},
		{"bad rsvp", reqTestHash("event", "poe:/s/e", "rsvp", perlcompat.NewArray()), []error{ErrBadRsvp},
			func(r *Request) bool { return r.Rsvp == nil && r.IsCall() }},
		{"false rsvp is a post", reqTestHash("event", "poe:/s/e", "rsvp", ""), nil,
			func(r *Request) bool { return r.Rsvp == nil && !r.IsCall() }},
		{"string rsvp", reqTestHash("event", "poe:/s/e", "rsvp", "poe://K/r/got"), nil,
			func(r *Request) bool { return *r.Rsvp == Specifier{Kernel: "K", Session: "r", State: "got"} }},
		{"several problems", reqTestHash("from", "x", "call", perlcompat.Int(1)), []error{ErrBadEvent, ErrFromNotHash, ErrCallNotHash}, nil},
		{"wantarray undef", reqTestHash("event", "a/b", "wantarray", perlcompat.Undef{}), nil,
			func(r *Request) bool { return r.WantArray == WantVoid }},
		{"wantarray 0", reqTestHash("event", "a/b", "wantarray", "0"), nil,
			func(r *Request) bool { return r.WantArray == WantScalar }},
		{"wantarray 1", reqTestHash("event", "a/b", "wantarray", perlcompat.Int(1)), nil,
			func(r *Request) bool { return r.WantArray == WantList }},
		{"is_error false", reqTestHash("event", "a/b", "is_error", "0"), nil,
			func(r *Request) bool { _, ok := r.Value().Lookup("is_error"); return !r.IsError && !ok }},
		{"unknown keys kept", reqTestHash("event", "a/b", "zzz", perlcompat.Int(7)), nil,
			func(r *Request) bool { return r.Value().Get("zzz") == perlcompat.Int(7) }},
	}
	for _, c := range cases {
		r, err := DecodeRequest(c.msg)
		if r == nil {
			t.Errorf("%s: no request (%v)", c.name, err)
			continue
		}
		for _, want := range c.wantErr {
			var re *RequestError
			if !errors.Is(err, want) || !errors.As(err, &re) {
				t.Errorf("%s: err = %v, want %v", c.name, err, want)
			}
		}
		if c.wantErr == nil && err != nil {
			t.Errorf("%s: unexpected error %v", c.name, err)
		}
		if c.check != nil && !c.check(r) {
			t.Errorf("%s: decoded as %+v", c.name, r)
		}
	}
}

func TestRequestValueFollowsEditsOfTheParsedFields(t *testing.T) {
	r := reqTestDecode(t, reqTestHash("event", "poe://K/s/e", "params", "p",
		"rsvp", reqTestHash("kernel", "K", "session", perlcompat.Int(2), "state", "r")))
	// Unchanged: the raw values go out as received (session stays an integer).
	if got := r.Value().Get("rsvp").(*perlcompat.Hash).Get("session"); got != perlcompat.Int(2) {
		t.Errorf("rsvp session re-encoded as %#v", got)
	}
	r.Event.State = "other"
	r.Rsvp.State = "r2"
	v := r.Value()
	if got := v.Get("event"); got != perlcompat.Text("poe://K/s/other") {
		t.Errorf("edited event encoded as %#v", got)
	}
	rs, _ := SpecifierFromValue(v.Get("rsvp"))
	if rs.State != "r2" {
		t.Errorf("edited rsvp encoded as %+v", rs)
	}
}

func TestRequestConstructorsBuildWhatPerlSends(t *testing.T) {
	to := Specifier{Kernel: "Srv", Session: "test", State: "called"}
	call := NewCall(to, perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2)), Specifier{Kernel: "Cli", Session: "cli", State: "got"})
	call.From = ProxyFrom("vm-1", "cli")
	want := reqTestHash("event", "poe://Srv/test/called",
		"params", perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2)),
		"rsvp", reqTestHash("kernel", "Cli", "session", "cli", "state", "got"),
		"from", reqTestHash("kernel", "vm-1", "session", "cli", "state", "IKC:proxy"))
	if diff := cmp.Diff(want, call.Value(), sortedHash); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
	post := NewPost(Specifier{Session: "s", State: "IKC:proxy"}, nil)
	if diff := cmp.Diff(reqTestHash("event", reqTestHash("kernel", "", "session", "s", "state", "IKC:proxy"), "params", perlcompat.Undef{}),
		post.Value(), sortedHash); diff != "" {
		t.Errorf("post needing the hash form (-want +got):\n%s", diff)
	}

	// Replies are refused where Perl sends none.
	if _, err := NewReply(NewPost(to, nil), perlcompat.Int(1)); !errors.Is(err, ErrNoRsvp) {
		t.Errorf("reply to a post: %v", err)
	}
	if _, err := NewReply(NewCall(to, nil, Specifier{Kernel: "K", State: "x"}), perlcompat.Int(1)); !errors.Is(err, ErrNoRsvp) {
		t.Errorf("reply to an rsvp without session: %v", err)
	}

	// ClientLite's from has no state: the post-back names the state in
	// the event and sends the arguments as they are.
	lite := reqTestDecode(t, reqTestHash("event", "poe://S/svc/add_1", "from", reqTestHash("kernel", "LiteClient", "session", "IKCLite")))
	pb, err := NewPostBack(lite, "response2", perlcompat.Int(42))
	if err != nil {
		t.Fatal(err)
	}
	wantPB := reqTestHash("event", reqTestHash("kernel", "LiteClient", "session", "IKCLite", "state", "response2"),
		"params", perlcompat.NewArray(perlcompat.Int(42)))
	if diff := cmp.Diff(wantPB, pb.Value(), sortedHash); diff != "" {
		t.Errorf("ClientLite post-back (-want +got):\n%s", diff)
	}
	if lite.FromValue.(*perlcompat.Hash).Len() != 2 {
		t.Error("NewPostBack changed the request's from")
	}
	if _, err := NewPostBack(NewPost(to, nil), "x"); !errors.Is(err, ErrNoFrom) {
		t.Errorf("post-back without from: %v", err)
	}

	re := NewRemoteError("vm-9", "Session 's' is gone", nil, StepResolve)
	wantRE := reqTestHash("event", reqTestHash("kernel", "vm-9", "session", "IKC", "state", "remote_error"),
		"params", perlcompat.NewArray(perlcompat.Text("Session 's' is gone"), perlcompat.Undef{}, perlcompat.Text("resolve")),
		"is_error", perlcompat.Int(1))
	if diff := cmp.Diff(wantRE, re.Value(), sortedHash); diff != "" {
		t.Errorf("remote_error (-want +got):\n%s", diff)
	}
}

func TestArgsFollowPerlsReceiver(t *testing.T) {
	cases := []struct {
		name    string
		msg     *perlcompat.Hash
		want    []perlcompat.Value
		wantErr bool
		target  string
	}{
		{"plain", reqTestHash("event", "poe://K/s/e", "params", "p"), []perlcompat.Value{perlcompat.Text("p")}, false, "poe://K/s/e"},
		{"plain undef", reqTestHash("event", "poe://K/s/e"), []perlcompat.Value{perlcompat.Undef{}}, false, "poe://K/s/e"},
		{"with ?args", reqTestHash("event", "poe://K/s/e?x", "params", "p"), []perlcompat.Value{perlcompat.Text("p"), perlcompat.Text("x")}, false, "poe://K/s/e"},
		{"proxy", reqTestHash("event", reqTestHash("kernel", "K", "session", "s", "state", "IKC:proxy"),
			"params", perlcompat.NewArray(perlcompat.Text("real"), perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2)))),
			[]perlcompat.Value{perlcompat.Int(1), perlcompat.Int(2)}, false, "poe://K/s/real"},
		{"proxy without args", reqTestHash("event", reqTestHash("session", "s", "state", "IKC:proxy"),
			"params", perlcompat.NewArray(perlcompat.Text("real"))), nil, true, "poe:/s/real"},
		{"proxy with string params", reqTestHash("event", reqTestHash("session", "s", "state", "IKC:proxy"),
			"params", "real"), nil, true, "poe:/s/IKC:proxy"},
	}
	for _, c := range cases {
		r := reqTestDecode(t, c.msg)
		args, err := r.Args()
		if (err != nil) != c.wantErr {
			t.Errorf("%s: Args error %v", c.name, err)
		}
		if diff := cmp.Diff(c.want, args); diff != "" {
			t.Errorf("%s: Args (-want +got):\n%s", c.name, diff)
		}
		if got := r.Target().String(); got != c.target {
			t.Errorf("%s: Target %q, want %q", c.name, got, c.target)
		}
	}
}

// A decoder's strings share one copy of their whole message. The event a
// RequestDecoder remembers, and the specifier later requests get from it,
// must not keep a big first message alive for the channel's life.
func TestRequestDecoderRemembersNoPartOfAMessage(t *testing.T) {
	big := strings.Repeat("x", 1<<20) + "poe://Srv/svc/state"
	msg := perlcompat.NewHash().
		Set("event", perlcompat.Str{S: big[1<<20:]}).
		Set("params", perlcompat.Str{S: big[:1<<20]})
	var d RequestDecoder
	req, err := d.Decode(msg)
	if err != nil || req.Event.State != "state" {
		t.Fatalf("decode: %v, %v", req, err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(big)))
	inBig := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return s != "" && p >= lo && p < lo+uintptr(len(big))
	}
	for _, s := range []string{d.lastEvent.S, d.lastSpec.Kernel, d.lastSpec.Session, d.lastSpec.State} {
		if inBig(s) {
			t.Errorf("the decoder remembers %q inside the 1 MB message", s)
		}
	}
}

func TestDecodeInGivesWhatDecodeGivesInTheCallersStore(t *testing.T) {
	// Every captured message, and a few Decode complains about, reused
	// through one store: nothing of one request may show in the next.
	msgs := []perlcompat.Value{
		perlcompat.NewHash().Set("event", perlcompat.Text("poe://K/s/e")).Set("from", perlcompat.Text("not a hash")),
		perlcompat.NewHash().Set("event", perlcompat.Int(7)).Set("rsvp", perlcompat.NewHash().Set("kernel", perlcompat.Text("K"))),
		perlcompat.NewHash().Set("params", perlcompat.Int(1)),
	}
	for _, f := range reqTestFrames(t) {
		msgs = append(msgs, f.Value, perlcompat.NewHash().Set("event", perlcompat.Text("poe://K/s/post")).Set("params", perlcompat.Int(1)))
	}
	var d1, d2 RequestDecoder
	var s RequestStore
	for i, v := range msgs {
		want, werr := d1.Decode(v)
		got, gerr := d2.DecodeIn(&s, v)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Errorf("message %d: Decode's error %v, DecodeIn's %v", i, werr, gerr)
		}
		if inStore := got == &s.r; got != nil && inStore != IsPlainPost(v) {
			t.Errorf("message %d: DecodeIn's request in the store: %v; a plain post: %v", i, inStore, IsPlainPost(v))
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(Request{}, requestExtra{}, seenSpec{})); diff != "" {
			t.Errorf("message %d: DecodeIn differs from Decode (-Decode +DecodeIn):\n%s", i, diff)
		}
		if diff := cmp.Diff(want.Value(), got.Value(), sortedHash); diff != "" {
			t.Errorf("message %d: DecodeIn's Value differs from Decode's:\n%s", i, diff)
		}
	}
}

func TestDecodeRequestKnowsKeysWhicheverWayTheyAreFlagged(t *testing.T) {
	// A character-string key and a byte-string key with the same
	// characters are one key to Perl; a high byte is never a known key.
	key := func(s string, utf8 bool) perlcompat.Str { return perlcompat.Str{S: s, UTF8: utf8} }
	rsvp := perlcompat.NewHash().Set("kernel", perlcompat.Text("K")).Set("session", perlcompat.Text("IKC")).Set("state", perlcompat.Text("r1"))
	h := &perlcompat.Hash{Entries: []perlcompat.Entry{
		{Key: key("event", true), Value: perlcompat.Text("poe://K/s/e")},
		{Key: key("rsvp", true), Value: rsvp},
		{Key: key("params", false), Value: perlcompat.Int(1)},
		{Key: key("\xe9vent", false), Value: perlcompat.Int(2)},
	}}
	if IsPlainPost(h) {
		t.Error("a message with a character-string rsvp key counted as a plain post")
	}
	var s RequestStore
	var d RequestDecoder
	r, err := d.DecodeIn(&s, h)
	if err != nil || r.Event.State != "e" || r.Rsvp == nil || r.Rsvp.State != "r1" || r.Params != perlcompat.Int(1) {
		t.Fatalf("decoded %+v, %v", r, err)
	}
	if len(r.Extra) != 1 || r.Extra[0].Key.S != "\xe9vent" {
		t.Errorf("extra keys %+v, want only the Latin-1 one", r.Extra)
	}
}
