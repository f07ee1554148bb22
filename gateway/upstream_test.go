package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// upstreamSetup is client -> gateway -> upstream, all Go kernels here (the
// conformance package does it with real Perl on both sides).
func upstreamSetup(t *testing.T) (cli, gw, up *Kernel, acks chan []perlcompat.Value) {
	t.Helper()
	up, upAddr := newKernel(t, testConfig(t, "Up"))
	up.HandleFunc("svc/echo", echo)
	up.HandleFunc("svc/ack_sender", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		return nil, r.PostBack(ctx, "ack", r.Args...)
	})
	gw, cli, _ = gatewayTo(t, testConfig(t, "Gw"), upAddr, UpstreamOptions{})
	gw.HandleFunc("svc/moved", func(context.Context, *Request) (perlcompat.Value, error) {
		return perlcompat.Text("answered in Go"), nil
	})
	acks = make(chan []perlcompat.Value, 4)
	cli.HandleFunc("client/ack", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		acks <- r.Args
		return nil, nil
	})
	return cli, gw, up, acks
}

// gatewayTo is a gateway kernel configured by cfg whose svc/* is an
// Upstream to upAddr, and a client kernel "Cli" dialled to it.
func gatewayTo(t *testing.T, cfg Config, upAddr string, opts UpstreamOptions) (gw, cli *Kernel, u *Upstream) {
	t.Helper()
	gw, gwAddr := newKernel(t, cfg)
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 10 * time.Millisecond
	}
	u = gw.NewUpstream("tcp", upAddr, opts)
	t.Cleanup(u.Close)
	gw.Handle("svc/*", u)
	cli, _ = newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", gwAddr); err != nil {
		t.Fatal(err)
	}
	return gw, cli, u
}

