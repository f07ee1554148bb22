// Package dumper reads and writes the Data::Dumper text that
// POE::Component::IKC::Freezer, the third serializer IKC clients offer,
// puts on the wire.
//
// # SECURITY: THE PERL SIDE EVALUATES THIS TEXT
//
// POE::Component::IKC::Freezer thaws a frame with Perl's string eval. Any
// peer that gets this freezer negotiated can run arbitrary Perl code in the
// receiving Perl kernel: remote code execution by design (PROTOCOL §4.3,
// §9.14). ikcgate keeps this freezer OFF by default; enable it only
// between hosts that already trust each other completely.
//
// The Go side never evaluates anything. Thaw is a parser for the small
// subset of Perl that Data::Dumper writes and computes the value that
// Perl's eval would produce; anything outside the subset (function calls,
// sub {...}, qr//, globs, string interpolation, unknown variables,
// comments) is rejected with its line and column, never guessed at.
//
// # Format
//
// The freezer sets Purity=1, Indent=0 and Varname
// POE::Component::IKC::Freezer::VAR, so a frame is one assignment followed
// by fix-up statements that restore shared references and cycles:
//
//	$POE::Component::IKC::Freezer::VAR1 = {'a' => [1],'b' => []};$POE::Component::IKC::Freezer::VAR1->{'b'} = $POE::Component::IKC::Freezer::VAR1->{'a'};
//
// Values are undef; integers written bare (numbers in Perl); quoted
// strings ('...' for byte strings, "..." with \x{...} escapes for
// character strings); [...]; {'key' => ...}; \ references; bless( ...,
// 'Class' ); do{my $o} (a placeholder later filled by a fix-up) and
// do{\(my $o = ...)} (a reference to a fresh scalar, used for blessed
// scalar references); and paths like ${$VAR1->{'p'}}->[0] in fix-ups.
// Thaw also accepts what other Data::Dumper settings an application may
// have set globally produce (Useqq escapes, unquoted keys, Trailingcomma,
// Deepcopy, Sortkeys), since the freezer does not localize them.
//
// Terse: the freezer does not localize $Data::Dumper::Terse either; with it
// set, the text has no "$...VAR1 =" and a Perl receiver thaws it to undef.
// Thaw reports ErrNoAssignment for such text rather than pretending it
// carried a value.
//
// # What Perl gets back
//
// Perl's eval loses a few things, and Thaw reproduces what Perl gets:
// "\x{e9}" is a byte string in Perl (escapes below 0x100 do not set the
// UTF8 flag), so character strings whose characters all fit in Latin-1
// arrive as byte strings with the same characters. Quoted numbers are
// strings, bare ones numbers. A reference to a scalar inside another
// container (\$VAR1->{'a'}) becomes a reference to a copy: perlcompat
// cannot express aliased scalars.
package dumper

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Name is the Perl package name IKC negotiates for this format.
const Name = "POE::Component::IKC::Freezer"

// VarName is the variable the text assigns and Perl's thaw returns.
const VarName = "$POE::Component::IKC::Freezer::VAR1"

// Limits bound what Thaw accepts and Freeze writes. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	// MaxDepth bounds nesting (containers, references, paths), so hostile
	// text cannot exhaust the stack.
	MaxDepth int
	// MaxElements bounds the values one frame creates, which bounds the
	// memory Thaw allocates.
	MaxElements int
	// MaxBytes bounds the text size Thaw accepts and Freeze writes.
	MaxBytes int
}

// DefaultLimits suit IKC requests and keep a hostile frame within tens of
// megabytes.
var DefaultLimits = Limits{MaxDepth: 512, MaxElements: 1 << 20, MaxBytes: 64 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	return l
}

// Sentinel errors; SyntaxError and EncodeError wrap them.
var (
	// ErrSyntax: text that is not Data::Dumper's Perl subset.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported: valid Perl that this parser refuses to evaluate:
	// code (sub {...}, function calls), qr//, globs, interpolation in
	// double quotes, variables other than VarName.
	ErrUnsupported = errors.New("unsupported Perl")
	// ErrNoAssignment: the text does not start by assigning VarName
	// (Data::Dumper's Terse output, or empty text). A Perl receiver
	// thaws it to undef.
	ErrNoAssignment = errors.New("no assignment to " + VarName)
	// ErrBadPath: a path goes through something of the wrong type (Perl:
	// "Not a HASH reference"), or an assignment would autovivify or
	// extend an array, which Data::Dumper never needs.
	ErrBadPath = errors.New("bad path")
	// ErrBadBless: bless of a non-reference or with an empty class, or a
	// class refused by Decoder.AllowClass.
	ErrBadBless = errors.New("bad bless")
	// ErrTooDeep, ErrTooManyElements, ErrTooLarge: a Limits bound was hit.
	ErrTooDeep         = errors.New("nested too deep")
	ErrTooManyElements = errors.New("too many elements")
	ErrTooLarge        = errors.New("too large")

	// ErrInvalidUTF8: Freeze was given a UTF8 Str that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("character string is not valid UTF-8")
	// ErrUnsupportedValue: a Value type outside perlcompat's model.
	ErrUnsupportedValue = errors.New("unsupported value")
)

// SyntaxError says what was wrong with a frame and where.
type SyntaxError struct {
	Offset int // byte offset in the text
	Line   int // 1-based
	Column int // 1-based, in bytes
	Err    error
	Detail string
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("dumper: line %d column %d (offset %d): %v", e.Line, e.Column, e.Offset, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// EncodeError says which part of a value Freeze could not write.
type EncodeError struct {
	Path   string
	Err    error
	Detail string
}

func (e *EncodeError) Error() string {
	s := fmt.Sprintf("dumper: freeze %s: %v", e.Path, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *EncodeError) Unwrap() error { return e.Err }

// Freezer is POE::Component::IKC::Freezer as an IKC freezer. The zero value
// uses DefaultLimits both ways. See the package doc before enabling it.
type Freezer struct {
	Decoder Decoder
	Encoder Encoder
}

var _ perlcompat.Freezer = Freezer{}

// Name is the package name IKC negotiates.
func (Freezer) Name() string { return Name }

// Freeze appends the text for v, which a Perl peer evals.
func (f Freezer) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	return f.Encoder.Freeze(dst, v)
}

// Thaw parses one frame payload (it never evaluates it).
func (f Freezer) Thaw(payload []byte) (perlcompat.Value, error) {
	return f.Decoder.Thaw(payload)
}
