package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// DemoHandlerName is the handler name of the demo session, built into
// every daemon (the embedded default config routes "demo/*" to it).
const DemoHandlerName = "demo"

// MaxDemoSleep bounds demo/sleep.
const MaxDemoSleep = 10 * time.Minute

// Demo is the demo session, a handler for "demo/*":
//
//	echo    ARG0 unchanged; in list context (ClientLite's wantarray) the
//	        elements of an array ARG0 as the list, otherwise (ARG0)
//	time    the epoch seconds, an integer
//	sleep   ARG0 back after ARG0 milliseconds (at most MaxDemoSleep);
//	        given up when the channel closes or the kernel stops for good
//	count   (post) adds ARG0, an integer, to a counter
//	total   the counter
//	fail    an error (a remote_error to the caller) whose text holds ARG0
//	whoami  {kernel => the caller's kernel ID, freezer => the negotiated
//	        freezer, dialogue => "IKC0" or "IKC"}
//	respond (post) ClientLite's post_respond: ARG0 is [value, rsvp], and
//	        value is posted back to rsvp, unchanged
//
// Every other state is refused as unpublished, in Perl's words.
type Demo struct {
	counter atomic.Int64
}

// NewDemo returns a demo session with its counter at zero.
func NewDemo() *Demo { return &Demo{} }

// DemoHandlers returns the demo session registered under DemoHandlerName,
// for Options.Handlers.
func DemoHandlers() map[string]gateway.Handler {
	return map[string]gateway.Handler{DemoHandlerName: NewDemo()}
}

// Total returns the counter.
func (d *Demo) Total() int64 { return d.counter.Load() }

// ServeIKC serves one demo state.
func (d *Demo) ServeIKC(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
	switch r.State {
	case "echo":
		v := r.Arg(0)
		if r.WantArray == protocol.WantList {
			if a, ok := v.(*perlcompat.Array); ok {
				return perlcompat.NewArray(a.Elems...), nil
			}
			return perlcompat.NewArray(v), nil
		}
		return v, nil
	case "time":
		return perlcompat.Int(time.Now().Unix()), nil
	case "sleep":
		ms, err := perlcompat.AsInt(r.Arg(0))
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("demo/sleep: ARG0 must be a number of milliseconds, not %s", show(r.Arg(0)))
		}
		wait := time.Duration(ms) * time.Millisecond
		if ms > int64(MaxDemoSleep/time.Millisecond) {
			return nil, fmt.Errorf("demo/sleep: %dms is longer than %s", ms, MaxDemoSleep)
		}
		gateway.WillBlock(ctx) // the channel goes on being read meanwhile
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
			return r.Arg(0), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "count":
		n, err := perlcompat.AsInt(r.Arg(0))
		if err != nil {
			return nil, fmt.Errorf("demo/count: ARG0 must be an integer, not %s", show(r.Arg(0)))
		}
		d.counter.Add(n)
		return nil, nil
	case "total":
		return perlcompat.Int(d.counter.Load()), nil
	case "fail":
		s, _ := perlcompat.StringOf(r.Arg(0))
		return nil, errors.New("demo/fail: " + s)
	case "respond":
		a, ok := r.Arg(0).(*perlcompat.Array)
		if !ok || len(a.Elems) != 2 {
			return nil, fmt.Errorf("demo/respond: ARG0 must be [value, rsvp] (ClientLite's post_respond), not %s", show(r.Arg(0)))
		}
		return nil, r.PostTo(ctx, a.Elems[1], a.Elems[0])
	case "whoami":
		h := perlcompat.NewHash()
		h.Set("kernel", perlcompat.Text(r.Kernel))
		h.Set("freezer", perlcompat.Text(r.Freezer))
		dl := ""
		if r.Dialogue != 0 {
			dl = r.Dialogue.String()
		}
		h.Set("dialogue", perlcompat.Text(dl))
		return h, nil
	}
	return nil, fmt.Errorf("Session '%s' has not published state '%s'", r.Session, r.State)
}

func show(v perlcompat.Value) string {
	s, ok := perlcompat.StringOf(v)
	if !ok {
		return "a reference"
	}
	if perlcompat.IsUndef(v) {
		return "undef"
	}
	return fmt.Sprintf("%q", s)
}
