package gateway

import (
	"net"
	"time"
)

// Observer is told what the kernel does, for metrics and audit logs. Its
// methods run on the kernel's goroutines, often once per frame: they must
// be quick and must not block. Embed NopObserver to implement only some.
type Observer interface {
	// ChannelOpened: a channel negotiated and registered.
	ChannelOpened(c ChannelInfo)
	// ChannelClosed: a channel closed; err is nil for a clean close.
	ChannelClosed(c ChannelInfo, err error)
	// NegotiationFailed: a connection was closed before it became a
	// channel (negotiation error, refused peer or kernel name).
	NegotiationFailed(peer net.Addr, err error)
	// FrameReceived and FrameSent count frames and their payload bytes.
	FrameReceived(c *ChannelInfo, bytes int)
	FrameSent(c *ChannelInfo, bytes int)
	// RequestServed: a request for a published state was handled (or
	// refused: err says why), just before its answer is sent; took is
	// the time since its handling began: when the reader had decoded it,
	// or, for one that arrived in a burst behind another the reader
	// handled, when that one was done (so its decoding counts); for a
	// request queued to the worker, when the worker took it. call is
	// true when a reply was asked for.
	RequestServed(c *ChannelInfo, session, state string, call bool, took time.Duration, err error)
	// CallFinished: a call this kernel made got its reply or failed.
	CallFinished(target string, took time.Duration, err error)
}

// ChannelInfo describes a channel to an Observer.
type ChannelInfo struct {
	RemoteID string
	Names    []string
	Peer     net.Addr
	Dialogue string // "IKC0" or "IKC"
	Freezer  string
	Server   bool // accepted by this kernel (false: dialled)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) ChannelOpened(ChannelInfo)                                              {}
func (NopObserver) ChannelClosed(ChannelInfo, error)                                       {}
func (NopObserver) NegotiationFailed(net.Addr, error)                                      {}
func (NopObserver) FrameReceived(*ChannelInfo, int)                                        {}
func (NopObserver) FrameSent(*ChannelInfo, int)                                            {}
func (NopObserver) RequestServed(*ChannelInfo, string, string, bool, time.Duration, error) {}
func (NopObserver) CallFinished(string, time.Duration, error)                              {}
