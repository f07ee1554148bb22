package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

type countingObserver struct {
	NopObserver
	mu                          sync.Mutex
	opened, closed, failed      int
	framesIn, framesOut, served int
	calls                       int
	lastState                   string
}

func (o *countingObserver) ChannelOpened(ChannelInfo) { o.mu.Lock(); o.opened++; o.mu.Unlock() }
func (o *countingObserver) ChannelClosed(ChannelInfo, error) {
	o.mu.Lock()
	o.closed++
	o.mu.Unlock()
}
func (o *countingObserver) NegotiationFailed(net.Addr, error) { o.mu.Lock(); o.failed++; o.mu.Unlock() }
func (o *countingObserver) FrameReceived(*ChannelInfo, int)   { o.mu.Lock(); o.framesIn++; o.mu.Unlock() }
func (o *countingObserver) FrameSent(*ChannelInfo, int)       { o.mu.Lock(); o.framesOut++; o.mu.Unlock() }
func (o *countingObserver) RequestServed(_ *ChannelInfo, s, st string, _ bool, _ time.Duration, _ error) {
	o.mu.Lock()
	o.served++
	o.lastState = s + "/" + st
	o.mu.Unlock()
}
func (o *countingObserver) CallFinished(string, time.Duration, error) {
	o.mu.Lock()
	o.calls++
	o.mu.Unlock()
}

func TestObserverSeesChannelsFramesRequestsAndCalls(t *testing.T) {
	leaktest.Check(t)
	obs := &countingObserver{}
	cfg := testConfig(t, "Srv")
	cfg.Observer = obs
	srv, addr := newKernel(t, cfg)
	srv.HandleFunc("svc/echo", echo)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Call(ctx, "Srv/svc/echo", 1); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		obs.mu.Lock()
		done := obs.closed == 1
		obs.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.opened != 1 || obs.closed != 1 || obs.framesIn != 1 || obs.framesOut != 1 || obs.served != 1 || obs.lastState != "svc/echo" {
		t.Errorf("observer saw %+v", obs)
	}
}

