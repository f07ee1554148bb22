package gateway

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// RsvpPolicy says which peers may deliver the reply to a call this kernel
// made.
type RsvpPolicy int

const (
	// RsvpStrict, the default, ties each reply permission to the channel
	// the call went out on and to that one call: a second reply, or a
	// reply from another peer, is refused as unpublished.
	RsvpStrict RsvpPolicy = iota
	// RsvpPerl is Perl's rule: a permission is a counter per
	// session/state, consumed by whichever peer replies first.
	RsvpPerl
)

// QueueFullPolicy says what a send does when a channel's send queue is
// full (a peer that reads slower than we write).
type QueueFullPolicy int

const (
	// QueueBlock, the default, makes the sender wait for room, bounded by
	// its context (a call's by CallTimeout when its context has no
	// deadline): back-pressure instead of memory.
	QueueBlock QueueFullPolicy = iota
	// QueueDisconnect closes the channel: a peer that cannot keep up is
	// dropped rather than slowing every sender down.
	QueueDisconnect
)

func (p QueueFullPolicy) String() string {
	switch p {
	case QueueBlock:
		return "block"
	case QueueDisconnect:
		return "disconnect"
	}
	return "QueueFullPolicy(" + fmt.Sprint(int(p)) + ")"
}

// Config configures a Kernel. Start from DefaultConfig.
type Config struct {
	// Name is the kernel name announced after the kernel ID (Perl's
	// "name" option). Replies and subscriptions find this kernel by it.
	Name string
	// Aliases are further names announced after Name.
	Aliases []string

	// Freezers are the serializers this kernel accepts (as a server) and
	// offers (as a client), in order of preference. Perl peers always have
	// Storable, which is why it is the default. Names are matched
	// exactly: nothing is ever loaded by name.
	Freezers []perlcompat.Freezer

	// LegacyOnly makes accepted channels start in the legacy "IKC"
	// dialogue (Perl's protocol => 'IKC'); dialled channels send HELLO
	// instead of SETUP.
	LegacyOnly bool
	// OmitPID leaves ";PID=" out of the server's SETUP reply, for IKC
	// 0.2300-0.2302 clients that refuse unknown fields.
	OmitPID bool
	// Negotiation bounds each negotiation (lines, names, freezers, time).
	Negotiation protocol.Limits

	// MaxFrameSize bounds one received frame's payload.
	MaxFrameSize int
	// SendQueue is the number of frames a channel may hold waiting for
	// its peer; the queue takes memory only while frames wait.
	SendQueue int
	// QueueFull says what happens when SendQueue is full.
	QueueFull QueueFullPolicy
	// WorkQueue is the number of received requests a channel may hold
	// waiting for its handlers; when full, reading from the peer pauses.
	WorkQueue int
	// MaxConnections bounds the open channels, counting accepted
	// connections still negotiating (0: no bound); further
	// connections are closed before negotiation.
	MaxConnections int

	// CallTimeout bounds a Call whose context has no deadline, from the
	// start of its send to its reply. Perl never answers a call whose
	// handler returns undef, so every call needs one.
	CallTimeout time.Duration
	// Rsvp says who may deliver replies to our calls.
	Rsvp RsvpPolicy

	// Logger receives one line per channel opened or closed and every
	// error a peer causes. Nil means hclog's default logger.
	Logger hclog.Logger
	// Observer is told about channels, frames, requests and calls, for
	// metrics. Nil means none.
	Observer Observer

	// AllowPeer, when set, is asked about every accepted connection
	// before a byte is read; false closes it at once (a Perl client that
	// has sent nothing is not harmed by that).
	AllowPeer func(addr net.Addr) bool
	// AllowKernel, when set, is asked about the names a peer announced
	// once negotiation has finished, before any request is read; false
	// closes the channel. Refusing earlier, mid-negotiation, would kill
	// a Perl IKC 0.2400-0.2402 peer (PROTOCOL.md section 2.6); a close
	// after the last negotiation line is an ordinary disconnect to it.
	AllowKernel func(names []string) bool

	// Hostname and PID make the kernel ID (<host>-<epoch>-<pid>-<seq>)
	// and the announced PID. Zero values mean the real ones.
	Hostname string
	PID      int
}

