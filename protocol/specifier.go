package protocol

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// ErrBadSpecifier means a value is not an IKC specifier Perl would accept.
var ErrBadSpecifier = errors.New("ikc: invalid specifier")

// SpecifierError reports an invalid specifier. It matches ErrBadSpecifier.
type SpecifierError struct {
	Input  string // the input, quoted for display
	Reason string
}

func (e *SpecifierError) Error() string {
	return fmt.Sprintf("ikc: invalid specifier %s: %s", e.Input, e.Reason)
}

func (e *SpecifierError) Is(target error) bool { return target == ErrBadSpecifier }

// Specifier names a kernel, a session and a state, as
// POE::Component::IKC::Specifier does: "poe://Kernel/session/state" in
// string form, {kernel, session, state} in hash form.
//
// Parts that Perl finds false ("" or "0") are "": Perl normalizes them so
// and then tests truth. The fields hold the characters (Go text) of the
// Perl values; an integer session ID is its decimal string.
type Specifier struct {
	Kernel  string // remote kernel name, ID or alias; "*" means every kernel
	Session string // session alias (or numeric ID)
	State   string // event name

	// Args is the "?args" suffix, which Perl's receiver appends as the
	// last argument of the call. HasArgs reports that it is there: the
	// string form keeps it only when true, the hash form whenever the
	// args key exists, even when its value is false.
	Args    string
	HasArgs bool
}

// ParseSpecifier parses the string form as Perl's specifier_parse does:
// form A "poe://kernel/session/state?args" (every part optional, see the
// grammar in PROTOCOL.md §6.1) and the poe-less form B
// "//kernel/session/state?args" (0.1903+). Parts that Perl finds false
// become "".
//
// s is read as text, the way Perl reads a UTF8-flagged string: Perl's \w
// and \d then take any Unicode letter or digit. (Perl 5.36 knows Unicode
// 14; Go's tables are newer, so a character added since is accepted here
// and refused by Perl.) Like Perl's $, a single trailing newline is
// ignored.
func ParseSpecifier(s string) (Specifier, error) {
	if !utf8.ValidString(s) {
		// Perl would hold these bytes in a byte string, where \w is ASCII
		// only, so a byte >= 0x80 can never match.
		return Specifier{}, &SpecifierError{Input: strconv.QuoteToASCII(s), Reason: "not valid UTF-8 text"}
	}
	return parseSpecifierString(s)
}

// SpecifierFromValue reads a specifier as Perl's receiver does: a string in
// either string form, or an unblessed hash {kernel, session, state[,
// args]}. A number is read as its decimal string. Hash parts are not
// validated (Perl does not), only normalized: false values become "".
// Parts that are references are refused (Perl would stringify them to
// "HASH(0x...)", which never names anything).
//
// The result is a parsed copy; v is not changed. To echo a value exactly
// as received (an rsvp in a reply), keep v itself: Request does.
func SpecifierFromValue(v perlcompat.Value) (Specifier, error) {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return Specifier{}, &SpecifierError{Input: "undef", Reason: "missing"}
	case perlcompat.Str:
		if x.UTF8 {
			return ParseSpecifier(x.S)
		}
		for i := 0; i < len(x.S); i++ {
			if x.S[i] >= 0x80 {
				return Specifier{}, &SpecifierError{Input: strconv.QuoteToASCII(x.S), Reason: "byte string with a non-ASCII byte (Perl's \\w is ASCII-only there)"}
			}
		}
		return parseSpecifierString(x.S)
	case perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
		s, _ := perlcompat.StringOf(x)
		return parseSpecifierString(s)
	case *perlcompat.Hash:
		return specifierFromHash(x, false)
	case *perlcompat.Array:
		return Specifier{}, &SpecifierError{Input: "ARRAY", Reason: "an array reference is not a specifier"}
	case *perlcompat.Ref:
		return Specifier{}, &SpecifierError{Input: "SCALAR", Reason: "a scalar reference is not a specifier"}
	}
	return Specifier{}, &SpecifierError{Input: fmt.Sprintf("%T", v), Reason: "unknown value type"}
}

