package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// sequentialCalls makes n calls to svc/echo on p, one at a time, and
// fails t unless each gets its own argument back.
func sequentialCalls(t *testing.T, p *Peer, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := int64(0); i < int64(n); i++ {
		v, err := p.Call(ctx, "svc/echo", i)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got, _ := perlcompat.AsInt(v); got != i {
			t.Fatalf("call %d answered %v", i, v)
		}
	}
}

func TestSequentialCallersReadTheirOwnReplies(t *testing.T) {
	leaktest.Check(t)
	cli, p := expiryPair(t, 5*time.Second)
	sequentialCalls(t, p, 200)
	if p.ch.leads.Load() == 0 {
		t.Error("no call read its own reply: the reader never lent the role")
	}
	// While the reader sleeps, every call leads.
	cli, p = expiryPair(t, 5*time.Second)
	lendLong(cli)
	lentNow(t, p)
	led := p.ch.leads.Load()
	sequentialCalls(t, p, 100)
	if n := p.ch.leads.Load() - led; n != 100 {
		t.Errorf("%d of 100 calls led while the role was lent", n)
	}
	wantNothingPending(t, p.ch, "after the calls")
}

// lendLong has k's readers lend their role for a minute at a time, so
// that a test's next call leads however slowly the test runs.
func lendLong(k *Kernel) { k.lendFor.Store(int64(time.Minute)) }

