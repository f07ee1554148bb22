package protocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Dialogue is the negotiation dialogue a channel used.
type Dialogue int

const (
	// DialogueIKC0 is the one-line-each-way SETUP exchange (IKC 0.2300+).
	DialogueIKC0 Dialogue = iota + 1
	// DialogueLegacy is the original HELLO/IAM/DONE/FREEZER/WORLD/UP
	// exchange, which Perl calls protocol "IKC".
	DialogueLegacy
)

// String returns the dialogue's name as Perl's protocol option spells it.
func (d Dialogue) String() string {
	switch d {
	case DialogueIKC0:
		return "IKC0"
	case DialogueLegacy:
		return "IKC"
	}
	return "Dialogue(" + strconv.Itoa(int(d)) + ")"
}

// DefaultFreezer is the serializer both sides use when a legacy negotiation
// agrees on none: POE::Filter::Reference's default, Storable nfreeze.
const DefaultFreezer = "Storable"

// Result is what a finished negotiation agreed on.
type Result struct {
	Dialogue Dialogue
	// Freezer is the serializer for the frame stream. After a legacy
	// negotiation that agreed on nothing it is DefaultFreezer.
	Freezer string
	// PeerKernelID is the first name the peer announced: Perl's remote_ID.
	// It is empty only if a legacy peer announced no name at all (Perl then
	// falls back to its local sanity alias, which the registry adds).
	PeerKernelID string
	// PeerNames is everything the peer announced, in the order Perl
	// registers it, PeerKernelID first. Names are not validated (Perl
	// doesn't), and may be empty strings in IKC0.
	PeerNames []string
	// PeerPID is the peer's last PID= field in IKC0 (0 without one, as
	// Perl); legacy carries no PID. A PID too big for int is saturated.
	PeerPID    int
	PeerHasPID bool
	// FellBack is set by a client whose SETUP was answered NOT and that
	// negotiated the legacy dialogue on the same connection.
	FellBack bool
}

// Limits bound what one negotiation can cost us. Perl has none (a stuck
// handshake hangs forever and a 64 MiB line is accepted); a Go peer facing
// untrusted connections needs them. The zero value of a field means its
// default.
type Limits struct {
	// MaxLines is the number of lines a negotiation may receive.
	MaxLines int
	// MaxLineLength bounds one received line, in bytes.
	MaxLineLength int
	// MaxNames bounds the names a peer may announce.
	MaxNames int
	// MaxFreezers bounds the freezers a peer may offer: the FREEZER= list
	// of one SETUP, or the number of legacy FREEZER lines.
	MaxFreezers int
	// Timeout is the wall-clock budget of ServerHandshake and
	// ClientHandshake. Zero means DefaultTimeout; negative means none.
	Timeout time.Duration
}

