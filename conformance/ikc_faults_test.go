package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

func quietKernel(t *testing.T, name string) *gateway.Kernel {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Name = name
	cfg.CallTimeout = 20 * time.Second
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: logWriter{t}})
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Shutdown(context.Background()) })
	return k
}

// TestKilledPerlPeerFailsPendingCallsAtOnce: a Perl server SIGKILLed while
// a call to it is pending (its handler returns undef, so no reply would
// ever come) fails that call at once, not at its 20 s deadline; a second
// Perl server on the same kernel keeps answering.
func TestKilledPerlPeerFailsPendingCallsAtOnce(t *testing.T) {
	needIKC(t)
	leaktest.Check(t)
	a := startIKCPeer(t, "ikc_server.pl", "--name", "PerlA")
	b := startIKCPeer(t, "ikc_server.pl", "--name", "PerlB")
	pa, pb := a.waitEvent("listening", 20*time.Second), b.waitEvent("listening", 20*time.Second)
	k := quietKernel(t, "GoCli")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, port := range []any{pa["port"], pb["port"]} {
		if _, err := k.Dial(ctx, "tcp", fmt.Sprintf("127.0.0.1:%v", port)); err != nil {
			t.Fatal(err)
		}
	}
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := k.Call(ctx, "PerlA/svc/noreturn", 1)
		res <- err
	}()
	time.Sleep(300 * time.Millisecond) // the call is on the wire
	a.cmd.Process.Kill()
	select {
	case err := <-res:
		if !errors.Is(err, gateway.ErrDisconnected) {
			t.Errorf("pending call failed with %v, want ErrDisconnected", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("failed after %v, want at once", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pending call outlived its peer")
	}
	if v, err := k.Call(ctx, "PerlB/svc/echo", "still here"); err != nil || v != perlcompat.Text("still here") {
		t.Errorf("other Perl server: %v, %v", v, err)
	}
	if err := k.Post(ctx, "PerlB/svc/quit", nil); err != nil {
		t.Fatal(err)
	}
	if ev := b.wait(20 * time.Second); len(findEvents(ev, "exit")) != 1 {
		t.Errorf("PerlB did not exit cleanly: %s", b.stderr.String())
	}
}

// TestErrorPathsLeaveThePerlServerAlive drives every error a Go kernel
// can provoke in a real Perl IKC server: unpublished and unknown states,
// a published session that does not exist, malformed IKC:proxy envelopes,
// a bad subscription, odd specifiers and params, a reply to an rsvp
// naming no known kernel, a 1 MB payload. A Perl kernel dies on many
// malformed inputs; after all of these it must still answer, and exit
// cleanly when asked.
func TestErrorPathsLeaveThePerlServerAlive(t *testing.T) {
	needIKC(t)
	leaktest.Check(t)
	srv := startIKCPeer(t, "ikc_server.pl", "--name", "PerlSrv")
	l := srv.waitEvent("listening", 20*time.Second)
	k := quietKernel(t, "GoCli")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peer, err := k.Dial(ctx, "tcp", fmt.Sprintf("127.0.0.1:%v", l["port"]))
	if err != nil {
		t.Fatal(err)
	}
	sp := func(s, st string) protocol.Specifier {
		return protocol.Specifier{Kernel: "PerlSrv", Session: s, State: st}
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	posts := []struct {
		to     protocol.Specifier
		params perlcompat.Value
	}{
		{sp("svc", "nope"), perlcompat.Int(1)},
		{sp("nosuch", "x"), perlcompat.Int(1)},
		{sp("ghost", "x"), perlcompat.Int(1)},
		{sp("svc", "IKC:proxy"), perlcompat.Text("not an array")},
		{sp("svc", "IKC:proxy"), perlcompat.NewArray(perlcompat.Text("record"), perlcompat.Text("not an array"))},
		{sp("svc", "IKC:proxy"), perlcompat.NewArray()},
		{sp("svc", "IKC:proxy"), perlcompat.NewArray(perlcompat.Text("nope"), perlcompat.NewArray())},
		{sp("IKC", "do_you_have"), perlcompat.NewArray(perlcompat.NewHash())},
		{sp("IKC", "remote_error"), perlcompat.Text("garbage")},
		{sp("IKC", "remote_error"), perlcompat.NewArray(perlcompat.NewHash(), perlcompat.NewArray(), perlcompat.Int(3))},
		{sp("IKC", "ping"), perlcompat.NewHash()},
		{sp("IKC", "shutdown"), nil},
		{sp("IKC", "nope"), nil},
		{sp("svc", "echo"), nil},
		{sp("svc", "récord☺"), perlcompat.Text("unicode state")},
		{sp("svc", "echo"), perlcompat.Text(strings.Repeat("x", 1<<20))},
		{protocol.Specifier{Kernel: "PerlSrv", Session: "svc", State: "echo", Args: "extra", HasArgs: true}, perlcompat.Int(1)},
	}
	for i, p := range posts {
		if err := k.PostSpec(ctx, p.to, p.params); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	// These kill a Perl kernel (its do_you_have handler dies outside any
	// eval): the kernel refuses to send them.
	for _, p := range []perlcompat.Value{
		perlcompat.Text("garbage"),
		perlcompat.NewArray(),
		perlcompat.NewArray(perlcompat.Text("poe:/bad spec.x/"), perlcompat.Text("me")),
	} {
		if err := k.PostSpec(ctx, sp("IKC", "do_you_have"), p); !errors.Is(err, gateway.ErrWouldKillPeer) {
			t.Errorf("do_you_have %s: %v, want ErrWouldKillPeer", Describe(p), err)
		}
		proxied := perlcompat.NewArray(perlcompat.Text("do_you_have"), perlcompat.NewArray(p))
		if err := k.PostSpec(ctx, sp("IKC", "IKC:proxy"), proxied); !errors.Is(err, gateway.ErrWouldKillPeer) {
			t.Errorf("proxied do_you_have %s: %v, want ErrWouldKillPeer", Describe(p), err)
		}
	}
	// Calls whose errors come back, and calls Perl never answers.
	for _, to := range []string{"PerlSrv/svc/nope", "PerlSrv/nosuch/x", "PerlSrv/ghost/x"} {
		c, cancel := short()
		_, err := k.Call(c, to, 1)
		cancel()
		var re *gateway.RemoteError
		if !errors.As(err, &re) {
			t.Errorf("%s: %v, want a remote error", to, err)
		}
	}
	c, cancel2 := short()
	if _, err := peer.Call(c, "svc/noreturn", nil); !errors.Is(err, gateway.ErrNoReply) {
		t.Errorf("noreturn: %v", err)
	}
	cancel2()
	// Still alive and answering.
	if v, err := k.Call(ctx, "PerlSrv/svc/echo", "alive"); err != nil || v != perlcompat.Text("alive") {
		t.Fatalf("after the error paths: %v, %v\nPerl stderr:\n%s", v, err, srv.stderr.String())
	}
	if err := k.Post(ctx, "PerlSrv/svc/quit", nil); err != nil {
		t.Fatal(err)
	}
	ev := srv.wait(30 * time.Second)
	if len(findEvents(ev, "exit")) != 1 {
		t.Fatalf("the Perl server did not survive: %s", srv.stderr.String())
	}
}

// TestUpstreamPerlServerRestartIsRidden: calls through the gateway to a
// real Perl server that is killed and started again on the same port fail
// cleanly (a remote error, never a hang) while it is down, and succeed
// again once it is back, on the same client channel, with nothing done by
// hand.
func TestUpstreamPerlServerRestartIsRidden(t *testing.T) {
	needIKC(t)
	leaktest.Check(t)
	first := startIKCPeer(t, "ikc_server.pl", "--name", "PerlSrv")
	port := first.waitEvent("listening", 20*time.Second)["port"]

	gw := quietKernel(t, "GoGw")
	up := gw.NewUpstream("tcp", fmt.Sprintf("127.0.0.1:%v", port), gateway.UpstreamOptions{
		Wait:        300 * time.Millisecond,
		LinkOptions: gateway.LinkOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
	})
	defer up.Close()
	gw.Handle("svc/*", up)
	l, addr := serveLoopback(t, gw)
	defer l.Close()

	cli := quietKernel(t, "GoCli")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	callOK := func() error {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		v, err := cli.Call(c, "GoGw/svc/echo", "x")
		if err == nil && v != perlcompat.Text("x") {
			err = fmt.Errorf("wrong reply %v", v)
		}
		return err
	}
	if err := callOK(); err != nil {
		t.Fatalf("before the restart: %v", err)
	}
	first.cmd.Process.Kill()
	<-first.done
	// Down: a clean remote error, quickly.
	var re *gateway.RemoteError
	for i := 0; i < 3; i++ {
		if err := callOK(); !errors.As(err, &re) {
			t.Fatalf("while the upstream is down: %v, want a remote error", err)
		}
	}
	second := startIKCPeer(t, "ikc_server.pl", "--name", "PerlSrv", "--port", fmt.Sprint(port))
	second.waitEvent("listening", 20*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := callOK()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traffic did not resume: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p, err := up.Peer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Post(ctx, "svc/quit", nil)
	if ev := second.wait(20 * time.Second); len(findEvents(ev, "exit")) != 1 {
		t.Errorf("restarted Perl server did not exit cleanly: %s", second.stderr.String())
	}
}

func serveLoopback(t *testing.T, k *gateway.Kernel) (net.Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go k.Serve(l)
	return l, l.Addr().String()
}
