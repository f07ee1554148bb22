package gateway

import "sync/atomic"

// MonitorKind is what a monitor is told about, in IKC's words.
type MonitorKind int

const (
	MonitorRegister    MonitorKind = iota + 1 // a remote kernel registered (channel negotiated)
	MonitorUnregister                         // a remote kernel went away
	MonitorSubscribe                          // a remote kernel subscribed to one of our sessions
	MonitorUnsubscribe                        // a subscription ended
	MonitorChannel                            // a channel became "ready" or "close"d
	MonitorShutdown                           // this kernel is shutting down
	MonitorError                              // an error: Operation and Message say which
)

func (m MonitorKind) String() string {
	switch m {
	case MonitorRegister:
		return "register"
	case MonitorUnregister:
		return "unregister"
	case MonitorSubscribe:
		return "subscribe"
	case MonitorUnsubscribe:
		return "unsubscribe"
	case MonitorChannel:
		return "channel"
	case MonitorShutdown:
		return "shutdown"
	case MonitorError:
		return "error"
	}
	return "unknown"
}

// MonitorEvent is one thing that happened to a remote kernel, as Perl's
// IKC/monitor callbacks report it.
type MonitorEvent struct {
	Kind MonitorKind
	// RemoteID is the remote kernel's ID; Names every name it is
	// registered under here (ID first).
	RemoteID string
	Names    []string
	// PID is the PID the peer announced (register; IKC0 only).
	PID    int
	HasPID bool
	// Freezer and Dialogue are what the channel negotiated (register).
	Freezer  string
	Dialogue string
	// ChannelState is "ready" or "close" (channel).
	ChannelState string
	// Session is the subscribed session (subscribe, unsubscribe).
	Session string
	// Operation and Message describe an error: "channel-read",
	// "remote-check", "local-invocation", "subscribe", ...
	Operation, Message string
}

type monitor struct {
	name string
	fn   func(MonitorEvent)
}

// Monitor calls fn for every event about the remote kernel name (its ID or
// any of its names), or about every kernel when name is "*". Like Perl's
// IKC/monitor it is local: nothing goes over the wire. fn runs on the
// goroutine that saw the event and must not block; use MonitorChan to
// receive events on a channel instead. The returned function stops it.
func (k *Kernel) Monitor(name string, fn func(MonitorEvent)) (stop func()) {
	m := &monitor{name: name, fn: fn}
	k.mu.Lock()
	k.monitors[m] = struct{}{}
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		delete(k.monitors, m)
		k.mu.Unlock()
	}
}

// MonitorChan is Monitor delivering to a buffered channel of size buf.
// When the buffer is full an event is dropped rather than stalling the
// kernel; dropped counts them.
func (k *Kernel) MonitorChan(name string, buf int) (events <-chan MonitorEvent, dropped func() int, stop func()) {
	c := make(chan MonitorEvent, buf)
	var n atomic.Int64
	stop = k.Monitor(name, func(e MonitorEvent) {
		select {
		case c <- e:
		default:
			n.Add(1)
		}
	})
	return c, func() int { return int(n.Load()) }, stop
}

func (k *Kernel) inform(e MonitorEvent) {
	k.mu.Lock()
	if len(k.monitors) == 0 {
		k.mu.Unlock()
		return
	}
	var few [4]func(MonitorEvent)
	fns := few[:0]
	for m := range k.monitors {
		if m.name == "*" || m.name == e.RemoteID || contains(e.Names, m.name) || (e.Kind == MonitorShutdown) {
			fns = append(fns, m.fn)
		}
	}
	k.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