func TestUpstreamForwardsCallsPostBacksAndErrors(t *testing.T) {
	leaktest.Check(t)
	cli, _, _, acks := upstreamSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A state moved to Go is answered by the gateway; the rest upstream.
	if v, err := cli.Call(ctx, "Gw/svc/moved", nil); err != nil || v != perlcompat.Text("answered in Go") {
		t.Errorf("moved state: %v, %v", v, err)
	}
	nested := perlcompat.NewHash().Set("list", perlcompat.NewArray(perlcompat.Int(1), perlcompat.Text("é")))
	v, err := cli.Call(ctx, "Gw/svc/echo", nested)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(perlcompat.Value(nested), v); diff != "" {
		t.Errorf("forwarded echo (-want +got):\n%s", diff)
	}
	// SENDER post-backs reach the original client.
	if err := cli.Post(ctx, "Gw/svc/ack_sender", "hi", From("client")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-acks:
		if diff := cmp.Diff([]perlcompat.Value{perlcompat.Text("hi")}, got); diff != "" {
			t.Errorf("post-back (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("post-back never relayed")
	}
	// The upstream's error comes back in its own words, naming the
	// client's request and sender, not the gateway's.
	_, err = cli.Call(ctx, "Gw/svc/nope", 1, From("client"))
	var re *RemoteError
	if !errors.As(err, &re) || re.When != "check" {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(re.Message, "Session 'svc' has not published state 'nope'.  Request poe://Gw/svc/nope sent by poe://") ||
		!strings.HasSuffix(re.Message, "/client/IKC:proxy") || strings.Contains(re.Message, fwdPrefix) {
		t.Errorf("relayed error text %q", re.Message)
	}
}

func TestABurstOfRelayedErrorsReachesTheClientWholeAndInOrder(t *testing.T) {
	leaktest.Check(t)
	cli, _, _, acks := upstreamSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var texts []string
	stop := cli.Monitor("*", func(e MonitorEvent) {
		if e.Kind == MonitorError && e.Operation == "remote-check" {
			mu.Lock()
			texts = append(texts, e.Message)
			mu.Unlock()
		}
	})
	defer stop()
	// Posts to a state the upstream lacks: it answers each with a
	// remote_error, back to back, which the gateway relays.
	const n = 200
	for i := range n {
		if err := cli.Post(ctx, "Gw/svc/nope", i, From("client")); err != nil {
			t.Fatal(err)
		}
	}
	// A post-back sent after them comes after every error.
	if err := cli.Post(ctx, "Gw/svc/ack_sender", "last", From("client")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acks:
	case <-ctx.Done():
		t.Fatal("post-back never relayed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(texts) != n {
		t.Fatalf("%d relayed errors before the post-back, want %d", len(texts), n)
	}
	for _, m := range texts {
		if !strings.HasPrefix(m, "Session 'svc' has not published state 'nope'.  Request poe://Gw/svc/nope sent by poe://") || strings.Contains(m, fwdPrefix) {
			t.Fatalf("relayed error text %q", m)
		}
	}
}

func TestUpstreamDownFailsCleanlyAndRecovers(t *testing.T) {
	leaktest.Check(t)
	_, cli, u := gatewayTo(t, testConfig(t, "Gw"), "127.0.0.1:1", UpstreamOptions{Wait: 100 * time.Millisecond, LinkOptions: LinkOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cli.Call(ctx, "Gw/svc/echo", 1)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "upstream 127.0.0.1:1 unavailable") {
		t.Fatalf("err = %v", err)
	}
	if u.Healthy() {
		t.Error("Healthy with nothing upstream")
	}
}

func TestTwoUpstreamsRelayTheirOwnPostBacksAndCloseCleanly(t *testing.T) {
	leaktest.Check(t)
	gw, gwAddr := newKernel(t, testConfig(t, "Gw"))
	for _, name := range []string{"UpA", "UpB"} {
		up, upAddr := newKernel(t, testConfig(t, name))
		who := name
		up.HandleFunc("svc/ack_sender", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
			return nil, r.PostBack(ctx, "ack", perlcompat.Text(who))
		})
		u := gw.NewUpstream("tcp", upAddr, UpstreamOptions{LinkOptions: LinkOptions{MinBackoff: 10 * time.Millisecond}})
		t.Cleanup(u.Close)
		gw.Handle("svc"+name+"/*", HandlerFunc(func(ctx context.Context, r *Request) (perlcompat.Value, error) {
			// Forward under the upstream's own session name.
			r.Message.Event.Session = "svc"
			return u.ServeIKC(ctx, r)
		}))
	}
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	acks := make(chan string, 2)
	cli.HandleFunc("client/ack", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		s, _ := perlcompat.AsString(r.Arg(0))
		acks <- s
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", gwAddr); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, name := range []string{"UpA", "UpB"} {
		if err := cli.Post(ctx, "Gw/svc"+name+"/ack_sender", nil, From("client")); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-acks:
			got[s] = true
		case <-ctx.Done():
			t.Fatalf("no post-back through %s", name)
		}
	}
	if !got["UpA"] || !got["UpB"] {
		t.Errorf("post-backs from %v", got)
	}
}

// holdUntil is a handler answering "held" once release is closed (or
// its context ends).
func holdUntil(release <-chan struct{}) HandlerFunc {
	return func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return perlcompat.Text("held"), nil
	}
}

// TestForwardedCallsDoNotHoldTheClientsChannel: the gateway sends a
// forwarded call upstream and goes on with the client's next request
// while the answer is out, as a Perl kernel, which never waits, does; and
// a shutdown waits for the answers still owed.
func TestForwardedCallsDoNotHoldTheClientsChannel(t *testing.T) {
	leaktest.Check(t)
	cli, gw, up, _ := upstreamSetup(t)
	release := make(chan struct{})
	up.HandleFunc("svc/hold", holdUntil(release))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held := make(chan error, 1)
	go func() {
		v, err := cli.Call(ctx, "Gw/svc/hold", nil)
		if err == nil && v != perlcompat.Text("held") {
			err = fmt.Errorf("svc/hold answered %#v", v)
		}
		held <- err
	}()
	time.Sleep(50 * time.Millisecond) // svc/hold is upstream, unanswered
	if v, err := cli.Call(ctx, "Gw/svc/moved", nil); err != nil || v != perlcompat.Text("answered in Go") {
		t.Fatalf("a call after a pending forwarded call: %v, %v", v, err)
	}
	select {
	case err := <-held:
		t.Fatalf("svc/hold answered before its release: %v", err)
	default:
	}

	// Shut the gateway down with the answer still owed: it is delivered.
	shut := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		shut <- gw.Shutdown(sctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the owed answer during shutdown: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestASlowClientDoesNotHoldTheUpstreamsAnswers: answers from an upstream
// are relayed by the upstream channel's reader; when a client's send
// queue is full, its answer waits on a goroutine of its own, so other
// clients' answers through the same upstream keep coming, and the slow
// client still gets its answer once it reads.
func TestASlowClientDoesNotHoldTheUpstreamsAnswers(t *testing.T) {
	leaktest.Check(t)
	release := make(chan struct{})
	gw, gwAddr, slow := slowClientSetup(t, holdUntil(release))
	call := &protocol.Request{
		Event: protocol.Specifier{Kernel: "Gw", Session: "svc", State: "hold"},
		From:  &protocol.Specifier{Kernel: "Slow", Session: "cli", State: "x"},
		Rsvp:  &protocol.Specifier{Kernel: "Slow", Session: "cli", State: "answer"},
	}
	call.Params = perlcompat.NewArray()
	slow.write(call)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	posted := fillSlowClient(ctx, gw)
	close(release) // the upstream answers svc/hold; it cannot be queued now

	callsPassBeside(ctx, t, gwAddr)
	slow.readPosts(posted)
	ans := slow.read()
	args, _ := ans.Args()
	if ans.Target().State != "answer" || len(args) != 1 || args[0] != perlcompat.Text("held") {
		t.Fatalf("the slow client's answer: %s %v", ans.Target().State, args)
	}
}

// TestASlowClientDoesNotHoldTheUpstreamsErrorReports: the upstream's
// remote_error about a slow client's post is relayed without the
// upstream's reader waiting for room in that client's full send queue,
// so other clients' calls through the same upstream are answered; the
// slow client gets the report, in its place, once it reads.
func TestASlowClientDoesNotHoldTheUpstreamsErrorReports(t *testing.T) {
	leaktest.Check(t)
	// A post to a state the upstream lacks: its report cannot be queued.
	rep := slowClientPosts(t, echo, "nope", perlcompat.Int(1))
	a, ok := rep.Params.(*perlcompat.Array)
	if rep.Target().State != "remote_error" || !ok || len(a.Elems) == 0 {
		t.Fatalf("the slow client's report: %s %v", rep.Target().State, rep.Params)
	}
	if m, _ := perlcompat.StringOf(a.Elems[0]); !strings.HasPrefix(m, "Session 'svc' has not published state 'nope'.  Request poe://Gw/svc/nope sent by poe://Slow/cli/x") {
		t.Errorf("report text %q", m)
	}
}

// TestASlowClientDoesNotHoldTheUpstreamsPostBacks: an upstream handler's
// post-back to a slow client is a request the gateway serves as a
// handler, and a handler waiting for room does not hold its channel's
// reader (WillBlock, and failing that the watchdog's takeover).
func TestASlowClientDoesNotHoldTheUpstreamsPostBacks(t *testing.T) {
	leaktest.Check(t)
	back := slowClientPosts(t, func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		return nil, r.PostBack(ctx, "ack", r.Args...)
	}, "hold", perlcompat.Int(7))
	want := perlcompat.NewArray(perlcompat.Text("ack"), perlcompat.NewArray(perlcompat.NewArray(perlcompat.Int(7))))
	if diff := cmp.Diff(perlcompat.Value(want), back.Params); back.Target().State != "x" || diff != "" {
		t.Fatalf("the slow client's post-back to %s (-want +got):\n%s", back.Target(), diff)
	}
}

// slowClientSetup is an upstream kernel with svc/echo and svc/hold (hold),
// a gateway "Gw" forwarding svc/* to it with send queues of 4 frames, and
// "Slow", a hand-driven client of the gateway that will stop reading.
func slowClientSetup(t *testing.T, hold HandlerFunc) (gw *Kernel, gwAddr string, slow *rawPeer) {
	t.Helper()
	up, upAddr := newKernel(t, testConfig(t, "Up"))
	up.HandleFunc("svc/echo", echo)
	up.HandleFunc("svc/hold", hold)
	cfg := testConfig(t, "Gw")
	cfg.SendQueue = 4
	gw, gwAddr = newKernel(t, cfg)
	u := gw.NewUpstream("tcp", upAddr, UpstreamOptions{LinkOptions: LinkOptions{MinBackoff: 10 * time.Millisecond}})
	t.Cleanup(u.Close)
	gw.Handle("svc/*", u)
	slow = dialRaw(t, gwAddr, "Slow")
	slow.fr = protocol.NewFrameReader(slow.nc, slow.fr.Buffered(), 64<<20)
	waitRegistered(gw, "Slow")
	return gw, gwAddr, slow
}

// fillSlowClient posts 1 MB frames to Slow/cli/x until the slow client's
// socket, then its send queue, are full; it returns how many were posted.
func fillSlowClient(ctx context.Context, gw *Kernel) (posted int) {
	ch := gw.lookup("Slow")
	big := strings.Repeat("p", 1<<20)
	for full := false; !full; {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := gw.Post(pctx, "Slow/cli/x", big)
		pcancel()
		if err == nil {
			posted++
		}
		full = ch.sendq.full()
	}
	return posted
}

// callsPassBeside has another client call svc/echo through the gateway at
// gwAddr three times, each answered within 2 seconds.
func callsPassBeside(ctx context.Context, t *testing.T, gwAddr string) {
	t.Helper()
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	peer, err := cli.Dial(ctx, "tcp", gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := peer.Call(cctx, "svc/echo", i)
		ccancel()
		if err != nil || v != perlcompat.Int(i) {
			t.Fatalf("another client's call while the slow one is stuck: %v, %v", v, err)
		}
	}
}

// slowClientPosts fills the slow client of slowClientSetup(t, hold),
// has it post [arg] to Gw/svc/state from Slow/cli/x, checks that another
// client's calls through the same upstream pass meanwhile, and returns
// the frame the slow client reads after the posts that filled it.
func slowClientPosts(t *testing.T, hold HandlerFunc, state string, arg perlcompat.Value) *protocol.Request {
	t.Helper()
	gw, gwAddr, slow := slowClientSetup(t, hold)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	posted := fillSlowClient(ctx, gw)
	post := &protocol.Request{
		Event: protocol.Specifier{Kernel: "Gw", Session: "svc", State: state},
		From:  &protocol.Specifier{Kernel: "Slow", Session: "cli", State: "x"},
	}
	post.Params = perlcompat.NewArray(arg)
	slow.write(post)
	callsPassBeside(ctx, t, gwAddr)
	slow.readPosts(posted)
	return slow.read()
}

// readPosts reads n frames, each a post to x (fillSlowClient's).
func (p *rawPeer) readPosts(n int) {
	p.t.Helper()
	for i := 0; i < n; i++ {
		if r := p.read(); r.Target().State != "x" {
			p.t.Fatalf("frame %d is for %q, want a post to x", i, r.Target().State)
		}
	}
}

// A forwarded call the upstream never answers (its handler returned
// undef) expires on the gateway after CallTimeout: nothing stays pending
// there, the client hears nothing (as from Perl), and later calls pass.
func TestAnUnansweredForwardedCallExpiresOnTheGateway(t *testing.T) {
	leaktest.Check(t)
	up, upAddr := newKernel(t, testConfig(t, "Up"))
	up.HandleFunc("svc/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	up.HandleFunc("svc/echo", echo)
	cfg := testConfig(t, "Gw")
	cfg.CallTimeout = 150 * time.Millisecond
	gw, cli, _ := gatewayTo(t, cfg, upAddr, UpstreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	short, scancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer scancel()
	if _, err := cli.Call(short, "Gw/svc/noreturn", 1); !errors.Is(err, ErrNoReply) {
		t.Fatalf("client: %v, want ErrNoReply (no answer, as from Perl)", err)
	}
	upCh := gw.lookup("Up")
	if upCh == nil {
		t.Fatal("the gateway has no channel to Up")
	}
	wantNothingPending(t, upCh, "on the gateway after CallTimeout")
	if v, err := cli.Call(ctx, "Gw/svc/echo", 3); err != nil || v != perlcompat.Int(3) {
		t.Errorf("a forwarded call after the expiry: %v, %v", v, err)
	}
}