// lentNow makes calls until p's reader has lent the role (a call
// answered before its caller awaits it leaves the role with the reader).
func lentNow(t *testing.T, p *Peer) {
	t.Helper()
	waitFor(t, "the reader lending", func() bool {
		sequentialCalls(t, p, 1)
		return p.ch.lent.Load()
	})
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAPostFromThePeerIsReadWhileTheRoleIsLentAndAfter(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	// svc/echo_and_post posts to the caller's cli/got before answering:
	// the caller, leading, reads the post first.
	srv.HandleFunc("svc/echo_and_post", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		if err := srv.Post(ctx, "poe://Cli/cli/got", "during"); err != nil {
			return nil, err
		}
		return r.Arg(0), nil
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	var got sync.Map
	var n atomic.Int32
	cli.HandleFunc("cli/got", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		s, _ := perlcompat.AsString(r.Arg(0))
		got.Store(s, true)
		n.Add(1)
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := mustDial(ctx, t, cli, addr)
	waitRegistered(srv, "Cli")
	sequentialCalls(t, p, 20)
	for i := 0; i < 20; i++ {
		if _, err := p.Call(ctx, "svc/echo_and_post", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the posts sent during calls", func() bool { return n.Load() == 20 })

	// With no call awaited, a post still gets read: the reader takes the
	// role back.
	sequentialCalls(t, p, 5)
	if err := srv.Post(ctx, "poe://Cli/cli/got", "after"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a post sent after the calls", func() bool { _, ok := got.Load("after"); return ok })
	if p.ch.leads.Load() == 0 {
		t.Error("no call read its own reply")
	}
}

func TestALeadingCallEndsWithItsContextAndTheChannelReadsOn(t *testing.T) {
	leaktest.Check(t)
	cli, p := expiryPair(t, time.Minute)
	lendLong(cli)
	lentNow(t, p)

	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	start := time.Now()
	led := p.ch.leads.Load()
	if _, err := p.Call(dctx, "svc/noreturn", 1); !errors.Is(err, ErrNoReply) {
		t.Errorf("at its deadline: %v, want ErrNoReply", err)
	}
	if p.ch.leads.Load() == led {
		t.Error("the call with a deadline did not lead")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("deadline of 100ms ended the call after %v", took)
	}
	sequentialCalls(t, p, 5)

	lentNow(t, p)
	cctx, ccancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	led = p.ch.leads.Load()
	go func() { _, err := p.Call(cctx, "svc/noreturn", 1); done <- err }()
	waitFor(t, "the call leading", func() bool { return p.ch.leads.Load() > led })
	ccancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled call still waits after 5s")
	}
	// No deadline left on the connection: calls go on.
	sequentialCalls(t, p, 5)
	wantNothingPending(t, p.ch, "at the end")
}

func TestALeadingCallWithoutDeadlineExpiresAfterCallTimeout(t *testing.T) {
	leaktest.Check(t)
	cli, p := expiryPair(t, 150*time.Millisecond)
	lendLong(cli)
	lentNow(t, p)
	start := time.Now()
	led := p.ch.leads.Load()
	if _, err := p.Call(context.Background(), "svc/noreturn", 1); !errors.Is(err, ErrNoReply) {
		t.Errorf("err = %v, want ErrNoReply", err)
	}
	if p.ch.leads.Load() == led {
		t.Error("the call did not lead")
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 3*time.Second {
		t.Errorf("expired after %v, want about 150ms", took)
	}
	sequentialCalls(t, p, 5)
	wantNothingPending(t, p.ch, "after expiry")
}

func TestCallsOfOtherKindsWhileTheRoleIsLentAreAnswered(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 5*time.Second)
	for round := 0; round < 20; round++ {
		sequentialCalls(t, p, 3) // the reader lends
		c := recvCall(t, p.Go(context.Background(), "svc/echo", round, nil).Done)
		if got, _ := perlcompat.AsInt(c.Reply); c.Err != nil || got != int64(round) {
			t.Fatalf("Go while lent: %v, %v", c.Reply, c.Err)
		}
	}
	// Concurrent sequential callers: one leads, the others' answers are
	// read for them.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sequentialCalls(t, p, 50)
		}()
	}
	wg.Wait()
	wantNothingPending(t, p.ch, "at the end")
}

// wantCallFailedAndClosed fails t unless the call whose error comes on
// errc fails with ErrDisconnected, and p's channel closes, soon after
// what happened.
func wantCallFailedAndClosed(t *testing.T, errc <-chan error, p *Peer, what string) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrDisconnected) {
			t.Errorf("err = %v, want ErrDisconnected", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the call still waits 5s after %s", what)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("the channel is still open 5s after %s", what)
	}
}

// dialLentRaw has cli dial a raw server (acceptRaw) and call it until
// the reader has lent its role, lending for a minute at a time.
func dialLentRaw(t *testing.T, cli *Kernel) (*Peer, *rawPeer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	lendLong(cli)
	type dialed struct {
		p   *Peer
		err error
	}
	dc := make(chan dialed, 1)
	go func() {
		p, err := cli.Dial(context.Background(), "tcp", l.Addr().String())
		dc <- dialed{p, err}
	}()
	srv := acceptRaw(t, l)
	d := <-dc
	if d.err != nil {
		t.Fatal(d.err)
	}
	lentNowRaw(t, d.p, srv)
	return d.p, srv
}

// lentNowRaw is lentNow with srv answering the calls.
func lentNowRaw(t *testing.T, p *Peer, srv *rawPeer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitFor(t, "the reader lending", func() bool {
		go func() { req := srv.read(); srv.write(replyTo(t, req, req.Params)) }()
		if _, err := p.Call(ctx, "svc/echo", 1); err != nil {
			t.Fatal(err)
		}
		return p.ch.lent.Load()
	})
}

// acceptRaw negotiates the server side of one connection by hand.
func acceptRaw(t *testing.T, l net.Listener) *rawPeer {
	t.Helper()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	cfg := protocol.DefaultServerConfig()
	cfg.KernelID, cfg.Names = "RawSrv", []string{"RawSrv"}
	_, rest, err := protocol.ServerHandshake(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, nc: nc, fr: protocol.NewFrameReader(nc, rest, 1<<20)}
}

func TestABadFrameReadByALeadingCallerClosesTheChannel(t *testing.T) {
	leaktest.Check(t)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	p, srv := dialLentRaw(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	led := p.ch.leads.Load()
	errc := make(chan error, 1)
	go func() { _, err := p.Call(ctx, "svc/echo", "x"); errc <- err }()
	srv.read()
	waitFor(t, "the caller leading", func() bool { return p.ch.leads.Load() > led })
	// A well-formed frame that does not thaw: only the caller that read
	// it knows (the frame reader is fine), and the reader must end the
	// channel with its error.
	bad, _ := protocol.AppendFrame(nil, []byte("not Storable"))
	srv.nc.Write(bad)
	wantCallFailedAndClosed(t, errc, p, "a bad frame")
	if err := p.Err(); err == nil || errors.Is(err, ErrDisconnected) {
		t.Errorf("channel error = %v, want the frame error", err)
	}
}

func TestAPeerClosingWhileACallerLeadsFailsTheCallAtOnce(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	srv.HandleFunc("svc/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	lendLong(cli)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := mustDial(ctx, t, cli, addr)
	lentNow(t, p)
	led := p.ch.leads.Load()
	errc := make(chan error, 1)
	go func() { _, err := p.Call(context.Background(), "svc/noreturn", 1); errc <- err }()
	waitFor(t, "the call leading", func() bool { return p.ch.leads.Load() > led })
	for _, ch := range srv.allChannels() {
		ch.fail(nil) // the server closes the connection
	}
	wantCallFailedAndClosed(t, errc, p, "the peer closed")
}

// noReadDeadline is a connection whose SetReadDeadline fails, as some
// net.Conn wrappers' do.
type noReadDeadline struct{ net.Conn }

func (noReadDeadline) SetReadDeadline(time.Time) error { return errors.ErrUnsupported }

// wrappingListener hands out its connections wrapped by wrap.
type wrappingListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrappingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// wrappedPair serves kernel "Srv" (lending for lend, when set) on a
// listener whose connections wrap wraps, and dials it from "Cli", which
// publishes cli/echo and cli/noreturn. It returns the server and its
// channel to Cli.
func wrappedPair(t *testing.T, wrap func(net.Conn) net.Conn, lend time.Duration) (*Kernel, *channel) {
	t.Helper()
	srv, err := New(testConfig(t, "Srv"))
	if err != nil {
		t.Fatal(err)
	}
	srv.lendFor.Store(int64(lend))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(wrappingListener{l, wrap}) // unhashable: Serve must not key a map by it
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	cli.HandleFunc("cli/echo", echo)
	cli.HandleFunc("cli/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	waitRegistered(srv, "Cli")
	return srv, srv.lookup("Cli")
}

func TestAConnectionWithoutReadDeadlinesIsNeverLent(t *testing.T) {
	leaktest.Check(t)
	srv, ch := wrappedPair(t, func(c net.Conn) net.Conn { return noReadDeadline{c} }, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := int64(0); i < 20; i++ {
		v, err := srv.Call(ctx, "poe://Cli/cli/echo", i)
		if got, _ := perlcompat.AsInt(v); err != nil || got != i {
			t.Fatalf("call %d: %v, %v", i, v, err)
		}
	}
	if ch.leads.Load() != 0 {
		t.Errorf("%d calls led on a connection without read deadlines", ch.leads.Load())
	}
}

func TestAPostThePeerSentBeforeTheAnswerHasRunWhenTheCallReturns(t *testing.T) {
	leaktest.Check(t)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	var got atomic.Int64
	cli.HandleFunc("cli/set", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		got.Store(n)
		return nil, err
	})
	p, srv := dialLentRaw(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := int64(1); i <= 20; i++ {
		led := p.ch.leads.Load()
		go func() {
			req := srv.read()
			srv.write(protocol.NewPost(protocol.Specifier{Kernel: "Cli", Session: "cli", State: "set"}, perlcompat.Int(i)))
			srv.write(replyTo(t, req, req.Params))
		}()
		if _, err := p.Call(ctx, "svc/echo", i); err != nil {
			t.Fatal(err)
		}
		// As in Perl, the post came first, so it has run.
		if n := got.Load(); n != i {
			t.Fatalf("call %d returned before the post sent ahead of its answer ran (got %d)", i, n)
		}
		if i == 1 && p.ch.leads.Load() == led {
			t.Error("the first call did not lead")
		}
		lentNowRaw(t, p, srv) // the post handed the role back
	}
}

func TestALeadingCallKeepsItsDeadlineWhileTheWorkQueueIsFull(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Cli")
	cfg.WorkQueue = 1
	cli, _ := newKernel(t, cfg)
	release := make(chan struct{})
	defer close(release)
	cli.HandleFunc("cli/slow", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	p, srv := dialLentRaw(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	led := p.ch.leads.Load()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { _, err := p.Call(ctx, "svc/echo", "x"); errc <- err }()
	srv.read()
	waitFor(t, "the call leading", func() bool { return p.ch.leads.Load() > led })
	for i := 0; i < 4; i++ { // more than the work queue holds, each slow
		srv.write(protocol.NewPost(protocol.Specifier{Kernel: "Cli", Session: "cli", State: "slow"}, perlcompat.Int(int64(i))))
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNoReply) {
			t.Errorf("err = %v, want ErrNoReply", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a call with a 300ms deadline returned after %v", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a call with a 300ms deadline still waits after 5s")
	}
}

func TestUnderRsvpPerlAnAnswerOnAnotherChannelEndsTheCallAtOnce(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Cli")
	cfg.Rsvp = RsvpPerl
	cli, cliAddr := newKernel(t, cfg)
	cli.lendFor.Store(int64(time.Minute))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dc := make(chan *Peer, 1)
	go func() {
		p, err := cli.Dial(context.Background(), "tcp", l.Addr().String())
		if err != nil {
			t.Error(err)
		}
		dc <- p
	}()
	srv := acceptRaw(t, l)
	p := <-dc
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		go func() { req := srv.read(); srv.write(replyTo(t, req, req.Params)) }()
		if _, err := p.Call(ctx, "svc/echo", i); err != nil {
			t.Fatal(err)
		}
	}
	if p.ch.lent.Load() {
		t.Error("the reader lent its role under RsvpPerl")
	}
	b := dialRaw(t, cliAddr, "PeerB")
	waitRegistered(cli, "PeerB")
	type result struct {
		v    perlcompat.Value
		took time.Duration
	}
	rc := make(chan result, 1)
	go func() {
		start := time.Now()
		v, _ := p.Call(ctx, "svc/echo", "x")
		rc <- result{v, time.Since(start)}
	}()
	req := srv.read()
	b.write(replyTo(t, req, perlcompat.Text("fromB")))
	r := <-rc
	if r.v != perlcompat.Text("fromB") || r.took > 2*time.Second {
		t.Errorf("answer from another channel: %v after %v", r.v, r.took)
	}
}

// timeoutConn reports a read timeout as its own net.Error, not wrapping
// os.ErrDeadlineExceeded, as some net.Conn wrappers do.
type timeoutConn struct{ net.Conn }

type wrapperTimeout struct{}

func (wrapperTimeout) Error() string   { return "i/o timeout (wrapper)" }
func (wrapperTimeout) Timeout() bool   { return true }
func (wrapperTimeout) Temporary() bool { return true }

func (c timeoutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return n, wrapperTimeout{}
	}
	return n, err
}

func TestCancellingALeadingCallOnAWrapperConnectionKeepsTheChannel(t *testing.T) {
	leaktest.Check(t)
	srv, ch := wrappedPair(t, func(c net.Conn) net.Conn { return timeoutConn{c} }, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(t, "the reader lending", func() bool {
		if _, err := srv.Call(ctx, "poe://Cli/cli/echo", 1); err != nil {
			t.Fatal(err)
		}
		return ch.lent.Load()
	})
	cctx, ccancel := context.WithCancel(context.Background())
	led := ch.leads.Load()
	done := make(chan error, 1)
	go func() { _, err := srv.Call(cctx, "poe://Cli/cli/noreturn", 1); done <- err }()
	waitFor(t, "the call leading", func() bool { return ch.leads.Load() > led })
	ccancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if v, err := srv.Call(ctx, "poe://Cli/cli/echo", 2); err != nil || v != perlcompat.Int(2) {
		t.Errorf("after a cancelled call: %v, %v; the channel should stay", v, err)
	}
}

func TestACallerNeverLeadsForTheAnswerTheReaderAlreadyRead(t *testing.T) {
	// The reader reads an answer, then settles it. If the role were
	// lent in between, the call's own caller could take it and wait for
	// a frame that had already been read: a call that hung until its
	// context ended. Here the caller tries to lead at that very point.
	leaktest.Check(t)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pc := make(chan *Peer, 1)
	go func() { p, _ := cli.Dial(context.Background(), "tcp", l.Addr().String()); pc <- p }()
	srv := acceptRaw(t, l)
	p := <-pc
	if p == nil {
		t.Fatal("dial failed")
	}
	var blocked atomic.Int64
	var tried atomic.Bool
	cli.testBeforeAnswer = func(pc *pendingCall) {
		if tried.Swap(true) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c := &startedCall{k: cli, ch: p.ch, p: pc}
		start := time.Now()
		c.lead(ctx)
		blocked.Store(int64(time.Since(start)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		req := srv.read()
		time.Sleep(20 * time.Millisecond) // the caller awaits, not leading: the role is not lent
		srv.write(replyTo(t, req, req.Params))
	}()
	if _, err := p.Call(ctx, "svc/echo", 7); err != nil {
		t.Fatal(err)
	}
	if !tried.Load() {
		t.Fatal("the hook never ran")
	}
	if d := time.Duration(blocked.Load()); d > 100*time.Millisecond {
		t.Errorf("a caller led for the answer the reader held, and read for %v", d)
	}
}