// Defaults for Limits.
const (
	DefaultMaxLines    = 512
	DefaultMaxNames    = 256
	DefaultMaxFreezers = 64
	DefaultTimeout     = 30 * time.Second // ClientLite's default connect_timeout
)

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxLines:      DefaultMaxLines,
		MaxLineLength: DefaultMaxLineLength,
		MaxNames:      DefaultMaxNames,
		MaxFreezers:   DefaultMaxFreezers,
		Timeout:       DefaultTimeout,
	}
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxLines <= 0 {
		l.MaxLines = d.MaxLines
	}
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = d.MaxLineLength
	}
	if l.MaxNames <= 0 {
		l.MaxNames = d.MaxNames
	}
	if l.MaxFreezers <= 0 {
		l.MaxFreezers = d.MaxFreezers
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Errors a negotiation can end with. Match them with errors.Is.
var (
	// ErrNotIKC means the peer clearly speaks another protocol.
	ErrNotIKC = errors.New("ikc: peer does not speak IKC")
	// ErrLimitExceeded means the peer made the negotiation exceed a Limit.
	ErrLimitExceeded = errors.New("ikc: negotiation limit exceeded")
	// ErrNegotiationDone is returned by Receive after the negotiation
	// finished: further bytes belong to the frame stream.
	ErrNegotiationDone = errors.New("ikc: negotiation already done")
	// ErrInvalidConfig wraps every configuration error.
	ErrInvalidConfig = errors.New("ikc: invalid negotiation config")
)

// ForeignProtocolError says which other protocol the peer seems to speak.
type ForeignProtocolError struct {
	Guess string // "HTTP", "TLS", "SSH", "binary", ...
	Line  string // the offending line, truncated
}

func (e *ForeignProtocolError) Error() string {
	return fmt.Sprintf("ikc: peer does not speak IKC (looks like %s): %q", e.Guess, e.Line)
}

// Unwrap makes errors.Is(err, ErrNotIKC) true.
func (e *ForeignProtocolError) Unwrap() error { return ErrNotIKC }

// LimitError names the Limit a peer exceeded.
type LimitError struct {
	Limit string // "lines", "names" or "freezers"
	Max   int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("ikc: negotiation limit exceeded: more than %d %s", e.Max, e.Limit)
}

// Unwrap makes errors.Is(err, ErrLimitExceeded) true.
func (e *LimitError) Unwrap() error { return ErrLimitExceeded }

// looksForeign recognises the first line of protocols a peer may speak by
// mistake. No IKC line can match: IKC lines are printable ASCII words.
func looksForeign(line string) *ForeignProtocolError {
	short := line
	if len(short) > 64 {
		short = short[:64]
	}
	fail := func(guess string) *ForeignProtocolError {
		return &ForeignProtocolError{Guess: guess, Line: short}
	}
	if len(line) >= 2 && line[0] == 0x16 && line[1] == 0x03 {
		return fail("TLS")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fail("binary")
		}
	}
	if strings.HasPrefix(line, "HTTP/") {
		return fail("HTTP")
	}
	if strings.HasPrefix(line, "SSH-") {
		return fail("SSH")
	}
	if m, rest, ok := strings.Cut(line, " "); ok {
		switch m {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI":
			if strings.Contains(rest, " HTTP/") || strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "*") {
				return fail("HTTP")
			}
		}
	}
	return nil
}

