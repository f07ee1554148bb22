package gateway

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// recvCall waits for one settled call on done.
func recvCall(t *testing.T, done <-chan *AsyncCall) *AsyncCall {
	t.Helper()
	select {
	case c := <-done:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call settled within 5s")
		return nil
	}
}

func TestGoKeepsManyCallsInFlightFromOneGoroutine(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 5*time.Second)
	const n = 200
	done := make(chan *AsyncCall, n)
	sent := make(map[*AsyncCall]int64, n)
	for i := int64(0); i < n; i++ {
		sent[p.Go(context.Background(), "svc/echo", i, done)] = i
	}
	for range n {
		c := recvCall(t, done)
		want, ok := sent[c]
		if !ok {
			t.Fatal("a call settled twice, or one never sent")
		}
		delete(sent, c)
		if c.Err != nil {
			t.Fatalf("call %d: %v", want, c.Err)
		}
		if got, err := perlcompat.AsInt(c.Reply); err != nil || got != want {
			t.Errorf("call %d answered %v (%v)", want, c.Reply, err)
		}
		if c.To.State != "echo" || c.To.Session != "svc" {
			t.Errorf("To = %v", c.To)
		}
	}
	wantNothingPending(t, p.ch, "after every answer")
}

func TestGoDeliversRemoteErrorsAndBadDestinations(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 5*time.Second)
	c := recvCall(t, p.Go(context.Background(), "svc/nothere", 1, nil).Done)
	var re *RemoteError
	if !errors.As(c.Err, &re) {
		t.Errorf("unpublished state: err = %v, want a *RemoteError", c.Err)
	}
	c = recvCall(t, p.Go(context.Background(), "no-state", 1, nil).Done)
	if c.Err == nil {
		t.Error("a destination without a state: no error")
	}
	c = recvCall(t, p.ch.k.Go(context.Background(), "poe://*/svc/echo", 1, nil).Done)
	if c.Err == nil {
		t.Error(`kernel "*": no error`)
	}
	c = recvCall(t, p.ch.k.Go(context.Background(), "poe://Nobody/svc/echo", 1, nil).Done)
	if !errors.Is(c.Err, ErrUnknownKernel) {
		t.Errorf("unknown kernel: err = %v", c.Err)
	}
	wantNothingPending(t, p.ch, "after the errors")
}

func TestGoCallsEndWithTheirContext(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	done := make(chan *AsyncCall, 2)

	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	start := time.Now()
	p.Go(dctx, "svc/noreturn", 1, done)
	c := recvCall(t, done)
	if !errors.Is(c.Err, ErrNoReply) {
		t.Errorf("at its deadline: err = %v, want ErrNoReply", c.Err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 3*time.Second {
		t.Errorf("ended after %v, want about 100ms", took)
	}

	cctx, ccancel := context.WithCancel(context.Background())
	p.Go(cctx, "svc/noreturn", 1, done)
	for deadline := time.Now().Add(2 * time.Second); ; {
		if table, _ := pendingCount(p.ch); table == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was never pending")
		}
		time.Sleep(time.Millisecond)
	}
	ccancel()
	if c := recvCall(t, done); !errors.Is(c.Err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", c.Err)
	}
	wantNothingPending(t, p.ch, "after both ended")
}

func TestGoCallsWithoutDeadlineExpireAfterCallTimeout(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 150*time.Millisecond)
	start := time.Now()
	c := recvCall(t, p.Go(context.Background(), "svc/noreturn", 1, nil).Done)
	if !errors.Is(c.Err, ErrNoReply) {
		t.Errorf("err = %v, want ErrNoReply", c.Err)
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 3*time.Second {
		t.Errorf("expired after %v, want about 150ms", took)
	}
	wantNothingPending(t, p.ch, "after expiry")
}

func TestGoCallsFailWhenTheChannelCloses(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	done := make(chan *AsyncCall, 3)
	for range 3 {
		p.Go(context.Background(), "svc/noreturn", 1, done)
	}
	p.Close()
	for range 3 {
		if c := recvCall(t, done); !errors.Is(c.Err, ErrDisconnected) {
			t.Errorf("err = %v, want ErrDisconnected", c.Err)
		}
	}
	// A call on the closed channel settles at once, with the same error.
	if c := recvCall(t, p.Go(context.Background(), "svc/echo", 1, nil).Done); !errors.Is(c.Err, ErrDisconnected) {
		t.Errorf("after close: err = %v, want ErrDisconnected", c.Err)
	}
}

func TestGoWithAFullDoneLosesNoAnswerAndLeavesNoGoroutine(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, 5*time.Second)
	const n = 20
	done := make(chan *AsyncCall, 1) // room for one: the rest wait
	for i := range n {
		p.Go(context.Background(), "svc/echo", i, done)
	}
	// Let every answer arrive before reading any: the reader must not
	// wait for done meanwhile, so a later call still gets through.
	if v, err := p.Call(context.Background(), "svc/echo", "after"); err != nil || v != perlcompat.Text("after") {
		t.Fatalf("a Call behind %d undelivered answers: %v, %v", n, v, err)
	}
	seen := map[int64]bool{}
	for range n {
		c := recvCall(t, done)
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		i, _ := perlcompat.AsInt(c.Reply)
		seen[i] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct answers, want %d", len(seen), n)
	}
}

