package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

func testConfig(t *testing.T, name string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: testWriter{t}})
	cfg.CallTimeout = 5 * time.Second
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newKernel starts a kernel serving on a loopback TCP listener, shut down
// at the end of the test.
func newKernel(t *testing.T, cfg Config) (*Kernel, string) {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go k.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return k, l.Addr().String()
}

// mustDial dials addr from k, failing the test if it cannot.
func mustDial(ctx context.Context, t *testing.T, k *Kernel, addr string) *Peer {
	t.Helper()
	p, err := k.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func echo(_ context.Context, r *Request) (perlcompat.Value, error) { return r.Arg(0), nil }

func TestGoClientCallsGoServerAndGetsTheReply(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := peer.Negotiated().Dialogue.String(); got != "IKC0" {
		t.Errorf("dialogue = %s, want IKC0", got)
	}
	want := perlcompat.NewHash().Set("n", perlcompat.Int(42)).Set("s", perlcompat.Text("café"))
	got, err := cli.Call(ctx, "poe://Srv/svc/echo", want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(perlcompat.Value(want), got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	// The same through the Peer, addressed by the remote ID.
	got, err = peer.Call(ctx, "svc/echo", "hello")
	if err != nil || got != perlcompat.Text("hello") {
		t.Errorf("peer.Call = %v, %v", got, err)
	}
}

func TestPostsRunInOrderBeforeALaterCall(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	var total atomic.Int64
	srv.HandleFunc("demo/count", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		total.Add(n)
		return nil, err
	})
	srv.HandleFunc("demo/total", func(context.Context, *Request) (perlcompat.Value, error) {
		return perlcompat.Int(total.Load()), nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := cli.Post(ctx, "Srv/demo/count", i); err != nil {
			t.Fatal(err)
		}
	}
	got, err := cli.Call(ctx, "Srv/demo/total", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := perlcompat.AsInt(got); n != 5050 {
		t.Errorf("total = %v, want 5050", got)
	}
}

func TestUnpublishedStatesComeBackAsRemoteErrorsInPerlsWords(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	srv.HandleFunc("svc/fail", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		return nil, errors.New("it broke")
	})
	srv.HandleFunc("svc/panic", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		panic("boom")
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ to, when, text string }{
		{"poe://Srv/svc/nope", "check", "Session 'svc' has not published state 'nope'.  Request poe://Srv/svc/nope"},
		{"poe://Srv/other/x", "check", "Session 'other' is not available for remote kernels.  Request poe://Srv/other/x"},
		{"poe://Srv/svc/fail", "invocation", "it broke.  Request poe://Srv/svc/fail"},
		{"poe://Srv/svc/panic", "invocation", "panic: boom.  Request poe://Srv/svc/panic"},
	}
	for _, c := range cases {
		_, err := cli.Call(ctx, c.to, 1)
		var re *RemoteError
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want a RemoteError", c.to, err)
			continue
		}
		if re.When != c.when || re.Message != c.text {
			t.Errorf("%s: got (%s) %q, want (%s) %q", c.to, re.When, re.Message, c.when, c.text)
		}
	}
	// The server survived the panic.
	if v, err := cli.Call(ctx, "poe://Srv/svc/echo", "still here"); err != nil || v != perlcompat.Text("still here") {
		t.Errorf("after panic: %v, %v", v, err)
	}
}

func TestPingAnswersPONG(t *testing.T) {
	leaktest.Check(t)
	_, addr := newKernel(t, testConfig(t, "Srv"))
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	v, err := cli.Call(ctx, "poe://Srv/IKC/ping", "PING")
	if err != nil || v != (perlcompat.Str{S: "PONG"}) {
		t.Fatalf("ping = %v, %v", v, err)
	}
}

func TestUndefResultSendsNoReplySoTheCallTimesOut(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	_, err := cli.Call(short, "Srv/svc/noreturn", 1)
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
}

func TestPendingCallFailsAtOnceWhenThePeerDisconnects(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	started := make(chan struct{})
	srv.HandleFunc("svc/slow", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-started
		peer.Close()
	}()
	t0 := time.Now()
	_, err = cli.Call(ctx, "Srv/svc/slow", 1)
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("call failed after %v, want at once", d)
	}
}

func TestSubscribeThenPostAndCallThroughTheProxy(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	got := make(chan []perlcompat.Value, 1)
	srv.HandleFunc("svc/posted", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		got <- r.Args
		return nil, nil
	})
	srv.HandleFunc("svc/sum", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		var s int64
		for _, a := range r.Args {
			n, _ := perlcompat.AsInt(a)
			s += n
		}
		return perlcompat.Int(s), nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Subscribe(ctx, "poe://Srv/nope"); !errors.Is(err, ErrSubscriptionRefused) {
		t.Errorf("subscribe to unpublished: %v, want ErrSubscriptionRefused", err)
	}
	p, err := cli.Subscribe(ctx, "poe://Srv/svc")
	if err != nil {
		t.Fatal(err)
	}
	// Perl's do_you_have fills in the kernel only when the request left it
	// empty, so the proxy keeps the name it was asked by.
	if p.Kernel != "Srv" {
		t.Errorf("proxy kernel = %q, want %q", p.Kernel, "Srv")
	}
	if err := p.Post(ctx, "posted", perlcompat.Text("via"), perlcompat.Int(3)); err != nil {
		t.Fatal(err)
	}
	select {
	case args := <-got:
		if diff := cmp.Diff([]perlcompat.Value{perlcompat.Text("via"), perlcompat.Int(3)}, args); diff != "" {
			t.Errorf("proxied args (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("proxied post never arrived")
	}
	v, err := p.Call(ctx, "sum", perlcompat.Int(1), perlcompat.Int(2), perlcompat.Int(39))
	if err != nil || v != perlcompat.Int(42) {
		t.Errorf("proxied call = %v, %v", v, err)
	}
}

func TestPostBackReachesTheSendersPublishedState(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/ack_sender", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		return nil, r.PostBack(ctx, "ack", r.Arg(0), perlcompat.Text("acked"))
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	acks := make(chan []perlcompat.Value, 1)
	cli.HandleFunc("client/ack", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		acks <- r.Args
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	if err := cli.Post(ctx, "Srv/svc/ack_sender", 7, From("client")); err != nil {
		t.Fatal(err)
	}
	select {
	case args := <-acks:
		if diff := cmp.Diff([]perlcompat.Value{perlcompat.Int(7), perlcompat.Text("acked")}, args); diff != "" {
			t.Errorf("post-back args (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("post-back never arrived")
	}
}

func TestUnixSocketChannelsWork(t *testing.T) {
	leaktest.Check(t)
	srv, err := New(testConfig(t, "Srv"))
	if err != nil {
		t.Fatal(err)
	}
	srv.HandleFunc("svc/echo", echo)
	path := filepath.Join(t.TempDir(), "ikc.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(peer.Names(), "unix:n") {
		t.Errorf("names %v lack Perl's unix client alias unix:n", peer.Names())
	}
	if v, err := cli.Call(ctx, "Srv/svc/echo", "over unix"); err != nil || v != perlcompat.Text("over unix") {
		t.Errorf("call = %v, %v", v, err)
	}
}

// TestAnIdleChannelHoldsOnlyItsReader: the writer and the worker start
// when first needed, so an idle channel is one goroutine on each side,
// and one that only makes sequential calls stays so; a burst of posts or
// a drain starts them, and everything still ends cleanly.
func TestAnIdleChannelHoldsOnlyItsReader(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	// On a loaded machine the watchdog would move reading on from a
	// descheduled handler, and the worker it starts is one more goroutine.
	srv.inlineTakeover = time.Hour
	var posted atomic.Int64
	srv.HandleFunc("svc/echo", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		return r.Arg(0), nil
	})
	srv.HandleFunc("svc/count", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		posted.Add(1)
		return nil, nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", addr); err != nil { // warm up: the kernels' own goroutines
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	const n = 20
	peers := make([]*Peer, n)
	for i := range peers {
		p, err := cli.Dial(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = p
	}
	// perConn waits for transient goroutines to end (the watchdog's
	// lingers a second after the last handler, longer under load), then
	// returns the goroutines per connection, both ends together.
	perConn := func() float64 {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine()-before > 2*n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return float64(runtime.NumGoroutine()-before) / n
	}
	if per := perConn(); per > 2 {
		t.Errorf("%.2f goroutines per idle connection (both ends), want 2: a reader each", per)
	}
	for i := 0; i < 5; i++ { // sequential calls: written inline, run inline
		if v, err := peers[0].Call(ctx, "svc/echo", i); err != nil || v != perlcompat.Int(int64(i)) {
			t.Fatalf("call %d: %v, %v", i, v, err)
		}
	}
	if per := perConn(); per > 2 {
		buf := make([]byte, 64<<10) // which goroutines, if this fails again
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%.2f goroutines per connection after sequential calls, want still 2; goroutines:\n%s", per, buf)
	}
	for i := 0; i < 1000; i++ {
		if err := peers[1].Post(ctx, "svc/count", i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peers[1].Call(ctx, "IKC/ping", nil); err != nil {
		t.Fatal(err)
	}
	if posted.Load() != 1000 {
		t.Errorf("%d posts served, want 1000", posted.Load())
	}
	// The burst started the client's writer: it stays for the channel.
	if extra := runtime.NumGoroutine() - before - 2*n; extra < 1 {
		t.Errorf("%d goroutines beyond the readers after a burst of posts, want the writer at least", extra)
	}
	for _, p := range peers[:n/2] {
		p.Close()
	}
	// The rest, never written to by a writer, drain at shutdown.
}

func TestShutdownLetsARunningHandlerReply(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	started := make(chan struct{})
	srv.HandleFunc("svc/slow", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return perlcompat.Text("done"), nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		v, err := cli.Call(ctx, "Srv/svc/slow", nil)
		if err == nil && v != perlcompat.Text("done") {
			err = errors.New("wrong reply")
		}
		res <- err
	}()
	<-started
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("call accepted before shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

func TestMonitorSeesRegisterAndUnregister(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	events, _, stop := srv.MonitorChan("*", 16)
	defer stop()
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	want := []MonitorKind{MonitorRegister, MonitorChannel}
	for _, w := range want {
		select {
		case e := <-events:
			if e.Kind != w || e.RemoteID != peer.LocalID() {
				t.Errorf("event %v about %q, want %v about %q", e.Kind, e.RemoteID, w, peer.LocalID())
			}
			if e.Kind == MonitorRegister && (!e.HasPID || e.PID == 0) {
				t.Errorf("register without the peer's PID: %+v", e)
			}
		case <-ctx.Done():
			t.Fatalf("no %v event", w)
		}
	}
	peer.Close()
	for _, w := range []MonitorKind{MonitorChannel, MonitorUnregister} {
		select {
		case e := <-events:
			if e.Kind != w {
				t.Errorf("event %v, want %v", e.Kind, w)
			}
		case <-ctx.Done():
			t.Fatalf("no %v event", w)
		}
	}
}

func TestLinkRedialsWhenTheServerComesBack(t *testing.T) {
	leaktest.Check(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens yet: the link must keep trying
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	link := cli.Connect("tcp", addr, LinkOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	defer link.Close()

	short, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	if _, err := link.Peer(short); err == nil {
		t.Fatal("a Peer with no server")
	}
	cancel()

	start := func() *Kernel {
		srv, err := New(testConfig(t, "Srv"))
		if err != nil {
			t.Fatal(err)
		}
		srv.HandleFunc("svc/echo", echo)
		var l net.Listener
		for i := 0; i < 50; i++ { // the port may linger briefly
			if l, err = net.Listen("tcp", addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(l)
		return srv
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	for round := 0; round < 2; round++ {
		srv := start()
		p, err := link.Peer(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if v, err := p.Call(ctx, "svc/echo", round); err != nil || v != perlcompat.Int(int64(round)) {
			t.Fatalf("round %d: call = %v, %v", round, v, err)
		}
		srv.Shutdown(ctx) // the link must notice and redial the next server
		<-p.Done()
	}
}

func TestPostToStarReachesEveryChannelAndThisKernel(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	heard := make(chan string, 8)
	hear := func(who string) HandlerFunc {
		return func(_ context.Context, r *Request) (perlcompat.Value, error) {
			heard <- who
			return nil, nil
		}
	}
	srv.Handle("svc/hear", hear("Srv"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"A", "B"} {
		cli, _ := newKernel(t, testConfig(t, name))
		cli.Handle("svc/hear", hear(name))
		if _, err := cli.Dial(ctx, "tcp", addr); err != nil {
			t.Fatal(err)
		}
		waitRegistered(srv, name)
	}
	if err := srv.Post(ctx, "poe://*/svc/hear", "all"); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 3 {
		select {
		case who := <-heard:
			got[who] = true
		case <-ctx.Done():
			t.Fatalf("heard only %v", got)
		}
	}
}

// A peer that sends requests and closes at once must still have them all
// served, as a Perl kernel would: nothing queued is dropped at EOF.
func TestRequestsSentJustBeforeEOFAreAllServed(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	var got atomic.Int64
	srv.HandleFunc("svc/count", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		got.Add(1)
		return nil, nil
	})
	const rounds, posts = 20, 50
	for i := 0; i < rounds; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte(setupLine))
		// Read the reply, as every real client does: closing a socket with
		// unread data makes the OS send a reset, and the server's OS may
		// then discard what it had not delivered yet.
		if _, err := protocol.NewLineReader(nc, 4096).ReadLine(); err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for j := 0; j < posts; j++ {
			buf = append(buf, frame(t, perlcompat.NewHash().Set("event", perlcompat.Text("poe://Srv/svc/count")).Set("params", perlcompat.Int(int64(j))))...)
		}
		nc.Write(buf)
		nc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < rounds*posts && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := got.Load(); n != rounds*posts {
		t.Fatalf("%d of %d posts served", n, rounds*posts)
	}
}

// A handler that ignores its context must not hold Shutdown past its
// deadline (the daemon's drain_timeout relies on it).
func TestShutdownReturnsSoonAfterItsDeadlineDespiteAStuckHandler(t *testing.T) {
	leaktest.Check(t)
	srv, err := New(testConfig(t, "Srv"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	started := make(chan struct{})
	srv.HandleFunc("svc/stuck", func(context.Context, *Request) (perlcompat.Value, error) {
		close(started)
		time.Sleep(3 * time.Second) // ignores its context
		return nil, nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Post(ctx, "Srv/svc/stuck", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	t0 := time.Now()
	if err := srv.Shutdown(sctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown = %v, want its context's deadline", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Shutdown took %v past a 200ms deadline", d)
	}
}

// dialDoubler dials addr from a kernel "Cli" publishing cli/double,
// which answers twice its argument after delay.
func dialDoubler(ctx context.Context, t *testing.T, addr string, delay time.Duration) *Peer {
	t.Helper()
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	cli.HandleFunc("cli/double", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		time.Sleep(delay)
		return perlcompat.Int(2 * n), err
	})
	peer, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return peer
}

// holdAndCallOver starts a call to srv's svc/hold on peer's channel; the
// handler (willBlock: after WillBlock) waits for the test, having started
// on the channel's reader. Meanwhile srv calls the client over that same
// channel: answered only if reading moved on. It then releases the
// handler and checks its call ended well.
func holdAndCallOver(ctx context.Context, t *testing.T, srv *Kernel, peer *Peer, willBlock bool) {
	t.Helper()
	release, entered := make(chan struct{}), make(chan struct{})
	srv.HandleFunc("svc/hold", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		if willBlock {
			WillBlock(ctx)
		}
		close(entered)
		<-release
		return perlcompat.Text("held"), nil
	})
	held := make(chan error, 1)
	go func() {
		_, err := peer.Call(ctx, "svc/hold", nil)
		held <- err
	}()
	<-entered
	for i := 0; i < 3; i++ { // each a round trip over the held handler's channel
		hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
		got, err := srv.Call(hctx, "poe://Cli/cli/double", 21)
		hcancel()
		if err != nil || got != perlcompat.Int(42) {
			close(release)
			t.Fatalf("call %d over the held handler's channel: %v, %v", i, got, err)
		}
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// TestAHandlerThatSaysItWillBlockLeavesItsChannelRead: with the watchdog
// stretched to an hour, only WillBlock (and Call, which uses it) can hand
// reading on. A handler waits for something that needs its own channel
// read: a call another goroutine makes over that channel, and a handler
// that calls back over its own channel.
func TestAHandlerThatSaysItWillBlockLeavesItsChannelRead(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.inlineTakeover, srv.watchTick = time.Hour, time.Hour
	srv.HandleFunc("svc/back", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		return srv.Call(ctx, "poe://Cli/cli/double", r.Arg(0))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer := dialDoubler(ctx, t, addr, 0)
	holdAndCallOver(ctx, t, srv, peer, true)
	// A handler calling back over its own channel: Call hands on reading.
	cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
	defer ccancel()
	if got, err := peer.Call(cctx, "svc/back", 5); err != nil || got != perlcompat.Int(10) {
		t.Fatalf("calling back over the handler's own channel: %v, %v", got, err)
	}
}

// TestTheWatchdogMovesReadingOffAHandlerThatBlocksWithoutSaying: a
// handler waits without WillBlock for something that needs its own
// channel read. The watchdog sees the same inline run at consecutive
// ticks and hands reading on.
func TestTheWatchdogMovesReadingOffAHandlerThatBlocksWithoutSaying(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	holdAndCallOver(ctx, t, srv, dialDoubler(ctx, t, addr, 0), false)
}

// TestAHandlerCallingBackOverItsOwnChannelGetsTheReply: handlers run on
// the channel's reader when nothing is queued; one that waits for a reply
// on that same channel must not stop the reply being read. Each round
// hands reading to a new goroutine, and requests sent meanwhile still run
// in order, after the slow handler.
func TestAHandlerCallingBackOverItsOwnChannelGetsTheReply(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	var mu sync.Mutex
	var order []int64
	srv.HandleFunc("svc/back", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		v, err := srv.Call(ctx, "poe://Cli/cli/double", r.Arg(0))
		if err != nil {
			return nil, err
		}
		return perlcompat.NewArray(perlcompat.Text("back"), v), nil
	})
	srv.HandleFunc("svc/note", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		mu.Lock()
		order = append(order, n)
		mu.Unlock()
		return nil, err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The reply comes late: svc/back waits on its own channel a while.
	peer := dialDoubler(ctx, t, addr, time.Millisecond)
	for i := int64(1); i <= 20; i++ {
		done := make(chan error, 1)
		go func() {
			got, err := peer.Call(ctx, "svc/back", perlcompat.Int(i))
			if err == nil {
				want := perlcompat.NewArray(perlcompat.Text("back"), perlcompat.Int(2*i))
				if diff := cmp.Diff(perlcompat.Value(want), got); diff != "" {
					err = fmt.Errorf("reply (-want +got):\n%s", diff)
				}
			}
			done <- err
		}()
		// Posted while svc/back waits: they run after it, in order.
		for j := int64(0); j < 3; j++ {
			if err := peer.Post(ctx, "svc/note", 10*i+j); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if _, err := peer.Call(ctx, "IKC/ping", nil); err != nil { // every note served
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 60 {
		t.Fatalf("%d notes ran, want 60", len(order))
	}
	for k, n := range order {
		if want := 10*int64(k/3+1) + int64(k%3); n != want {
			t.Fatalf("note %d was %d, want %d (order %v)", k, n, want, order)
		}
	}
}

// TestCallsSentJustBeforeAHalfCloseAreAllAnswered: a peer that sends
// calls and shuts its side down gets every reply, then EOF, whether the
// replies went out inline, through the writer, or after the worker.
func TestCallsSentJustBeforeAHalfCloseAreAllAnswered(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	srv.HandleFunc("svc/slow", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		time.Sleep(2 * time.Millisecond) // long enough for requests to queue behind it
		return r.Arg(0), nil
	})
	for _, state := range []string{"echo", "slow"} {
		for round := 0; round < 5; round++ {
			p := dialRaw(t, addr, "Raw-1")
			const calls = 40
			var buf []byte
			for i := 0; i < calls; i++ {
				msg := protocol.NewCall(protocol.Specifier{Kernel: "Srv", Session: "svc", State: state}, perlcompat.Int(int64(i)),
					protocol.Specifier{Kernel: "Raw-1", Session: "IKC", State: "r" + strconv.Itoa(i)})
				buf = append(buf, frame(t, msg.Value())...)
			}
			if _, err := p.nc.Write(buf); err != nil {
				t.Fatal(err)
			}
			p.nc.(*net.TCPConn).CloseWrite()
			for i := 0; i < calls; i++ {
				req := p.read()
				if want := "r" + strconv.Itoa(i); req.Event.State != want || req.Params != perlcompat.Int(int64(i)) {
					t.Fatalf("%s round %d: reply %d went to %s with %v, want %s with %d", state, round, i, req.Event.State, req.Params, want, i)
				}
			}
			if _, err := p.fr.ReadFrame(); !errors.Is(err, io.EOF) {
				t.Fatalf("%s round %d: after the replies: %v, want EOF", state, round, err)
			}
			p.nc.Close()
		}
	}
}

// The same with big replies and a small send queue: answers to requests
// read before EOF wait for room rather than being dropped when the
// handlers' context is cancelled at EOF.
func TestBigRepliesOwedAtAHalfCloseWaitForRoom(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	cfg.SendQueue = 4
	srv, addr := newKernel(t, cfg)
	big := strings.Repeat("x", 64<<10)
	srv.HandleFunc("svc/big", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, _ := perlcompat.AsInt(r.Arg(0))
		return perlcompat.Text(big + strconv.FormatInt(n, 10)), nil
	})
	p := dialRaw(t, addr, "Raw-1")
	const calls = 200
	var buf []byte
	for i := 0; i < calls; i++ {
		msg := protocol.NewCall(protocol.Specifier{Kernel: "Srv", Session: "svc", State: "big"}, perlcompat.Int(int64(i)),
			protocol.Specifier{Kernel: "Raw-1", Session: "IKC", State: "r" + strconv.Itoa(i)})
		buf = append(buf, frame(t, msg.Value())...)
	}
	if _, err := p.nc.Write(buf); err != nil {
		t.Fatal(err)
	}
	p.nc.(*net.TCPConn).CloseWrite()
	time.Sleep(100 * time.Millisecond) // let the server see EOF while the queue is full
	for i := 0; i < calls; i++ {
		req := p.read()
		if want := "r" + strconv.Itoa(i); req.Event.State != want || req.Params != perlcompat.Text(big+strconv.Itoa(i)) {
			t.Fatalf("reply %d went to %s, want %s with its own text", i, req.Event.State, want)
		}
	}
	if _, err := p.fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the replies: %v, want EOF", err)
	}
}

func TestChannelLogLinesNameThePeerAndQuietChannelsMakeNoLogger(t *testing.T) {
	leaktest.Check(t)
	cfg, logs := loggedConfig(t)
	_, addr := newKernel(t, cfg)
	cli, _ := newKernel(t, testConfig(t, "Cli")) // logs at Warn
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Call(ctx, "IKC/ping", nil); err != nil {
		t.Fatal(err)
	}
	if p.ch.lg.Load() != nil {
		t.Error("a channel that logged nothing made its logger")
	}
	local := p.ch.nc.LocalAddr().String()
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "channel closed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, msg := range []string{"channel open", "channel closed"} {
		var line string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, msg) {
				line = l
			}
		}
		if !strings.Contains(line, "peer="+local) || !strings.Contains(line, "remote="+p.LocalID()) {
			t.Errorf("%q does not name the peer %s (%s):\n%s", msg, local, p.LocalID(), logs.String())
		}
	}
}
