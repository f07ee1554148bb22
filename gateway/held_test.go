package gateway

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// callTo is a call from a raw peer announced as kernelID, its reply
// addressed as a Perl kernel addresses it.
func callTo(kernelID, state string, n int, arg perlcompat.Value) *protocol.Request {
	msg := protocol.NewPost(protocol.Specifier{Kernel: "Srv", Session: "svc", State: state}, perlcompat.NewArray(arg))
	rsvp := protocol.Specifier{Kernel: kernelID, Session: rsvpSession, State: rsvpPrefix + strconv.Itoa(n)}
	msg.Rsvp = &rsvp
	msg.RsvpValue = rsvp.Value()
	return msg
}

// writeBurst writes every request in one write, as a Perl client's
// pipelined calls arrive: the server reads them in one go.
func (p *rawPeer) writeBurst(reqs ...*protocol.Request) {
	p.t.Helper()
	var b []byte
	for _, r := range reqs {
		b = append(b, frame(p.t, r.Value())...)
	}
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// wantReply reads the next frame and checks it answers call n with want.
func (p *rawPeer) wantReply(n int, want string) {
	p.t.Helper()
	r := p.read()
	if got := r.Event.State; got != rsvpPrefix+strconv.Itoa(n) {
		p.t.Fatalf("reply to %s, want to call %d", got, n)
	}
	if got := describeParams(r); got != want {
		p.t.Fatalf("reply to call %d = %q, want %q", n, got, want)
	}
}

func TestRepliesToABurstOfCallsGoOutWithoutWakingTheWriter(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	// On a loaded machine the watchdog would move reading on from a
	// descheduled handler, and the worker's replies wake the writer.
	srv.inlineTakeover = time.Hour
	srv.HandleFunc("svc/echo", echo)
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	ch := srv.lookup("Burst")
	for round := 0; round < 3; round++ {
		before := ch.writerRounds.Load()
		var calls []*protocol.Request
		for i := range 16 {
			calls = append(calls, callTo("Burst", "echo", i, perlcompat.Int(100*round+i)))
		}
		p.writeBurst(calls...)
		for i := range 16 {
			p.wantReply(i, strconv.Itoa(100*round+i))
		}
		// The replies were held and went out with the last one, from
		// the reader: waking the writer on another thread per burst was
		// a quarter of a pipelining server's CPU.
		if woke := ch.writerRounds.Load() - before; woke != 0 {
			t.Errorf("round %d: the writer woke %d times for a burst of 16 calls", round, woke)
		}
	}
}

func TestAReplyHeldInABurstThatEndsWithAPostGoesOut(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	var posts atomic.Int64
	srv.HandleFunc("svc/count", func(context.Context, *Request) (perlcompat.Value, error) {
		posts.Add(1)
		return nil, nil
	})
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	post := protocol.NewPost(protocol.Specifier{Kernel: "Srv", Session: "svc", State: "count"}, perlcompat.NewArray(perlcompat.Int(1)))
	// Nothing answers the post that ends the burst: the reader sends the
	// held reply before it waits for more input.
	p.writeBurst(callTo("Burst", "echo", 1, perlcompat.Text("a")), callTo("Burst", "echo", 2, perlcompat.Text("b")), post)
	p.wantReply(1, "a")
	p.wantReply(2, "b")
	if n := posts.Load(); n != 1 {
		t.Errorf("the post was served %d times", n)
	}
}

func TestAReplyHeldBehindASlowHandlerGoesOutWhenReadingMovesOn(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	release := make(chan struct{})
	srv.HandleFunc("svc/slow", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		// Busy, without WillBlock: only the watchdog moves reading on.
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return r.Arg(0), nil
	})
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	p.writeBurst(callTo("Burst", "echo", 1, perlcompat.Text("quick")), callTo("Burst", "slow", 2, perlcompat.Text("slow")))
	// The quick reply was held for the end of the burst; the slow
	// handler has not ended it, and must not hold the reply meanwhile.
	start := time.Now()
	p.wantReply(1, "quick")
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the quick reply waited %v behind the slow handler", waited)
	}
	close(release)
	p.wantReply(2, "slow")
}

