package protocol

import (
	"errors"
	"fmt"
	"os"
	"slices"
)

// ClientConfig configures the connecting side of a channel.
type ClientConfig struct {
	// KernelID is our kernel ID, always announced first. (ClientLite
	// announces only its name: set KernelID to that name and leave Names
	// empty to look like it.)
	KernelID string
	// Names are announced after KernelID: kernel_name, aliases..., then
	// our own local address ("ip:port" of our socket, or UnixClientName).
	Names []string
	// Freezers are offered in this order; each must be one we can
	// instantiate. IKC0 needs at least one; Storable should come first.
	Freezers []string
	// PID is announced in our SETUP.
	PID int
	// LegacyOnly starts with HELLO (Perl's protocol=>'IKC'), which works
	// with every server version.
	LegacyOnly bool
	// Limits bound the negotiation; zero fields mean defaults.
	Limits Limits
}

// DefaultClientConfig returns a config offering Storable, with our PID.
// KernelID and Names must still be filled in.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Freezers: []string{DefaultFreezer},
		PID:      os.Getpid(),
		Limits:   DefaultLimits(),
	}
}

// Validate reports whether the config can be used.
func (c ClientConfig) Validate() error {
	if err := validateNames("ClientConfig", c.KernelID, c.Names); err != nil {
		return err
	}
	if len(c.Freezers) == 0 && !c.LegacyOnly {
		// Perl would send "FREEZER=", which every server refuses.
		return fmt.Errorf("%w: ClientConfig.Freezers is empty (IKC0 must offer one)", ErrInvalidConfig)
	}
	if err := validateFreezers("ClientConfig", c.Freezers); err != nil {
		return err
	}
	if c.PID < 0 {
		return fmt.Errorf("%w: ClientConfig.PID is negative", ErrInvalidConfig)
	}
	return validateLimits("ClientConfig", c.Limits)
}

type clientState int

const (
	stateCNew clientState = iota // Start not called yet
	stateC010                    // IKC0: SETUP sent
	stateC000                    // legacy: HELLO sent, recording IAM names
	stateC001                    // legacy: telling our names, one per OK
	stateC002                    // legacy: offering freezers
	stateC003                    // legacy: WORLD sent
	stateCDone
)

var clientStateNames = [...]string{"new", "C010", "C000", "C001", "C002", "C003", "done"}

// ErrNotStarted is returned by ClientNegotiator.Receive before Start.
var ErrNotStarted = errors.New("ikc: client negotiation not started")

// ClientNegotiator is the client side of the negotiation as a pure state
// machine, following Channel.pm's client_010, client_000, negociate_001,
// client_002 and client_003. It deliberately differs from Perl in one way:
// a SETUP reply naming a freezer we did not offer is answered NOT (Perl
// tries to load it and dies if it can't).
type ClientNegotiator struct {
	negotiator
	cfg     ClientConfig
	state   clientState
	queue   []string // names still to announce (legacy), popped from the end
	offers  []string // legacy: freezers not offered yet
	pending string   // legacy: the freezer offered last, "" if none
}

// NewClientNegotiator returns a negotiator; call Start to get the first line.
func NewClientNegotiator(cfg ClientConfig) (*ClientNegotiator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Names = slices.Clone(cfg.Names)
	cfg.Freezers = slices.Clone(cfg.Freezers)
	n := &ClientNegotiator{cfg: cfg}
	n.lim = cfg.Limits.withDefaults()
	return n, nil
}

// Start returns the lines that open the negotiation: our SETUP, or HELLO
// with LegacyOnly. Later calls return nil.
func (n *ClientNegotiator) Start() []string {
	if n.state != stateCNew {
		return nil
	}
	if n.cfg.LegacyOnly {
		n.state = stateC000
		return []string{"HELLO"}
	}
	n.state = stateC010
	names := append([]string{n.cfg.KernelID}, n.cfg.Names...)
	return []string{buildSetup(names, n.cfg.Freezers, n.cfg.PID, true)}
}

// Done reports whether the negotiation finished: the next byte from the
// server is the frame stream.
func (n *ClientNegotiator) Done() bool { return n.done }

