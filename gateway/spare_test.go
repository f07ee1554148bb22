package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
)

func TestTheGoroutineOfAClosedChannelServesTheNextConnection(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/echo", echo)
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := mustDial(ctx, t, cli, addr)
	p.Close()
	<-p.Done()
	waitFor(t, "one spare goroutine on the server after its channel closed", func() bool { return srv.spares.Load() == 1 })
	p = mustDial(ctx, t, cli, addr)
	waitFor(t, "the spare serving the next channel", func() bool { return srv.spares.Load() == 0 })
	if v, err := p.Call(ctx, "svc/echo", "on a spare"); err != nil || v == nil {
		t.Fatalf("call on the channel a spare serves: %v, %v", v, err)
	}
}

func TestSpareGoroutinesAreCappedAndLeaveWhenIdle(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.spareIdle = 300 * time.Millisecond
	cli, _ := newKernel(t, testConfig(t, "Cli"))
	cli.spareIdle = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 2 * maxSpares
	peers := make([]*Peer, n)
	for i := range peers {
		peers[i] = mustDial(ctx, t, cli, addr)
	}
	for _, p := range peers {
		p.Close()
	}
	for _, p := range peers {
		<-p.Done()
	}
	waitFor(t, "the cap's worth of spares", func() bool { return srv.spares.Load() == maxSpares })
	time.Sleep(50 * time.Millisecond)
	if got := srv.spares.Load(); got > maxSpares {
		t.Errorf("%d spare goroutines, more than the cap %d", got, maxSpares)
	}
	waitFor(t, "idle spares leaving", func() bool { return srv.spares.Load() == 0 && cli.spares.Load() == 0 })
}
