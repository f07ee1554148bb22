package gateway

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
	"github.com/ikcgate/ikcgate/protocol"
)

// rawPeer is a hand-driven IKC client: it negotiates IKC0 and then reads
// and writes requests directly, so tests can misbehave on purpose.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	fr *protocol.FrameReader
}

func dialRaw(t *testing.T, addr, kernelID string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte("SETUP KERNEL=" + kernelID + ";FREEZER=Storable;PID=1\r\n"))
	lr := protocol.NewLineReader(nc, 4096)
	line, err := lr.ReadLine()
	if err != nil || !strings.HasPrefix(line, "SETUP ") {
		t.Fatalf("negotiation: %q, %v", line, err)
	}
	return &rawPeer{t: t, nc: nc, fr: protocol.NewFrameReader(nc, lr.Buffered(), 1<<20)}
}

func (p *rawPeer) read() *protocol.Request {
	p.t.Helper()
	payload, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	v, err := storable.Thaw(payload)
	if err != nil {
		p.t.Fatal(err)
	}
	req, err := protocol.DecodeRequest(v)
	if req == nil {
		p.t.Fatal(err)
	}
	return req
}

func (p *rawPeer) write(req *protocol.Request) {
	p.t.Helper()
	payload, err := storable.NFreeze(nil, req.Value())
	if err != nil {
		p.t.Fatal(err)
	}
	f, _ := protocol.AppendFrame(nil, payload)
	if _, err := p.nc.Write(f); err != nil {
		p.t.Fatal(err)
	}
}

// replyTo builds the reply a callee sends to req's rsvp.
func replyTo(t *testing.T, req *protocol.Request, v perlcompat.Value) *protocol.Request {
	t.Helper()
	r, err := protocol.NewReply(req, v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitRegistered(k *Kernel, name string) {
	for k.lookup(name) == nil {
		time.Sleep(2 * time.Millisecond)
	}
}

func TestStrictRsvpRefusesASecondReplyAndAReplyFromAnotherPeer(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	a := dialRaw(t, addr, "PeerA")
	b := dialRaw(t, addr, "PeerB")
	waitRegistered(srv, "PeerA")
	waitRegistered(srv, "PeerB")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// B answers A's call first: refused, and told so in Perl's words.
	res := make(chan error, 1)
	var got perlcompat.Value
	go func() {
		var err error
		got, err = srv.Call(ctx, "PeerA/svc/q", 1)
		res <- err
	}()
	call := a.read()
	b.write(replyTo(t, call, perlcompat.Text("forged")))
	refusal := b.read()
	if refusal.Event.State != "remote_error" || !strings.Contains(describeParams(refusal), "has not published state '"+call.Rsvp.State+"'") {
		t.Errorf("forged reply answered with %+v %s", refusal.Event, describeParams(refusal))
	}
	// A's real reply is accepted once, then refused.
	a.write(replyTo(t, call, perlcompat.Text("real")))
	if err := <-res; err != nil || got != perlcompat.Text("real") {
		t.Fatalf("call = %v, %v", got, err)
	}
	a.write(replyTo(t, call, perlcompat.Text("again")))
	if again := a.read(); again.Event.State != "remote_error" {
		t.Errorf("second reply answered with %+v", again.Event)
	}
}

func TestPerlRsvpAcceptsAReplyFromAnyPeerButOnlyOnce(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	cfg.Rsvp = RsvpPerl
	srv, addr := newKernel(t, cfg)
	a := dialRaw(t, addr, "PeerA")
	b := dialRaw(t, addr, "PeerB")
	waitRegistered(srv, "PeerA")
	waitRegistered(srv, "PeerB")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := make(chan perlcompat.Value, 1)
	go func() {
		v, _ := srv.Call(ctx, "PeerA/svc/q", 1)
		res <- v
	}()
	call := a.read()
	b.write(replyTo(t, call, perlcompat.Text("from B")))
	if v := <-res; v != perlcompat.Text("from B") {
		t.Fatalf("Perl's rule lets any peer reply; got %v", v)
	}
	a.write(replyTo(t, call, perlcompat.Text("late")))
	if late := a.read(); late.Event.State != "remote_error" {
		t.Errorf("a second reply should be refused, got %+v", late.Event)
	}
}

func TestRemoteErrorFailsTheMatchingCallAtOnce(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	a := dialRaw(t, addr, "PeerA")
	waitRegistered(srv, "PeerA")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := srv.Call(ctx, "PeerA/svc/missing", 1)
		res <- err
	}()
	call := a.read()
	a.write(call.RemoteError(srv.ID(), "Session 'svc' has not published state 'missing'\n", protocol.StepCheck))
	select {
	case err := <-res:
		var re *RemoteError
		if !errors.As(err, &re) || re.When != "check" {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the call waited for its deadline")
	}
}

func describeParams(r *protocol.Request) string {
	a, ok := r.Params.(*perlcompat.Array)
	if !ok || len(a.Elems) == 0 {
		return ""
	}
	s, _ := perlcompat.StringOf(a.Elems[0])
	return s
}

func TestEachReplyCarriesTheFromOfTheSessionThatAnswered(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("alpha/echo", echo)
	srv.HandleFunc("beta/echo", echo)
	p := dialRaw(t, addr, "PeerA")
	waitRegistered(srv, "PeerA")
	// The channel keeps the last reply's from: a change of session must
	// change it, and a return to the first session must not reuse the
	// second's.
	for i, session := range []string{"alpha", "alpha", "beta", "alpha", "beta", "beta"} {
		call := protocol.NewPost(protocol.Specifier{Kernel: "Srv", Session: session, State: "echo"}, perlcompat.Int(i+1000))
		rsvp := protocol.Specifier{Kernel: "PeerA", Session: "IKC", State: "r" + strconv.Itoa(i)}
		call.Rsvp = &rsvp
		p.write(call)
		rep := p.read()
		want := protocol.Specifier{Kernel: srv.ID(), Session: session, State: "IKC:proxy"}
		if rep.From == nil || *rep.From != want || rep.Event != rsvp {
			t.Errorf("reply %d (from %s): from %+v to %+v, want from %+v to %+v", i, session, rep.From, rep.Event, want, rsvp)
		}
	}
}