func TestABurstLongerThanTheSendQueueIsServedWhenAFullQueueDisconnects(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	cfg.SendQueue = 8
	cfg.QueueFull = QueueDisconnect
	srv, addr := newKernel(t, cfg)
	// Served inline only: replies from the worker, after the watchdog
	// moved reading on from a descheduled handler, wait for the writer,
	// and on a loaded machine 8 of them can fill the queue.
	srv.inlineTakeover = time.Hour
	srv.HandleFunc("svc/echo", echo)
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	// Held replies never fill the queue: past half of it, the writer is
	// woken as for any other frame.
	for round := 0; round < 3; round++ {
		var calls []*protocol.Request
		for i := range 64 {
			calls = append(calls, callTo("Burst", "echo", i, perlcompat.Int(i)))
		}
		p.writeBurst(calls...)
		for i := range 64 {
			p.wantReply(i, strconv.Itoa(i))
		}
	}
	if srv.lookup("Burst") == nil {
		t.Error("the channel was closed")
	}
}

func TestAReplyIsNotHeldWhileTheNextFrameIsStillArriving(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	big := strings.Repeat("x", 100<<10)
	first := frame(t, callTo("Burst", "echo", 1, perlcompat.Text("small")).Value())
	second := frame(t, callTo("Burst", "echo", 2, perlcompat.Text(big)).Value())
	// The small call and the start of a big one arrive together; the
	// rest of the big one only once the small call is answered.
	if _, err := p.nc.Write(append(first, second[:1000]...)); err != nil {
		t.Fatal(err)
	}
	p.wantReply(1, "small")
	if _, err := p.nc.Write(second[1000:]); err != nil {
		t.Fatal(err)
	}
	p.wantReply(2, big)
}

func TestRepliesHeldBeforeABadFrameGoOutBeforeTheChannelCloses(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.inlineTakeover = time.Hour // the two calls are served inline, their replies held
	srv.HandleFunc("svc/echo", echo)
	p := dialRaw(t, addr, "Burst")
	waitRegistered(srv, "Burst")
	// Two calls, then bytes that are no frame header: a Perl kernel
	// answers what it read before the garbage; so must the held replies.
	b := append(frame(t, callTo("Burst", "echo", 1, perlcompat.Text("a")).Value()),
		frame(t, callTo("Burst", "echo", 2, perlcompat.Text("b")).Value())...)
	if _, err := p.nc.Write(append(b, "GET / HTTP/1.1\r\n\r\n"...)); err != nil {
		t.Fatal(err)
	}
	p.wantReply(1, "a")
	p.wantReply(2, "b")
	if _, err := p.fr.ReadFrame(); err == nil {
		t.Fatal("the channel stayed open after a bad frame")
	}
}