// Result returns what was agreed. It is meaningful only once Done.
func (n *ClientNegotiator) Result() Result {
	r := n.res
	r.PeerNames = slices.Clone(r.PeerNames)
	return r
}

// State names the current state (new, C010, C000, C001, C002, C003 or done).
func (n *ClientNegotiator) State() string { return clientStateNames[n.state] }

// Receive handles one line from the server (without terminator) and
// returns the lines to send, in order. After an error the negotiator is
// dead and returns the same error.
func (n *ClientNegotiator) Receive(line string) (send []string, err error) {
	if n.state == stateCNew {
		return nil, ErrNotStarted
	}
	if err := n.admit(line); err != nil {
		return nil, err
	}
	switch n.state {
	case stateC010:
		return n.c010(line)
	case stateC000:
		return n.c000(line)
	case stateC001:
		return n.c001(line), nil
	case stateC002:
		return n.c002(line), nil
	case stateC003:
		return n.c003(line), nil
	}
	return nil, ErrNegotiationDone
}

func (n *ClientNegotiator) c010(line string) ([]string, error) {
	if line == "NOT" {
		// Refused (legacy-only or 0.2300-0.2302 server): legacy on the
		// same connection.
		n.res.FellBack = true
		n.state = stateC000
		return []string{"HELLO"}, nil
	}
	body, ok := setupBody(line)
	if !ok {
		return []string{"NOT"}, nil
	}
	si, err := parseSetup(body, n.lim)
	if err != nil {
		return nil, n.fail(err)
	}
	if si.bad || len(si.freezer) != 1 || !slices.Contains(n.cfg.Freezers, si.freezer[0]) {
		return []string{"NOT"}, nil
	}
	n.res.PeerNames = si.kernel
	n.res.PeerPID, n.res.PeerHasPID = si.pid, si.hasPID
	n.state = stateCDone
	n.finish(DialogueIKC0, si.freezer[0])
	return nil, nil
}

func (n *ClientNegotiator) c000(line string) ([]string, error) {
	if name, ok := matchKeywordArg(line, "IAM", isNameByte); ok {
		if err := n.addPeerName(name); err != nil {
			return nil, err
		}
		return []string{"OK"}, nil
	}
	switch line {
	case "DONE":
		n.queue = slices.Clone(n.cfg.Names)
		n.state = stateC001
		return []string{"IAM " + n.cfg.KernelID}, nil
	case "NOT":
		return nil, nil
	}
	return []string{"NOT"}, nil
}

// c001 is negociate_001, shared with the server: one name per OK, popped
// from the end; then DONE, and C002 starts offering freezers at once (Perl
// sends DONE and the first FREEZER back to back).
func (n *ClientNegotiator) c001(line string) []string {
	switch line {
	case "OK":
		if len(n.queue) > 0 {
			name := n.queue[len(n.queue)-1]
			n.queue = n.queue[:len(n.queue)-1]
			if !perlFalse(name) {
				return []string{"IAM " + name}
			}
		}
		n.queue = nil
		n.state = stateC002
		n.offers = slices.Clone(n.cfg.Freezers)
		return append([]string{"DONE"}, n.nextOffer()...)
	case "NOT":
		return nil
	}
	return []string{"NOT"}
}

// nextOffer is client_002's NOT branch: offer the next freezer, or give up
// on agreeing one (the default serializer is used) and say WORLD.
func (n *ClientNegotiator) nextOffer() []string {
	if len(n.offers) > 0 {
		n.pending = n.offers[0]
		n.offers = n.offers[1:]
		return []string{"FREEZER " + n.pending}
	}
	n.pending = ""
	n.state = stateC003
	return []string{"WORLD"}
}

func (n *ClientNegotiator) c002(line string) []string {
	switch line {
	case "NOT":
		return n.nextOffer()
	case "OK":
		n.state = stateC003
		return []string{"WORLD"}
	}
	return []string{"NOT"}
}

func (n *ClientNegotiator) c003(line string) []string {
	switch line {
	case "UP":
		n.state = stateCDone
		n.finish(DialogueLegacy, n.pending)
		return nil
	case "NOT":
		return nil
	}
	return []string{"NOT"}
}
