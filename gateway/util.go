package gateway

import (
	"context"
	"time"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// defaultStorable is the freezer every Perl peer has.
func defaultStorable() perlcompat.Freezer {
	return &storable.Freezer{Decoder: storable.Decoder{Limits: storable.DefaultLimits()}}
}

// doneCtx is a context that is cancelled when done closes.
func doneCtx(done <-chan struct{}) context.Context { return closedCtx{done} }

type closedCtx struct{ done <-chan struct{} }

func (c closedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c closedCtx) Done() <-chan struct{}       { return c.done }
func (c closedCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
func (c closedCtx) Value(any) any { return nil }