func TestShutdownWaitsForAnswersStuckOnAFullDone(t *testing.T) {
	leaktest.Check(t)
	cli, p := expiryPair(t, 5*time.Second)
	const n = 20
	done := make(chan *AsyncCall, 1)
	for i := range n {
		p.Go(context.Background(), "svc/echo", i, done)
	}
	if _, err := p.Call(context.Background(), "svc/echo", "after"); err != nil {
		t.Fatal(err)
	}
	if got := waitingAnswers(); got != n-1 {
		t.Fatalf("%d answers wait for room in done, want %d", got, n-1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cli.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c := recvCall(t, done); c.Err != nil {
		t.Errorf("the answer done had room for: %v", c.Err)
	}
	// Shutdown waited for the others: each has delivered or dropped its
	// answer, so none comes now that done has room.
	time.Sleep(50 * time.Millisecond)
	select {
	case c := <-done:
		t.Errorf("an answer was delivered after Shutdown returned: %v, %v", c.Reply, c.Err)
	default:
	}
	// Their goroutines are past wg.Done, returning.
	for deadline := time.Now().Add(5 * time.Second); waitingAnswers() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still wait to deliver answers after Shutdown", waitingAnswers())
		}
	}
	// Past Shutdown, a call settles at once and starts no goroutine.
	done <- &AsyncCall{}
	if c := p.Go(context.Background(), "svc/echo", 1, done); c.Err == nil {
		t.Error("a Go after Shutdown did not fail")
	}
	if got := waitingAnswers(); got != 0 {
		t.Errorf("a Go after Shutdown left %d goroutines", got)
	}
}

// waitingAnswers counts the goroutines AsyncCall.settle started to wait
// for room in a full Done.
func waitingAnswers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "(*AsyncCall).settle.func1")
}

func TestGoToThisKernelRunsTheHandler(t *testing.T) {
	leaktest.Check(t)
	k, _ := newKernel(t, testConfig(t, "Self"))
	k.HandleFunc("svc/double", func(_ context.Context, r *Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		return perlcompat.Int(2 * n), err
	})
	c := recvCall(t, k.Go(context.Background(), "poe://Self/svc/double", 21, nil).Done)
	if got, _ := perlcompat.AsInt(c.Reply); c.Err != nil || got != 42 {
		t.Errorf("local Go = %v, %v; want 42", c.Reply, c.Err)
	}
}

func TestGoRefusesAnUnbufferedDone(t *testing.T) {
	k, _ := newKernel(t, testConfig(t, "Self"))
	defer func() {
		if recover() == nil {
			t.Error("an unbuffered done did not panic")
		}
	}()
	k.Go(context.Background(), "poe://Self/svc/x", 1, make(chan *AsyncCall))
}

func TestALocalGoAnsweredWithUndefEndsWhenShutdownBegins(t *testing.T) {
	leaktest.Check(t)
	cfg := testConfig(t, "Self")
	cfg.CallTimeout = time.Minute
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.HandleFunc("svc/undef", func(context.Context, *Request) (perlcompat.Value, error) { return nil, nil })
	c := k.Go(context.Background(), "poe://Self/svc/undef", 1, nil)
	time.Sleep(20 * time.Millisecond) // the handler has returned undef; the call waits
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := k.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v behind a local Go answered with undef", took)
	}
	if got := recvCall(t, c.Done); !errors.Is(got.Err, ErrShutdown) {
		t.Errorf("err = %v, want ErrShutdown", got.Err)
	}
}

func TestAnAnsweredGoCallKeepsNothingOfWhatItSent(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	big := perlcompat.Bytes(make([]byte, 1<<20))
	ok := recvCall(t, p.Go(ctx, "svc/echo", big, nil).Done)
	if ok.Err != nil {
		t.Fatal(ok.Err)
	}
	if ok.g.msg.Params != nil {
		t.Error("an answered call still holds the params it sent")
	}
	closed, cancelClosed := context.WithCancel(ctx)
	cancelClosed()
	failed := recvCall(t, p.Go(closed, "svc/echo", big, nil).Done)
	if failed.Err == nil {
		t.Fatal("a call under a cancelled context succeeded")
	}
	if failed.g.msg.Params != nil {
		t.Error("a failed call still holds the params it sent")
	}
	p.Close()
	<-p.Done()
	unsent := recvCall(t, p.Go(ctx, "svc/echo", big, nil).Done)
	if !errors.Is(unsent.Err, ErrDisconnected) {
		t.Fatalf("a call on a closed channel: %v", unsent.Err)
	}
	if unsent.g.msg.Params != nil {
		t.Error("a call that was never sent still holds its params")
	}
}
