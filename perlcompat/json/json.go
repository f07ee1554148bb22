// Package json is a perlcompat.Freezer for JSON the way the Perl adapter
// perlcompat/perl/lib/ikcgate/JSON.pm writes it: JSON::PP with
// ->utf8->canonical->allow_nonref (UTF-8, compact, sorted keys).
//
// JSON carries less than Perl has. What survives a trip, in each direction:
//
//   - Strings come back as characters: Thaw gives Str with UTF8 set exactly
//     when the string has a non-ASCII character (what JSON::PP's decode
//     does). Freeze writes a byte string's bytes 0x80-0xFF as the Latin-1
//     characters U+0080-U+00FF (what JSON::PP->utf8 does with a Perl string
//     without the UTF8 flag), so "caf\xe9" arrives as the UTF-8 "café".
//   - Numbers: Int and Uint are JSON integers. Float is written as Perl
//     prints it (%.15g: 3.14159, 1e+100, -2.5e-07, and 1 for 1.0), so it
//     comes back from JSON::PP as a float, or as an integer when it was
//     whole, exactly as between two Perl peers; a float that 15 digits
//     do not reproduce is written with its shortest exact digits in
//     exponent form with a "." (1.2345678901234567e+16), so it survives
//     as a float. Thaw follows JSON::PP:
//     a number with "." is a Float; without, an integral value in range is
//     Int (Uint above int64), otherwise Float ("1e400" is +Inf, as in Perl);
//     with both "." and an exponent, a whole value beyond 2^53 is Int or
//     Uint too ("1.5e16": Perl's numeric conversion makes it an IV);
//     an integer literal longer than 20 characters is a Str, as JSON::PP
//     returns it without allow_bignum. NaN and Inf cannot be frozen.
//   - A string that looks like a number stays a string and a number stays a
//     number (Go knows which it has; Perl's JSON::PP guesses from flags).
//   - true/false: Bool. In Perl they are JSON::PP::Boolean objects (blessed
//     refs to 1 and 0), not Perl's own booleans.
//   - null: Undef. A hash entry whose value is undef is kept (JSON has it);
//     JSON has no way to say "missing" other than leaving the key out.
//   - Blessed data cannot be frozen (JSON::PP dies without allow_blessed or
//     convert_blessed; so does Freeze), except a *Ref blessed into
//     JSON::PP::Boolean, which is true/false.
//   - References to scalars cannot be frozen (JSON::PP dies), except refs
//     to 1 and 0 (any scalar Perl stringifies as "1" or "0"), which are
//     true and false, as in JSON::PP. References to references neither.
//   - Shared references are written out in full each time and thaw as
//     separate copies; a cycle is an error (JSON::PP dies on the nesting).
//   - Nesting deeper than MaxDepth (default 512, JSON::PP's max_depth) is an
//     error both ways.
package json

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// DefaultName is the Perl package name of the adapter in
// perlcompat/perl/lib/ikcgate/JSON.pm.
const DefaultName = "ikcgate::JSON"

// DefaultMaxDepth is JSON::PP's default max_depth.
const DefaultMaxDepth = 512

// Config configures a Freezer. The zero value gives the defaults.
type Config struct {
	// Name is the Perl package name the kernels negotiate
	// (default DefaultName). The captures use "IKCFixture::JSONFreezer".
	Name string
	// MaxDepth bounds nesting of arrays and objects (default
	// DefaultMaxDepth); 512 nested arrays are accepted, 513 are not.
	MaxDepth int
}

// Freezer freezes and thaws JSON. It is safe for concurrent use.
type Freezer struct {
	name     string
	maxDepth int
}

var _ perlcompat.Freezer = (*Freezer)(nil)

// New returns a Freezer for cfg.
func New(cfg Config) (*Freezer, error) {
	if cfg.MaxDepth < 0 {
		return nil, errors.New("json: negative MaxDepth")
	}
	f := &Freezer{name: cfg.Name, maxDepth: cfg.MaxDepth}
	if f.name == "" {
		f.name = DefaultName
	}
	if f.maxDepth == 0 {
		f.maxDepth = DefaultMaxDepth
	}
	return f, nil
}

// Name returns the Perl package name the kernels negotiate.
func (f *Freezer) Name() string { return f.name }

// ErrTooDeep is wrapped when nesting exceeds Config.MaxDepth (and by Freeze
// for a cycle).
var ErrTooDeep = errors.New("nesting too deep")

// ErrUnsupported is wrapped by Freeze for values JSON cannot carry:
// blessed data, references to scalars, NaN and Inf.
var ErrUnsupported = errors.New("cannot be carried by JSON")

// SyntaxError reports a payload Thaw cannot read; Offset is the byte offset
// in the payload.
type SyntaxError struct {
	Offset int
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json: thaw: %v at offset %d", e.Err, e.Offset)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// EncodeError reports a value Freeze cannot write.
type EncodeError struct {
	Err error
}

func (e *EncodeError) Error() string { return "json: freeze: " + e.Err.Error() }

func (e *EncodeError) Unwrap() error { return e.Err }