func TestAllowPeerAndAllowKernelRefuseChannels(t *testing.T) {
	leaktest.Check(t)
	obs := &countingObserver{}
	cfg := testConfig(t, "Srv")
	cfg.Observer = obs
	cfg.AllowKernel = func(names []string) bool { return !contains(names, "Banned") }
	srv, addr := newKernel(t, cfg)
	srv.HandleFunc("svc/echo", echo)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	banned, _ := newKernel(t, testConfig(t, "Banned"))
	if p, err := banned.Dial(ctx, "tcp", addr); err == nil {
		// Negotiation finishes (closing earlier would kill a Perl peer);
		// the channel is then closed before any request is served.
		select {
		case <-p.Done():
		case <-ctx.Done():
			t.Fatal("a banned kernel's channel stayed open")
		}
	}
	ok, _ := newKernel(t, testConfig(t, "Fine"))
	if _, err := ok.Dial(ctx, "tcp", addr); err != nil {
		t.Fatal(err)
	}
	if v, err := ok.Call(ctx, "Srv/svc/echo", "in"); err != nil || v != perlcompat.Text("in") {
		t.Fatalf("allowed kernel: %v, %v", v, err)
	}

	cfg2 := testConfig(t, "Srv2")
	cfg2.AllowPeer = func(net.Addr) bool { return false }
	_, addr2 := newKernel(t, cfg2)
	nc, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("a refused peer could read: %d, %v", n, err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.failed != 1 {
		t.Errorf("observer saw %d refusals, want 1", obs.failed)
	}
}

func TestSetLimitsAppliesToNewConnectionsAndCallsWithoutDroppingChannels(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	first, _ := newKernel(t, testConfig(t, "First"))
	p, err := first.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := srv.Limits()
	l.MaxConnections = 1
	if err := srv.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	bad := l
	bad.CallTimeout = 0
	if err := srv.SetLimits(bad); err == nil || !strings.Contains(err.Error(), "CallTimeout") {
		t.Errorf("invalid limits accepted: %v", err)
	}
	second, _ := newKernel(t, testConfig(t, "Second"))
	if _, err := second.Dial(ctx, "tcp", addr); err == nil {
		t.Error("a second connection was accepted over MaxConnections 1")
	}
	if v, err := p.Call(ctx, "svc/echo", "still open"); err != nil || v != perlcompat.Text("still open") {
		t.Errorf("existing channel after SetLimits: %v, %v", v, err)
	}
}

// A connection counts against MaxConnections from accept until it closes,
// whether it became a channel or failed to negotiate: nothing leaks a
// slot, and nothing is counted twice.
func TestMaxConnectionsSlotsFreeWhenChannelsCloseOrNegotiationsFail(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	cfg.MaxConnections = 1
	cfg.Negotiation.Timeout = 300 * time.Millisecond
	_, addr := newKernel(t, cfg)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// dial retries while the server has not yet seen the last close.
	dial := func() *Peer {
		t.Helper()
		for {
			dctx, dcancel := context.WithTimeout(ctx, time.Second)
			p, err := cli.Dial(dctx, "tcp", addr)
			dcancel()
			if err == nil {
				return p
			}
			if ctx.Err() != nil {
				t.Fatalf("no slot came free: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := 0; i < 10; i++ {
		p := dial()
		dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		if _, err := cli.Dial(dctx, "tcp", addr); err == nil {
			t.Fatalf("round %d: a second channel was accepted over MaxConnections 1", i)
		}
		dcancel()
		p.Close()
		<-p.Done()
		// A connection that never negotiates holds the slot until its
		// deadline, then frees it.
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second)) // a server that never closes it fails below
		nc.Write([]byte("not IKC\r\n"))
		// Until the server closes it (a reset, when our line went unread).
		if _, err := io.Copy(io.Discard, nc); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round %d: a connection that never negotiated was not closed: %v", i, err)
		}
		nc.Close()
	}
	dial().Close()
}

type durationObserver struct {
	NopObserver
	mu   sync.Mutex
	took map[string][]time.Duration
}

func (o *durationObserver) RequestServed(_ *ChannelInfo, _, st string, _ bool, took time.Duration, _ error) {
	o.mu.Lock()
	o.took[st] = append(o.took[st], took)
	o.mu.Unlock()
}

// TestEachRequestOfABurstIsTimedFromWhenItsTurnCame: requests that
// wait in the read buffer behind a slow one are timed from when it was
// done, not from before it.
func TestEachRequestOfABurstIsTimedFromWhenItsTurnCame(t *testing.T) {
	leaktest.Check(t)
	obs := &durationObserver{took: map[string][]time.Duration{}}
	cfg := testConfig(t, "Srv")
	cfg.Observer = obs
	srv, addr := newKernel(t, cfg)
	const slow = 3 * time.Millisecond // under the watchdog's takeover
	srv.HandleFunc("svc/slow", func(context.Context, *Request) (perlcompat.Value, error) {
		time.Sleep(slow)
		return nil, nil
	})
	srv.HandleFunc("svc/quick", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer := mustDial(ctx, t, cli, addr)
	for round := 0; round < 5; round++ {
		if err := peer.Post(ctx, "svc/slow", round); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if err := peer.Post(ctx, "svc/quick", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := peer.Call(ctx, "IKC/ping", nil); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.took["slow"]) != 5 || len(obs.took["quick"]) != 50 {
		t.Fatalf("served %d slow and %d quick requests, want 5 and 50", len(obs.took["slow"]), len(obs.took["quick"]))
	}
	for _, d := range obs.took["slow"] {
		if d < slow {
			t.Errorf("a %v handler was timed at %v", slow, d)
		}
	}
	over := 0
	for _, d := range obs.took["quick"] {
		if d >= slow {
			over++
		}
	}
	// One may be unlucky on a busy machine; most being over means their
	// time counted the slow handler before them.
	if over > 5 {
		t.Errorf("%d of 50 quick requests timed at %v or more: they include the slow one before them (%v)", over, slow, obs.took["quick"])
	}
}

// timingObserver records CallFinished's durations.
type timingObserver struct {
	NopObserver
	mu   sync.Mutex
	took []time.Duration
}

func (o *timingObserver) CallFinished(_ string, took time.Duration, _ error) {
	o.mu.Lock()
	o.took = append(o.took, took)
	o.mu.Unlock()
}

func TestObserverTimesEveryGoCallWhicheverWayItIsWatched(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	srv.HandleFunc("svc/slow", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		time.Sleep(100 * time.Millisecond)
		return r.Arg(0), nil
	})
	obs := &timingObserver{}
	cfg := testConfig(t, "Cli")
	cfg.Observer = obs
	cli, _ := newKernel(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer := mustDial(ctx, t, cli, addr)
	done := make(chan *AsyncCall, 4)
	// A context that never ends: nothing watches the call.
	if c := <-peer.Go(context.Background(), "svc/echo", 1, done).Done; c.Err != nil {
		t.Fatal(c.Err)
	}
	// ctx's calls are watched by the channel's group; while the slow
	// one keeps the group, another context's call gets a watch of its
	// own.
	peer.Go(ctx, "svc/slow", 2, done)
	other, cancelOther := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelOther()
	peer.Go(other, "svc/echo", 3, done)
	peer.Go(ctx, "svc/echo", 4, done)
	for i := 0; i < 3; i++ {
		if c := <-done; c.Err != nil {
			t.Fatalf("call %v: %v", c.To, c.Err)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.took) != 4 {
		t.Fatalf("the observer saw %d calls finish, want 4", len(obs.took))
	}
	for i, d := range obs.took {
		if d <= 0 || d > 5*time.Second {
			t.Errorf("call %d took %v by the observer's count", i, d)
		}
	}
}