// specifierFromHash reads the hash form. Perl's specifier_parse refuses a
// blessed hash (ref() is then the class name); a request's from is used
// without specifier_parse, so it may be blessed (lenient).
func specifierFromHash(h *perlcompat.Hash, lenient bool) (Specifier, error) {
	if h == nil {
		return Specifier{}, &SpecifierError{Input: "undef", Reason: "missing"}
	}
	if h.Class != "" && !lenient {
		return Specifier{}, &SpecifierError{Input: h.Class + "=HASH", Reason: "a blessed hash is not a specifier"}
	}
	var parts [3]string // no pointers into a Specifier: it stays off the heap
	for i, key := range [...]string{"kernel", "session", "state"} {
		v := h.Get(key)
		if !perlcompat.Truth(v) {
			continue
		}
		str, ok := perlcompat.StringOf(v)
		if !ok {
			return Specifier{}, &SpecifierError{Input: "HASH", Reason: fmt.Sprintf("%s is a reference (%s)", key, str)}
		}
		parts[i] = str
	}
	s := Specifier{Kernel: parts[0], Session: parts[1], State: parts[2]}
	if v, ok := h.Lookup("args"); ok {
		str, ok := perlcompat.StringOf(v)
		if !ok {
			return Specifier{}, &SpecifierError{Input: "HASH", Reason: fmt.Sprintf("args is a reference (%s)", str)}
		}
		s.Args, s.HasArgs = str, true
	}
	return s, nil
}

// The two regular expressions of Specifier.pm, with Perl's \w and \d
// replaced by ASCII classes plus two stand-in characters (see
// specifierClassMap), and Perl's $ (end, or before a final newline)
// spelled out. Go's regexp picks the same submatches as Perl's
// backtracking for these patterns (leftmost-first semantics).
const (
	reWord  = `0-9A-Za-z_\x{0660}`
	reDigit = `[0-9\x{0660}]`
	reKern  = `\*|[-. ` + reWord + `]+|[a-zA-Z0-9][-.a-zA-Z0-9]+:` + reDigit + `+|unix:[-.` + reWord + `]+(?::` + reDigit + `+-` + reDigit + `+)?`
	reEnd   = `\n?\z`
)

var (
	specFormA = regexp.MustCompile(`\Apoe:(?:(//)(` + reKern + `)?)?(?:(/)([- ` + reWord + `]+))?(?:(/)?([- ` + reWord + `]*))?(?:\?([` + reWord + `]+))?` + reEnd)
	specFormB = regexp.MustCompile(`\A(?://(` + reKern + `)/)?(?:([- ` + reWord + `]+)/)?(?:([- ` + reWord + `]+))?(?:\?([` + reWord + `]+))?` + reEnd)
)

// specifierClassMap rewrites non-ASCII characters for the ASCII patterns:
// a Unicode digit (Perl \d, also \w) becomes U+0660, another word
// character (Perl \w) becomes "_" (which the patterns use only through \w),
// anything else U+FFFD (matches nothing). It returns the rewritten string
// and, for each of its byte offsets, the offset in s.
func specifierClassMap(s string) (string, []int) {
	var b strings.Builder
	offs := make([]int, 0, len(s)+1)
	for i, r := range s {
		var m string
		switch {
		case r < utf8.RuneSelf:
			m = s[i : i+1]
		case unicode.Is(unicode.Nd, r):
			m = "\u0660"
		case perlWord(r):
			m = "_"
		default:
			m = "\uFFFD"
		}
		for range len(m) {
			offs = append(offs, i)
		}
		b.WriteString(m)
	}
	offs = append(offs, len(s))
	return b.String(), offs
}

// perlWord reports whether Perl's \w matches r in a character string:
// \p{Alphabetic}, marks, decimal digits, connector punctuation and
// the joiners.
func perlWord(r rune) bool {
	return unicode.In(r, unicode.L, unicode.Nl, unicode.M, unicode.Nd, unicode.Pc,
		unicode.Other_Alphabetic, unicode.Join_Control)
}

func parseSpecifierString(s string) (Specifier, error) {
	if sp, ok := parseSimpleSpecifier(s); ok {
		return sp, nil
	}
	return parseSpecifierSlow(s)
}

// parseSpecifierSlow applies the grammar's regular expressions.
func parseSpecifierSlow(s string) (Specifier, error) {
	if s == "" || s == "0" {
		return Specifier{}, &SpecifierError{Input: strconv.QuoteToASCII(s), Reason: "false in Perl"}
	}
	mapped, offs := s, []int(nil)
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			mapped, offs = specifierClassMap(s)
			break
		}
	}
	part := func(m []int, group int) string {
		lo, hi := m[2*group], m[2*group+1]
		if lo < 0 {
			return ""
		}
		if offs != nil {
			lo, hi = offs[lo], offs[hi]
		}
		return falseToEmpty(s[lo:hi])
	}
	var sp Specifier
	if m := specFormA.FindStringSubmatchIndex(mapped); m != nil {
		sp = Specifier{Kernel: part(m, 2), Session: part(m, 4), State: part(m, 6), Args: part(m, 7)}
	} else if m := specFormB.FindStringSubmatchIndex(mapped); m != nil {
		sp = Specifier{Kernel: part(m, 1), Session: part(m, 2), State: part(m, 3), Args: part(m, 4)}
	} else {
		return Specifier{}, &SpecifierError{Input: strconv.QuoteToASCII(s), Reason: "matches neither poe://kernel/session/state nor kernel-less form"}
	}
	sp.HasArgs = sp.Args != "" // Perl keeps ?args only when true
	return sp, nil
}

