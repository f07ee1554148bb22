package gateway

import (
	"fmt"
	"time"

	"github.com/ikcgate/ikcgate/protocol"
)

// Limits are the limits a running kernel can change (SetLimits), so that
// an operator can tighten or loosen them without dropping a connection.
// Queue sizes (Config.SendQueue, Config.WorkQueue) are fixed per channel
// when it opens.
type Limits struct {
	// MaxConnections applies to connections accepted from now on.
	MaxConnections int
	// Negotiation applies to negotiations started from now on.
	Negotiation protocol.Limits
	// MaxFrameSize applies to frames sent from now on and to frames
	// received on channels opened from now on.
	MaxFrameSize int
	// CallTimeout applies to calls made from now on.
	CallTimeout time.Duration
	// QueueFull applies to the next full send queue.
	QueueFull QueueFullPolicy
}

func (k *Kernel) limits() *Limits { return k.lim.Load() }

// Limits returns the limits in force.
func (k *Kernel) Limits() Limits { return *k.limits() }

// SetLimits changes the kernel's limits while it runs; see Limits for
// when each one takes effect. Invalid limits are refused, naming the field.
func (k *Kernel) SetLimits(l Limits) error {
	c := k.cfg
	c.MaxConnections, c.Negotiation, c.MaxFrameSize, c.CallTimeout, c.QueueFull = l.MaxConnections, l.Negotiation, l.MaxFrameSize, l.CallTimeout, l.QueueFull
	if err := c.Validate(); err != nil {
		return fmt.Errorf("gateway: SetLimits: %w", err)
	}
	k.lim.Store(&l)
	k.log.Info("limits changed", "max_connections", l.MaxConnections, "max_frame_size", l.MaxFrameSize, "call_timeout", l.CallTimeout, "negotiation_timeout", l.Negotiation.Timeout, "queue_full", l.QueueFull)
	return nil
}
