package protocol

import (
	"fmt"
	"os"
	"slices"
)

// ServerConfig configures the accepting side of a channel.
type ServerConfig struct {
	// KernelID is our kernel ID, always announced first (see NewKernelID).
	KernelID string
	// Names are announced after KernelID, in Perl's order: kernel_name,
	// aliases..., then the address ("ip:port" of the accepted socket, or
	// UnixServerName). The legacy dialogue sends them last to first.
	Names []string
	// Freezers is the allow-list of serializers we can instantiate. A
	// peer's offer is only ever compared with it: nothing is loaded or
	// resolved by name, unlike Perl, which requires any module a peer names.
	Freezers []string
	// PID is announced in our SETUP reply.
	PID int
	// OmitPID leaves ";PID=" out of the SETUP reply, for IKC 0.2300-0.2302
	// clients, which answer an unknown field with NOT and hang.
	OmitPID bool
	// LegacyOnly starts in S000 (Perl's protocol=>'IKC'): SETUP gets NOT
	// and the client must fall back to HELLO.
	LegacyOnly bool
	// Limits bound the negotiation; zero fields mean defaults.
	Limits Limits
}

// DefaultServerConfig returns a config accepting Storable, with our PID.
// KernelID and Names must still be filled in.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Freezers: []string{DefaultFreezer},
		PID:      os.Getpid(),
		Limits:   DefaultLimits(),
	}
}

// Validate reports whether the config can be used.
func (c ServerConfig) Validate() error {
	if err := validateNames("ServerConfig", c.KernelID, c.Names); err != nil {
		return err
	}
	if len(c.Freezers) == 0 {
		return fmt.Errorf("%w: ServerConfig.Freezers is empty", ErrInvalidConfig)
	}
	if err := validateFreezers("ServerConfig", c.Freezers); err != nil {
		return err
	}
	if c.PID < 0 {
		return fmt.Errorf("%w: ServerConfig.PID is negative", ErrInvalidConfig)
	}
	return validateLimits("ServerConfig", c.Limits)
}

type serverState int

const (
	stateS010 serverState = iota // IKC0: waiting for SETUP or HELLO
	stateS000                    // legacy: waiting for HELLO
	stateS001                    // legacy: telling our names, one per OK
	stateS002                    // legacy: recording the client's IAM names
	stateS003                    // legacy: FREEZER offers, then WORLD
	stateSDone
)

var serverStateNames = [...]string{"S010", "S000", "S001", "S002", "S003", "done"}

// ServerNegotiator is the server side of the negotiation as a pure state
// machine: lines in, lines out, no I/O. It follows Channel.pm's server_010,
// server_000, negociate_001, server_002 and server_003 line for line,
// including which lines are ignored, which are answered NOT, and when.
//
// One difference is inherent: Perl queues phase changes as POE events, so a
// line pipelined after HELLO in the same read reaches S000 before HELLO is
// handled there. No real client pipelines at that point; here every line is
// handled in order.
type ServerNegotiator struct {
	negotiator
	cfg     ServerConfig
	state   serverState
	queue   []string // names still to announce (legacy), popped from the end
	freezer string   // legacy: the selected freezer, "" for the default
	offers  int      // legacy FREEZER lines seen
}

// NewServerNegotiator returns a negotiator in S010, or S000 with
// LegacyOnly. The server speaks only in answer, so there is no Start.
func NewServerNegotiator(cfg ServerConfig) (*ServerNegotiator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Names = slices.Clone(cfg.Names)
	cfg.Freezers = slices.Clone(cfg.Freezers)
	n := &ServerNegotiator{cfg: cfg, state: stateS010}
	n.lim = cfg.Limits.withDefaults()
	if cfg.LegacyOnly {
		n.state = stateS000
	}
	return n, nil
}

// Done reports whether the negotiation finished: the next byte from the
// client is the frame stream, and the lines returned with the last Receive
// must be sent before any frame.
func (n *ServerNegotiator) Done() bool { return n.done }

// Result returns what was agreed. It is meaningful only once Done.
func (n *ServerNegotiator) Result() Result {
	r := n.res
	r.PeerNames = slices.Clone(r.PeerNames)
	return r
}

// State names the current state (S010, S000, S001, S002, S003 or done) for
// logs and errors.
func (n *ServerNegotiator) State() string { return serverStateNames[n.state] }