// Defaults.
const (
	DefaultName         = "ikcgate"
	DefaultMaxFrameSize = protocol.DefaultMaxFrameSize
	DefaultSendQueue    = 256
	DefaultWorkQueue    = 64
	DefaultCallTimeout  = 60 * time.Second
)

// DefaultConfig returns a configuration that accepts and offers Storable,
// answers both dialogues and uses the defaults above.
func DefaultConfig() Config {
	return Config{
		Name:         DefaultName,
		Freezers:     []perlcompat.Freezer{defaultStorable()},
		Negotiation:  protocol.DefaultLimits(),
		MaxFrameSize: DefaultMaxFrameSize,
		SendQueue:    DefaultSendQueue,
		WorkQueue:    DefaultWorkQueue,
		CallTimeout:  DefaultCallTimeout,
	}
}

// ErrInvalidConfig wraps every configuration error.
var ErrInvalidConfig = errors.New("gateway: invalid config")

// Validate reports the first field that cannot work, by name.
func (c Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	if err := validName(c.Name); err != nil {
		return bad("Name", err.Error())
	}
	for i, a := range c.Aliases {
		if err := validName(a); err != nil {
			return bad(fmt.Sprintf("Aliases[%d]", i), err.Error())
		}
	}
	if len(c.Freezers) == 0 {
		return bad("Freezers", "is empty: Perl peers need at least Storable")
	}
	seen := map[string]bool{}
	for i, f := range c.Freezers {
		if f == nil {
			return bad(fmt.Sprintf("Freezers[%d]", i), "is nil")
		}
		if seen[f.Name()] {
			return bad(fmt.Sprintf("Freezers[%d]", i), fmt.Sprintf("repeats %q", f.Name()))
		}
		seen[f.Name()] = true
	}
	if c.MaxFrameSize <= 0 {
		return bad("MaxFrameSize", "must be positive")
	}
	if c.SendQueue <= 0 {
		return bad("SendQueue", "must be positive")
	}
	if c.WorkQueue <= 0 {
		return bad("WorkQueue", "must be positive")
	}
	if c.MaxConnections < 0 {
		return bad("MaxConnections", "must not be negative")
	}
	if c.CallTimeout <= 0 {
		return bad("CallTimeout", "must be positive: Perl never answers a call whose handler returns undef")
	}
	if c.QueueFull != QueueBlock && c.QueueFull != QueueDisconnect {
		return bad("QueueFull", "is not a QueueFullPolicy")
	}
	if c.Rsvp != RsvpStrict && c.Rsvp != RsvpPerl {
		return bad("Rsvp", "is not an RsvpPolicy")
	}
	return nil
}

// validName refuses names Perl would mangle or that would break the SETUP
// line: the separators ",", ";", "=" and line ends, and Perl-false names.
func validName(s string) error {
	if s == "" || s == "0" {
		return errors.New("must not be empty or \"0\" (Perl finds it false)")
	}
	if strings.ContainsAny(s, ",;=\r\n\x00 ") {
		return fmt.Errorf("%q holds a character SETUP uses as a separator", s)
	}
	return nil
}

func (c *Config) hostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h // POE uses Sys::Hostname, the same node name
}

func (c *Config) pid() int {
	if c.PID != 0 {
		return c.PID
	}
	return processID
}

// processID is os.Getpid(), which is a system call each time: one per
// connection otherwise.
var processID = os.Getpid()

func (c *Config) freezerNames() []string {
	n := make([]string, len(c.Freezers))
	for i, f := range c.Freezers {
		n[i] = f.Name()
	}
	return n
}

func (c *Config) freezer(name string) perlcompat.Freezer {
	for _, f := range c.Freezers {
		if f.Name() == name {
			return f
		}
	}
	return nil
}