// parseSimpleSpecifier is the fast path for what nearly every message
// carries, "poe://kernel/session/state" with plain ASCII names: the same
// result as the regular expressions (checked by a test over the whole
// table and by the fuzz target), without running them. Anything else,
// including any "0" part, "?args" or a colon, returns ok false.
func parseSimpleSpecifier(s string) (Specifier, bool) {
	rest, ok := strings.CutPrefix(s, "poe://")
	if !ok {
		return Specifier{}, false
	}
	k, rest, ok1 := strings.Cut(rest, "/")
	sess, state, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !simpleName(k, true) || !simpleName(sess, false) || !simpleName(state, false) {
		return Specifier{}, false
	}
	return Specifier{Kernel: k, Session: sess, State: state}, true
}

// simpleName: non-empty, not "0", only [A-Za-z0-9_-] (and '.' in a kernel
// name), which every form of the grammar accepts as is.
func simpleName(s string, kernel bool) bool {
	if s == "" || s == "0" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && kernel:
		default:
			return false
		}
	}
	return true
}

func falseToEmpty(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

func truthy(s string) bool { return s != "" && s != "0" }

// String renders s as Perl's specifier_name: "poe:" then "//kernel",
// "/session" and "/state", each only when true. Args are not rendered.
// This is lossy without a session: "poe://K/e" reads back as session e,
// and a lone kernel with a colon may split ("poe://unix:0A" reads back as
// kernel "unix:0", state "A", in Perl too). Use Value to send a
// specifier.
func (s Specifier) String() string {
	k, se, st := truthy(s.Kernel), truthy(s.Session), truthy(s.State)
	if k && se && st { // the usual case, in one allocation
		return "poe://" + s.Kernel + "/" + s.Session + "/" + s.State
	}
	n := "poe:"
	if k {
		n += "//" + s.Kernel
	}
	if se {
		n += "/" + s.Session
	}
	if st {
		n += "/" + s.State
	}
	return n
}

// Value returns the hash form {kernel, session, state[, args]}, normalized
// as Perl leaves it (false parts are ""). Strings are text: non-ASCII
// parts carry Perl's UTF8 flag.
func (s Specifier) Value() *perlcompat.Hash {
	// One allocation: a call's rsvp is one of these per call, and five
	// allocations each (hash, entries, three strings) showed.
	b := new(specHash)
	n := 3
	b.strs[0] = perlcompat.Text(falseToEmpty(s.Kernel))
	b.strs[1] = perlcompat.Text(falseToEmpty(s.Session))
	b.strs[2] = perlcompat.Text(falseToEmpty(s.State))
	if s.HasArgs {
		b.strs[3] = perlcompat.Text(s.Args)
		n = 4
	}
	for i := range n {
		b.entries[i] = perlcompat.Entry{Key: specKeys[i], Value: perlcompat.BoxStr(&b.strs[i])}
	}
	b.h.Entries = b.entries[:n:n]
	return &b.h
}

type specHash struct {
	h       perlcompat.Hash
	entries [4]perlcompat.Entry
	strs    [4]perlcompat.Str
}

var specKeys = [4]perlcompat.Str{{S: "kernel"}, {S: "session"}, {S: "state"}, {S: "args"}}

// wireValue is how a Go kernel sends s as an event: the string form when
// it reads back as s (what Perl's own post and call send), else the hash
// form (needed for IKC:proxy, receipt states, names with '.', ':' or '/').
func (s Specifier) wireValue() perlcompat.Value {
	// The same target over and over (a client posting to one state) is
	// rendered and checked once.
	if c := lastWire.Load(); c != nil && c.sp == s {
		return c.v
	}
	v := s.renderWire()
	if _, isStr := v.(perlcompat.Str); isStr { // the hash form is mutable: never shared
		lastWire.Store(&wireEntry{sp: s, v: v})
	}
	return v
}

// wireEntry is wireValue's one-entry cache, of string forms only.
type wireEntry struct {
	sp Specifier
	v  perlcompat.Value
}

var lastWire atomic.Pointer[wireEntry]

func (s Specifier) renderWire() perlcompat.Value {
	str := s.String()
	if s.HasArgs && s.Args != "" {
		str += "?" + s.Args
	}
	if back, err := ParseSpecifier(str); err == nil && back == s {
		return perlcompat.Text(str)
	}
	return s.Value()
}