// Perl's character classes on byte strings (no unicode_strings feature).
func isPerlSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isPerlWord(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// isNameByte is [-:.\w], the set of IAM names and mangled unix paths.
func isNameByte(c byte) bool { return isPerlWord(c) || c == '-' || c == ':' || c == '.' }

// isPackageByte is [-:\w], the set of legacy FREEZER package names.
func isPackageByte(c byte) bool { return isPerlWord(c) || c == '-' || c == ':' }

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// matchKeywordArg matches /^KEYWORD\s+([set]+)$/ and returns the capture.
func matchKeywordArg(line, keyword string, set func(byte) bool) (string, bool) {
	rest, ok := strings.CutPrefix(line, keyword)
	if !ok || rest == "" || !isPerlSpace(rest[0]) {
		return "", false
	}
	i := 0
	for i < len(rest) && isPerlSpace(rest[i]) {
		i++
	}
	arg := rest[i:]
	if !allBytes(arg, set) {
		return "", false
	}
	return arg, true
}

// isHelloIKCn matches /^HELLO IKC\d$/, the IKC1 greeting both roles refuse.
func isHelloIKCn(line string) bool {
	return len(line) == len("HELLO IKC0") && strings.HasPrefix(line, "HELLO IKC") &&
		line[9] >= '0' && line[9] <= '9'
}

// perlFalse is Perl's truth test for a string.
func perlFalse(s string) bool { return s == "" || s == "0" }

// perlSplit is Perl's split with a one-character pattern and no limit:
// trailing empty fields are dropped (so an all-empty result is empty).
func perlSplit(s string, sep string) []string {
	f := strings.Split(s, sep)
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// setupInfo is a parsed SETUP line, Protocol.pm's __neg_setup.
type setupInfo struct {
	kernel  []string
	freezer []string
	pid     int
	hasPID  bool
	bad     bool
}

// setupBody matches /^SETUP (.+)$/ and returns the capture.
func setupBody(line string) (string, bool) {
	body, ok := strings.CutPrefix(line, "SETUP ")
	return body, ok && body != ""
}

// captureAfter is Perl's m/KEY(.+)/ on one field: the rest after the first
// occurrence of key, if at least one byte follows.
func captureAfter(field, key string) (string, bool) {
	i := strings.Index(field, key)
	if i < 0 || i+len(key) == len(field) {
		return "", false
	}
	return field[i+len(key):], true
}

// parseSetup parses the body of a SETUP line with every quirk of
// __neg_setup: fields split on ';' (trailing empties dropped), each tested
// unanchored for KERNEL=.+, then FREEZER=.+, then PID=\d+; any other field
// makes the line bad; lists accumulate; the last PID wins; at least one
// KERNEL name is required. The error is only for exceeded limits.
func parseSetup(body string, lim Limits) (setupInfo, error) {
	var si setupInfo
	for _, field := range perlSplit(body, ";") {
		if v, ok := captureAfter(field, "KERNEL="); ok {
			si.kernel = append(si.kernel, perlSplit(v, ",")...)
			if len(si.kernel) > lim.MaxNames {
				return si, &LimitError{Limit: "names", Max: lim.MaxNames}
			}
			continue
		}
		if v, ok := captureAfter(field, "FREEZER="); ok {
			si.freezer = append(si.freezer, perlSplit(v, ",")...)
			if len(si.freezer) > lim.MaxFreezers {
				return si, &LimitError{Limit: "freezers", Max: lim.MaxFreezers}
			}
			continue
		}
		if pid, ok := matchPID(field); ok {
			si.pid, si.hasPID = pid, true
			continue
		}
		si.bad = true
	}
	if len(si.kernel) == 0 {
		si.bad = true
	}
	return si, nil
}

// matchPID is m/PID=(\d+)/: the first "PID=" followed by a digit.
func matchPID(field string) (int, bool) {
	for off := 0; ; {
		i := strings.Index(field[off:], "PID=")
		if i < 0 {
			return 0, false
		}
		j := off + i + len("PID=")
		k := j
		for k < len(field) && field[k] >= '0' && field[k] <= '9' {
			k++
		}
		if k > j {
			n, err := strconv.Atoi(field[j:k])
			if err != nil {
				n = math.MaxInt // Perl keeps the digits; we saturate
			}
			return n, true
		}
		off = j
	}
}

// buildSetup is Protocol.pm's __build_setup.
func buildSetup(names []string, freezers []string, pid int, withPID bool) string {
	var b strings.Builder
	b.WriteString("SETUP KERNEL=")
	b.WriteString(strings.Join(names, ","))
	b.WriteString(";FREEZER=")
	b.WriteString(strings.Join(freezers, ","))
	if withPID {
		b.WriteString(";PID=")
		b.WriteString(strconv.Itoa(pid))
	}
	return b.String()
}

// validateNames checks the names we announce: each must survive both
// dialogues, so it must match the legacy IAM pattern [-:.\w]+ (which also
// keeps ',' and ';' out of SETUP). "0" is allowed, as in Perl, but it ends
// the legacy IAM list early.
func validateNames(who, kernelID string, names []string) error {
	if !allBytes(kernelID, isNameByte) {
		return fmt.Errorf("%w: %s.KernelID %q must match [-:.\\w]+", ErrInvalidConfig, who, kernelID)
	}
	for i, n := range names {
		if !allBytes(n, isNameByte) {
			return fmt.Errorf("%w: %s.Names[%d] %q must match [-:.\\w]+", ErrInvalidConfig, who, i, n)
		}
	}
	return nil
}

func validateFreezers(who string, freezers []string) error {
	for i, f := range freezers {
		if !allBytes(f, isPackageByte) {
			return fmt.Errorf("%w: %s.Freezers[%d] %q must be a package name matching [-:\\w]+", ErrInvalidConfig, who, i, f)
		}
	}
	return nil
}

func validateLimits(who string, l Limits) error {
	if l.MaxLines < 0 || l.MaxLineLength < 0 || l.MaxNames < 0 || l.MaxFreezers < 0 {
		return fmt.Errorf("%w: %s.Limits must not be negative (zero means default)", ErrInvalidConfig, who)
	}
	return nil
}

// NewKernelID builds a POE kernel ID the way POE::Kernel does:
// <nodename>-<hex8 epoch secs>-<hex8 pid>-<hex8 seq>, lower-case hex of
// each value truncated to 32 bits (Perl packs them with "N"). hostname is
// the uname nodename. Use a fresh seq for each ID in one process.
func NewKernelID(hostname string, t time.Time, pid, seq int) string {
	return fmt.Sprintf("%s-%08x-%08x-%08x", hostname, uint32(t.Unix()), uint32(pid), uint32(seq))
}

// MangleUnixPath applies Channel.pm's s/[^-:.\w]+/_/g to a socket path:
// each run of bytes outside [-:.\w] becomes one "_".
func MangleUnixPath(path string) string {
	var b strings.Builder
	run := false
	for i := 0; i < len(path); i++ {
		if c := path[i]; isNameByte(c) {
			b.WriteByte(c)
			run = false
		} else if !run {
			b.WriteByte('_')
			run = true
		}
	}
	return b.String()
}

// UnixServerName is the name a server on a unix socket announces last:
// "unix:<mangled path>".
func UnixServerName(path string) string { return "unix:" + MangleUnixPath(path) }

// UnixClientName is the name a client of a unix socket announces last:
// "unix:<mangled path>:<pid>-<fd>".
func UnixClientName(path string, pid, fd int) string {
	return UnixServerName(path) + ":" + strconv.Itoa(pid) + "-" + strconv.Itoa(fd)
}

// negotiator is the state both roles share.
type negotiator struct {
	lim   Limits
	lines int
	err   error
	res   Result
	done  bool
}

// admit counts and checks one received line. It returns a non-nil error if
// the negotiation must stop.
func (n *negotiator) admit(line string) error {
	if n.err != nil {
		return n.err
	}
	if n.done {
		return ErrNegotiationDone
	}
	n.lines++
	if n.lines > n.lim.MaxLines {
		return n.fail(&LimitError{Limit: "lines", Max: n.lim.MaxLines})
	}
	if strings.ContainsAny(line, "\r\n") {
		return n.fail(errors.New("ikc: a negotiation line must not contain CR or LF"))
	}
	if len(line) > n.lim.MaxLineLength {
		return n.fail(fmt.Errorf("%w: %d bytes, limit %d", ErrLineTooLong, len(line), n.lim.MaxLineLength))
	}
	if n.lines == 1 {
		if fe := looksForeign(line); fe != nil {
			return n.fail(fe)
		}
	}
	return nil
}

func (n *negotiator) fail(err error) error {
	n.err = err
	return err
}

// addPeerName records one legacy IAM name.
func (n *negotiator) addPeerName(name string) error {
	if len(n.res.PeerNames) >= n.lim.MaxNames {
		return n.fail(&LimitError{Limit: "names", Max: n.lim.MaxNames})
	}
	n.res.PeerNames = append(n.res.PeerNames, name)
	return nil
}

func (n *negotiator) finish(d Dialogue, freezer string) {
	n.done = true
	n.res.Dialogue = d
	if freezer == "" {
		freezer = DefaultFreezer
	}
	n.res.Freezer = freezer
	if len(n.res.PeerNames) > 0 {
		n.res.PeerKernelID = n.res.PeerNames[0]
	}
}