// Receive handles one line from the client (without terminator) and returns
// the lines to send back, in order. After an error the negotiator is dead
// and returns the same error.
func (n *ServerNegotiator) Receive(line string) (send []string, err error) {
	if err := n.admit(line); err != nil {
		return nil, err
	}
	switch n.state {
	case stateS010:
		return n.s010(line)
	case stateS000:
		return n.s000(line), nil
	case stateS001:
		return n.s001(line), nil
	case stateS002:
		return n.s002(line)
	case stateS003:
		return n.s003(line)
	}
	return nil, ErrNegotiationDone
}

func (n *ServerNegotiator) s010(line string) ([]string, error) {
	if isHelloIKCn(line) {
		return []string{"NOT"}, nil
	}
	if line == "HELLO" {
		// Perl moves to S000 and lets it handle the same HELLO.
		return n.s000(line), nil
	}
	body, ok := setupBody(line)
	if !ok {
		return nil, nil // server_010 has no else: anything else is ignored
	}
	si, err := parseSetup(body, n.lim)
	if err != nil {
		return nil, n.fail(err)
	}
	chosen := ""
	if !si.bad {
		for _, f := range si.freezer {
			if slices.Contains(n.cfg.Freezers, f) {
				chosen = f
				break
			}
		}
	}
	if chosen == "" {
		return []string{"NOT"}, nil // stay in S010: the client may retry
	}
	n.res.PeerNames = si.kernel
	n.res.PeerPID, n.res.PeerHasPID = si.pid, si.hasPID
	reply := buildSetup(n.announce(), []string{chosen}, n.cfg.PID, !n.cfg.OmitPID)
	n.state = stateSDone
	n.finish(DialogueIKC0, chosen)
	return []string{reply}, nil
}

func (n *ServerNegotiator) announce() []string {
	return append([]string{n.cfg.KernelID}, n.cfg.Names...)
}

func (n *ServerNegotiator) s000(line string) []string {
	switch {
	case isHelloIKCn(line):
		return []string{"NOT"}
	case len(line) >= 5 && line[:5] == "SETUP": // /^SETUP/, unanchored tail
		return []string{"NOT"}
	case line == "HELLO":
		n.queue = slices.Clone(n.cfg.Names)
		n.state = stateS001
		return []string{"IAM " + n.cfg.KernelID}
	}
	return nil // Perl warns and waits for something coherent
}

// s001 is negociate_001: one name per OK, popped from the end, so the
// address goes first and kernel_name last. A Perl-false name ends the list.
func (n *ServerNegotiator) s001(line string) []string {
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
		n.state = stateS002
		return []string{"DONE"}
	case "NOT":
		return nil
	}
	return []string{"NOT"}
}

func (n *ServerNegotiator) s002(line string) ([]string, error) {
	if line == "DONE" {
		n.state = stateS003
		return nil, nil
	}
	if name, ok := matchKeywordArg(line, "IAM", isNameByte); ok {
		if err := n.addPeerName(name); err != nil {
			return nil, err
		}
		return []string{"OK"}, nil
	}
	if line == "NOT" {
		return nil, nil
	}
	return []string{"NOT"}, nil
}

// s003 takes FREEZER offers until WORLD. Perl rebuilds its filter on every
// valid offer and POE::Filter::Reference->new returns undef for a package it
// can't use, so a refused offer also drops an earlier accepted one (back to
// the default); an offer with bad characters is refused without that side
// effect.
func (n *ServerNegotiator) s003(line string) ([]string, error) {
	if len(line) >= 7 && line[:7] == "FREEZER" {
		n.offers++
		if n.offers > n.lim.MaxFreezers {
			return nil, n.fail(&LimitError{Limit: "freezers", Max: n.lim.MaxFreezers})
		}
		if pkg, ok := matchKeywordArg(line, "FREEZER", isPackageByte); ok {
			if slices.Contains(n.cfg.Freezers, pkg) {
				n.freezer = pkg
				return []string{"OK"}, nil
			}
			n.freezer = ""
		}
		return []string{"NOT"}, nil
	}
	switch line {
	case "WORLD":
		n.state = stateSDone
		n.finish(DialogueLegacy, n.freezer)
		return []string{"UP"}, nil
	case "NOT":
		return nil, nil
	}
	return []string{"NOT"}, nil
}
