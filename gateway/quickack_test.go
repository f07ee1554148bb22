package gateway

import (
	"context"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// A Perl peer writes without TCP_NODELAY, so a post, which draws no
// answer, holds back the call written after it until the post is
// acknowledged, and Linux delays a lone ACK by 40 ms: ClientLite's post
// then call took 44 ms a pair, against Perl's own server too. ikcgate
// acknowledges at once when it has read and has nothing to send.
func TestACallWrittenAfterAPostIsNotHeldByADelayedAck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_QUICKACK is Linux's; elsewhere the system's delayed-ACK timing stands")
	}
	checkGoroutines(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/count", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	srv.HandleFunc("svc/echo", func(_ context.Context, r *Request) (perlcompat.Value, error) { return r.Arg(0), nil })
	p := dialRaw(t, addr, "NaglePeer")
	if err := p.nc.(*net.TCPConn).SetNoDelay(false); err != nil { // as Perl's sockets are
		t.Fatal(err)
	}
	count, _ := protocol.ParseSpecifier("poe://Srv/svc/count")
	echo, _ := protocol.ParseSpecifier("poe://Srv/svc/echo")
	rsvp, _ := protocol.ParseSpecifier("poe://NaglePeer/IKC/rsvp-1")
	// Linux acknowledges a connection's first segments at once: the
	// stall only shows after them. The median of many pairs is far
	// under 40 ms when nothing waits for the timer, and over it when
	// every pair waits.
	var took []time.Duration
	for i := range 24 {
		start := time.Now()
		p.write(protocol.NewPost(count, perlcompat.Int(i)))
		p.write(protocol.NewCall(echo, perlcompat.Int(i), rsvp))
		if r := p.read(); r.Params != perlcompat.Int(i) {
			t.Fatalf("pair %d: the call was answered %v", i, r.Params)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	if med := took[len(took)/2]; med >= 30*time.Millisecond {
		t.Fatalf("a post then a call took %v (median of %d): the post's ACK waited for the delayed-ACK timer", med, len(took))
	}
}

// Calls in flight carry the ACKs both ways, so the quick ACK is for a
// channel with none: acknowledging between pipelined calls only split
// the peer's writes into more, smaller segments (16 pipelined Perl calls
// through an Upstream ran up to 20% slower).
func TestAReaderAcknowledgesEarlyOnlyWhenTheChannelIsNotBusy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_QUICKACK is Linux's; elsewhere the system's delayed-ACK timing stands")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	ours, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	var u unacked
	busy := true
	u.busy = func() bool { return busy }
	r := newRawReader(ours, &u)
	buf := make([]byte, 16)
	// readTwice reads what the peer wrote, then waits for more (the
	// moment a quick ACK would go) until the peer writes again, and
	// returns the quick ACKs sent meanwhile.
	readTwice := func() uint64 {
		before := quickAcks.Load()
		peer.Write([]byte("post"))
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(20 * time.Millisecond) // long enough for the reader to wait
			peer.Write([]byte("more"))
		}()
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
		return quickAcks.Load() - before
	}
	if n := readTwice(); n != 0 {
		t.Errorf("busy channel: %d quick ACKs, want none", n)
	}
	u.Store(false)
	busy = false
	if n := readTwice(); n != 1 {
		t.Errorf("idle channel: %d quick ACKs, want 1", n)
	}
	u.Store(false)
	u.clear() // a frame of ours was queued after the read...
	peer.Write([]byte("post"))
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	u.clear() // ...as here: it carries the ACK
	before := quickAcks.Load()
	go func() {
		time.Sleep(20 * time.Millisecond)
		peer.Write([]byte("more"))
	}()
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if n := quickAcks.Load() - before; n != 0 {
		t.Errorf("after a frame of ours: %d quick ACKs, want none", n)
	}
}

// busy is what the reader asks: a channel with a call of ours awaiting
// its answer is busy until the answer comes.
func TestAChannelIsBusyWhileACallIsInFlight(t *testing.T) {
	checkGoroutines(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	p := dialRaw(t, addr, "Callee")
	waitRegistered(srv, "Callee")
	ch := srv.lookup("Callee")
	if ch.busy() {
		t.Fatal("a fresh channel is busy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := srv.Call(ctx, "Callee/svc/q", 1)
		res <- err
	}()
	call := p.read()
	if !ch.busy() {
		t.Error("not busy with a call awaiting its answer")
	}
	p.write(replyTo(t, call, perlcompat.Text("done")))
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if ch.busy() {
		t.Error("still busy after the answer")
	}
}
