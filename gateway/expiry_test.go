package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// expiryPair is a server whose svc/noreturn never answers (Perl sends no
// reply for undef) and whose svc/echo does, and a client dialled to it
// with the given CallTimeout.
func expiryPair(t *testing.T, timeout time.Duration) (*Kernel, *Peer) {
	t.Helper()
	return expiryPairWith(t, timeout, RsvpStrict)
}

func expiryPairWith(t *testing.T, timeout time.Duration, rsvp RsvpPolicy) (*Kernel, *Peer) {
	t.Helper()
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	srv.HandleFunc("svc/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	srv.HandleFunc("svc/echo", echo)
	cfg := testConfig(t, "Cli")
	cfg.CallTimeout = timeout
	cfg.Rsvp = rsvp
	cli, _ := newKernel(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cli, mustDial(ctx, t, cli, addr)
}

// pendingCount is how many calls ch still tracks, in its table and in its
// expiry list.
func pendingCount(ch *channel) (table, listed int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for p := ch.expiry.head; p != nil; p = p.next {
		listed++
	}
	return len(ch.pending), listed
}

// wantNothingPending fails t unless ch tracks no call: in its table, its
// expiry list, or the kernel-wide table (RsvpPerl).
func wantNothingPending(t *testing.T, ch *channel, when string) {
	t.Helper()
	if table, listed := pendingCount(ch); table != 0 || listed != 0 {
		t.Errorf("%s: %d pending, %d listed; want none", when, table, listed)
	}
	ch.k.mu.Lock()
	wide := 0
	for _, p := range ch.k.pending {
		if p.ch == ch {
			wide++
		}
	}
	ch.k.mu.Unlock()
	if wide != 0 {
		t.Errorf("%s: %d calls left in the kernel-wide table", when, wide)
	}
}

// callUnanswered starts a call to svc/noreturn without a deadline and
// returns once it is listed for expiry; its error arrives on the channel.
func callUnanswered(t *testing.T, p *Peer) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := p.Call(context.Background(), "svc/noreturn", 1)
		done <- err
	}()
	for deadline := time.Now().Add(2 * time.Second); ; {
		if _, listed := pendingCount(p.ch); listed == 1 {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was never listed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCallWithoutDeadlineExpiresAfterCallTimeoutAndIsForgotten(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 150*time.Millisecond)
	start := time.Now()
	_, err := p.Call(context.Background(), "svc/noreturn", 1)
	took := time.Since(start)
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	if took < 150*time.Millisecond || took > 3*time.Second {
		t.Errorf("expired after %v, want about 150ms", took)
	}
	wantNothingPending(t, p.ch, "after expiry")
}

func TestAnsweredCallsLeaveTheExpiryListAndLaterCallsStillExpire(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 200*time.Millisecond)
	ctx := context.Background()
	// Answered calls arm the timer for their deadline and leave it
	// armed: the unanswered call after them must still expire on time,
	// through the re-arm when that stale deadline passes.
	for i := 0; i < 50; i++ {
		if v, err := p.Call(ctx, "svc/echo", i); err != nil || v != perlcompat.Int(i) {
			t.Fatalf("echo %d = %v, %v", i, v, err)
		}
	}
	wantNothingPending(t, p.ch, "after answers")
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	_, err := p.Call(ctx, "svc/noreturn", 1)
	if took := time.Since(start); !errors.Is(err, ErrNoReply) || took < 200*time.Millisecond || took > 3*time.Second {
		t.Fatalf("noreturn: %v after %v, want ErrNoReply after about 200ms", err, took)
	}
}

func TestConcurrentUnansweredCallsExpireTogether(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 200*time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	start := time.Now()
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			to := "svc/noreturn"
			if i%2 == 0 {
				to = "svc/echo"
			}
			_, err := p.Call(context.Background(), to, i)
			if i%2 == 0 && err != nil {
				errs <- err
			}
			if i%2 == 1 && !errors.Is(err, ErrNoReply) {
				errs <- err
			}
			// Each unanswered call ends at its own deadline, not at a
			// later call's: one timer serves them all.
			if took := time.Since(start); i%2 == 1 && (took < 200*time.Millisecond || took > 2*time.Second) {
				errs <- fmt.Errorf("call %d expired after %v, want about 200ms", i, took)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call: %v", err)
	}
	wantNothingPending(t, p.ch, "at the end")
}

func TestShorterCallTimeoutAppliesToLaterCallsFirst(t *testing.T) {
	leaktest.Check(t)
	cli, p := expiryPair(t, 2*time.Second)
	long := callUnanswered(t, p)
	// The long call is listed: now shorten the timeout.
	l := cli.Limits()
	l.CallTimeout = 100 * time.Millisecond
	if err := cli.SetLimits(l); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := p.Call(context.Background(), "svc/noreturn", 2)
	if took := time.Since(start); !errors.Is(err, ErrNoReply) || took > time.Second {
		t.Fatalf("short call: %v after %v, want ErrNoReply after about 100ms", err, took)
	}
	select {
	case err := <-long:
		t.Fatalf("the 2s call ended first: %v", err)
	default:
	}
	if err := <-long; !errors.Is(err, ErrNoReply) {
		t.Fatalf("long call: %v, want ErrNoReply", err)
	}
}

func TestPendingCallsLeaveTheExpiryListWhenTheChannelCloses(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	done := callUnanswered(t, p)
	p.ch.mu.Lock()
	node := p.ch.expiry.head
	p.ch.mu.Unlock()
	p.Close()
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	wantNothingPending(t, p.ch, "after close")
	p.ch.mu.Lock()
	defer p.ch.mu.Unlock()
	if node.listed || node.prev != nil || node.next != nil || p.ch.expiry.timer != nil {
		t.Errorf("after close: the call still linked (listed %v) or the timer kept (%v)", node.listed, p.ch.expiry.timer != nil)
	}
}

// Under RsvpPerl a call is also in the kernel-wide table (any channel may
// answer it): expiry forgets it there too.
func TestExpiryForgetsACallKernelWideUnderRsvpPerl(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPairWith(t, 150*time.Millisecond, RsvpPerl)
	if _, err := p.Call(context.Background(), "svc/noreturn", 1); !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	wantNothingPending(t, p.ch, "after expiry")
	if v, err := p.Call(context.Background(), "svc/echo", 7); err != nil || v != perlcompat.Int(7) {
		t.Errorf("a call after the expiry: %v, %v", v, err)
	}
}

// A call with no deadline of its own that cannot even be sent (the peer
// reads nothing and the send queue is full) still ends after
// CallTimeout, with ErrNoReply, and leaves nothing behind.
func TestACallThatCannotBeSentExpiresToo(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Srv")
	cfg.SendQueue = 2
	cfg.CallTimeout = 300 * time.Millisecond
	srv, addr := newKernel(t, cfg)
	p := dialRaw(t, addr, "Raw-1") // never reads from here on
	waitRegistered(srv, "Raw-1")
	big := strings.Repeat("x", 256<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var err error
	for i := 0; i < 200 && err == nil; i++ { // fill the socket buffers, then the queue
		err = srv.Post(ctx, "Raw-1/svc/x", big)
	}
	if err != context.DeadlineExceeded {
		t.Fatalf("filling the queue: %v, want the blocked post's deadline", err)
	}
	start := time.Now()
	_, err = srv.Call(context.Background(), "Raw-1/svc/y", 1)
	if took := time.Since(start); !errors.Is(err, ErrNoReply) || took > 3*time.Second {
		t.Fatalf("call: %v after %v, want ErrNoReply after about 300ms", err, took)
	}
	wantNothingPending(t, srv.lookup("Raw-1"), "after the unsent call")
	p.nc.Close()
}

// Under RsvpPerl a call answered by a remote error leaves the
// kernel-wide table too.
func TestARemoteErrorForgetsTheCallKernelWideUnderRsvpPerl(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPairWith(t, time.Minute, RsvpPerl)
	for i := 0; i < 3; i++ {
		var re *RemoteError
		if _, err := p.Call(context.Background(), "svc/nope", i); !errors.As(err, &re) {
			t.Fatalf("call %d: %v, want a remote error", i, err)
		}
	}
	wantNothingPending(t, p.ch, "after remote errors")
}

// A local call to a handler that returns undef gets no reply, as from a
// Perl kernel: without a deadline in ctx it ends after CallTimeout.
func TestALocalCallAnsweredWithUndefEndsAfterCallTimeout(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Solo")
	cfg.CallTimeout = 150 * time.Millisecond
	k, _ := newKernel(t, cfg)
	k.HandleFunc("svc/noreturn", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	start := time.Now()
	_, err := k.Call(context.Background(), "poe://Solo/svc/noreturn", 1)
	if took := time.Since(start); !errors.Is(err, ErrNoReply) || took < 150*time.Millisecond || took > 3*time.Second {
		t.Fatalf("local call: %v after %v, want ErrNoReply after about 150ms", err, took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := k.Call(ctx, "poe://Solo/svc/noreturn", 1); err != context.Canceled {
		t.Fatalf("cancelled local call: %v, want context.Canceled", err)
	}
}