// ClientLite's post_respond waits for the post its rsvp gets, and a
// sender for its post-back: PostTo and PostBack are written at once, as a
// reply is, not handed to the writer (whose wake-up on another thread was
// a quarter of the server's CPU per post_respond round trip).
func TestPostToAndPostBackAreWrittenWithoutWakingTheWriter(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.inlineTakeover = time.Hour // see TestRepliesToABurstOfCallsGoOutWithoutWakingTheWriter
	srv.HandleFunc("svc/respond", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		a := r.Arg(0).(*perlcompat.Array)
		return nil, r.PostTo(ctx, a.Elems[1], a.Elems[0])
	})
	srv.HandleFunc("svc/ack", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		return nil, r.PostBack(ctx, "acked", r.Args...)
	})
	p := dialRaw(t, addr, "Lite")
	waitRegistered(srv, "Lite")
	ch := srv.lookup("Lite")
	for i := range 3 {
		state := "response" + strconv.Itoa(i)
		rsvp := perlcompat.NewHash().Set("kernel", perlcompat.Text("Lite")).Set("session", perlcompat.Text("IKCLite")).Set("state", perlcompat.Text(state))
		before := ch.writerRounds.Load()
		p.writeBurst(protocol.NewPost(protocol.Specifier{Kernel: "Srv", Session: "svc", State: "respond"},
			perlcompat.NewArray(perlcompat.Int(i), rsvp)))
		r := p.read()
		if r.Event.State != state || r.Params != perlcompat.Value(perlcompat.Int(i)) {
			t.Fatalf("got a post to %s with %#v, want one to %s with %d", r.Event.State, r.Params, state, i)
		}
		if woke := ch.writerRounds.Load() - before; woke != 0 {
			t.Errorf("round %d: the writer woke %d times for one post_respond", i, woke)
		}

		post := protocol.NewPost(protocol.Specifier{Kernel: "Srv", Session: "svc", State: "ack"}, perlcompat.Int(i))
		post.From = &protocol.Specifier{Kernel: "Lite", Session: "client"}
		post.FromValue = post.From.Value()
		before = ch.writerRounds.Load()
		p.writeBurst(post)
		r = p.read()
		if r.Event.Session != "client" || r.Event.State != "acked" || describeParams(r) != strconv.Itoa(i) {
			t.Fatalf("got a post to %s/%s with %s, want one to client/acked with %d", r.Event.Session, r.Event.State, describeParams(r), i)
		}
		if woke := ch.writerRounds.Load() - before; woke != 0 {
			t.Errorf("round %d: the writer woke %d times for one post-back", i, woke)
		}
	}
}

// A handler's first post-back is written at once (see above); the rest
// of a stream goes to the writer, which batches them: written inline,
// each would cost a write of its own.
func TestAStreamOfPostBacksGoesOutThroughTheWriterInOrder(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.inlineTakeover = time.Hour
	srv.HandleFunc("svc/stream", streamPostBacks)
	checkPostBackStream(t, srv, addr)
}

// An upstream's stream of post-backs arrives in bursts; relayed, they go
// to the origin channel's writer, in order, rather than a write each.
func TestAnUpstreamsStreamOfPostBacksIsRelayedInOrderThroughTheWriter(t *testing.T) {
	leaktest.Check(t)
	up, upAddr := newKernel(t, testConfig(t, "Up"))
	up.HandleFunc("svc/stream", streamPostBacks)
	gw, gwAddr := newKernel(t, testConfig(t, "Gw"))
	u := gw.NewUpstream("tcp", upAddr, UpstreamOptions{})
	t.Cleanup(u.Close)
	gw.Handle("svc/*", u)
	checkPostBackStream(t, gw, gwAddr)
}

const postBackStream = 200

// streamPostBacks posts item back to its sender postBackStream times,
// with 0, 1, 2, ...
func streamPostBacks(ctx context.Context, r *Request) (perlcompat.Value, error) {
	for i := range postBackStream {
		if err := r.PostBack(ctx, "item", perlcompat.Int(i)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// checkPostBackStream posts to svc/stream of k (served at addr) from a
// raw peer and checks that the stream comes back whole and in order, and
// through the writer of the peer's channel.
func checkPostBackStream(t *testing.T, k *Kernel, addr string) {
	t.Helper()
	p := dialRaw(t, addr, "Lite")
	waitRegistered(k, "Lite")
	ch := k.lookup("Lite")
	before := ch.writerRounds.Load()
	post := protocol.NewPost(protocol.Specifier{Kernel: k.cfg.Name, Session: "svc", State: "stream"}, perlcompat.Undef{})
	post.From = &protocol.Specifier{Kernel: "Lite", Session: "client"}
	post.FromValue = post.From.Value()
	p.writeBurst(post)
	for i := range postBackStream {
		r := p.read()
		if r.Event.State != "item" || describeParams(r) != strconv.Itoa(i) {
			t.Fatalf("post-back %d: got %s with %s", i, r.Event.State, describeParams(r))
		}
	}
	if ch.writerRounds.Load() == before {
		t.Errorf("%d post-backs were all written inline, a write each; the writer never batched them", postBackStream)
	}
}
