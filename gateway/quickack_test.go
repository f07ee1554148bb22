package gateway

import (
	"context"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
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
	leaktest.Check(t)
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

// busy is what the reader asks: a channel with a call of ours awaiting
// its answer is busy until the answer comes.
func TestAChannelIsBusyWhileACallIsInFlight(t *testing.T) {
	leaktest.Check(t)
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
