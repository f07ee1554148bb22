package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
)

// groupOf reports the channel's context group: the context it watches
// (nil without one) and how many calls are in it.
func groupOf(ch *channel) (context.Context, int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	g := ch.group
	if g == nil {
		return nil, 0
	}
	n := 0
	for p := g.head; p != nil; p = p.gnext {
		n++
	}
	return g.ctx, n
}

// wantEnded receives n settled calls from done, each failed with want.
func wantEnded(t *testing.T, done <-chan *AsyncCall, n int, want error) {
	t.Helper()
	for range n {
		if c := recvCall(t, done); !errors.Is(c.Err, want) {
			t.Errorf("err = %v, want %v", c.Err, want)
		}
	}
}

// goNoReturn sends n calls that get no answer, under ctx, and waits
// until ch tracks pending of them in all.
func goNoReturn(t *testing.T, p *Peer, ctx context.Context, n int, done chan *AsyncCall, pending int) {
	t.Helper()
	for range n {
		p.Go(ctx, "svc/noreturn", 1, done)
	}
	waitPending(t, p.ch, pending)
}

// wantGroup fails the test unless ch's group watches ctx with n calls
// (nil ctx: no group).
func wantGroup(t *testing.T, ch *channel, ctx context.Context, n int) {
	t.Helper()
	if gctx, got := groupOf(ch); gctx != ctx || got != n {
		t.Fatalf("group watches %v with %d calls; want %v with %d", gctx, got, ctx, n)
	}
}

// waitPending waits until ch tracks n calls.
func waitPending(t *testing.T, ch *channel, n int) {
	t.Helper()
	waitFor(t, "the calls pending", func() bool { table, _ := pendingCount(ch); return table == n })
}

func TestGoCallsUnderOneContextAreWatchedTogetherAndAllEndWithIt(t *testing.T) {
	t.Run("strict", func(t *testing.T) { testGoCallsUnderOneContext(t, RsvpStrict) })
	t.Run("perl", func(t *testing.T) { testGoCallsUnderOneContext(t, RsvpPerl) })
}

func testGoCallsUnderOneContext(t *testing.T, rsvp RsvpPolicy) {
	leaktest.Check(t)
	_, p := expiryPairWith(t, time.Minute, rsvp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *AsyncCall, 20)
	goNoReturn(t, p, ctx, 20, done, 20)
	wantGroup(t, p.ch, ctx, 20)
	cancel()
	wantEnded(t, done, 20, context.Canceled)
	wantNothingPending(t, p.ch, "after the context ended")
	wantGroup(t, p.ch, nil, 0) // the fired group is gone
}

func TestGoCallsUnderOneContextEndAtItsDeadlineWithErrNoReply(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan *AsyncCall, 5)
	for range 5 {
		p.Go(ctx, "svc/noreturn", 1, done)
	}
	wantEnded(t, done, 5, ErrNoReply)
	wantNothingPending(t, p.ch, "after the deadline")
}

func TestAGoCallUnderAnotherContextIsWatchedOnItsOwn(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	a, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	b, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	doneA, doneB := make(chan *AsyncCall, 3), make(chan *AsyncCall, 1)
	goNoReturn(t, p, a, 3, doneA, 3)
	goNoReturn(t, p, b, 1, doneB, 4)
	wantGroup(t, p.ch, a, 3)
	cancelB()
	wantEnded(t, doneB, 1, context.Canceled)
	if table, _ := pendingCount(p.ch); table != 3 {
		t.Fatalf("%d calls pending after b ended; want a's 3", table)
	}
	cancelA()
	wantEnded(t, doneA, 3, context.Canceled)
	wantNothingPending(t, p.ch, "after both ended")
}

func TestAGroupEndsWithItsLastCallAndTheNextContextTakesOver(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	a, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	done := make(chan *AsyncCall, 10)
	for range 10 {
		p.Go(a, "svc/echo", 1, done)
	}
	for range 10 {
		if c := recvCall(t, done); c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	// Answered, the calls have left, and the group with them: a caller
	// that cancels its context now must not wake a watch.
	wantGroup(t, p.ch, nil, 0)
	b, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	goNoReturn(t, p, b, 1, done, 1)
	wantGroup(t, p.ch, b, 1)
	// a's end no longer concerns the channel; b's call stays pending.
	cancelA()
	time.Sleep(50 * time.Millisecond)
	if table, _ := pendingCount(p.ch); table != 1 {
		t.Fatalf("%d calls pending after a ended; want b's", table)
	}
	cancelB()
	wantEnded(t, done, 1, context.Canceled)
}

func TestAClosedChannelStopsWatchingItsGroupsContext(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *AsyncCall, 2)
	goNoReturn(t, p, ctx, 2, done, 2)
	p.Close()
	wantEnded(t, done, 2, ErrDisconnected)
	wantGroup(t, p.ch, nil, 0) // a closed channel keeps no group
}

func TestACallersContextEndingAfterTheAnswerWakesNoWatch(t *testing.T) {
	leaktest.Check(t)
	_, p := expiryPair(t, time.Minute)
	before := ctxGroupFires.Load()
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c := recvCall(t, p.Go(ctx, "svc/echo", i, nil).Done)
		cancel() // the usual defer cancel(), after the answer
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if fired := ctxGroupFires.Load() - before; fired != 0 {
		t.Errorf("%d watches woke for contexts whose calls were answered", fired)
	}
}
