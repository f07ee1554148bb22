// Package freezethaw reads and writes the text format of Perl's FreezeThaw
// module (0.5001), the second serializer IKC clients offer.
//
// # Format
//
// A frame is "FrT;" followed by one item; FreezeThaw freezes its argument
// list, so the item is an array and IKC sends a one-element array holding
// the request hash. Items:
//
//	$<len>|<chars>   string (every scalar: FreezeThaw has no numbers)
//	_                undef
//	@<n>|<n items>   array
//	%<2n>|<n keys><n values>   hash, keys sorted
//	\<item>          reference to a scalar (or to a reference)
//	>>N|$<len>|Class<item>    blessed: class N seen for the first time
//	>)N|<item>       blessed into class N seen before
//	<N|              the N-th shared reference (see below)
//
// When a reference occurs more than once (shared data, cycles) the frame
// starts "FrT;!<last>|", then one empty placeholder per shared reference
// ("@0|", "%0|", "\_", or "{" class placeholder for blessed ones), then
// the contents of each in the same order ("}" class contents for blessed
// ones), then the data, in which every use of a shared reference is "<N|".
//
// # Bytes and characters
//
// FreezeThaw counts lengths in characters, but the wire carries bytes. A
// frame made only of byte strings is fine: one character is one byte. A
// Perl string with its UTF8 flag on turns the whole frozen text into a
// character string, POE writes it out as UTF-8, and the receiving Perl
// counts bytes, so it dies ("Do not know how to thaw data with code ..."):
// that is capture g2b. Hence:
//
//   - Freeze refuses character strings (Str with UTF8 set) that have
//     non-ASCII characters, with ErrNonASCIIText: sending them would kill
//     the Perl peer. Encode such text to bytes first if the receiver
//     expects bytes. Byte strings go out as raw bytes.
//   - Thaw reads lengths as bytes first, exactly like Perl. Only when that
//     fails and the payload is valid UTF-8 with non-ASCII bytes does it read
//     the frame again counting UTF-8 characters, which recovers what the
//     Perl sender meant (strings with non-ASCII characters come out as
//     UTF8 Str). Perl itself dies on such frames; decoding them is strictly
//     more than Perl does and never changes a frame Perl can read. Set
//     Decoder.BytesOnly to get Perl's error instead.
//
// # Security
//
// A Perl receiver thawing a blessed item calls Class->Thaw (or Allocate and
// Instantiate) for any class the peer names, so a peer can run those
// methods of any loaded package (PROTOCOL §9.14). This package only builds
// Values; Decoder.AllowClass can refuse classes.
package freezethaw

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Name is the Perl package name IKC negotiates for this format.
const Name = "FreezeThaw"

// Signature starts every frame FreezeThaw writes.
const Signature = "FrT;"

// Limits bound what Thaw accepts and what Freeze writes. Zero fields take
// the defaults of DefaultLimits.
type Limits struct {
	// MaxDepth bounds the nesting of arrays, hashes, references and
	// blessings, so hostile frames cannot exhaust the stack.
	MaxDepth int
	// MaxElements bounds the number of items (scalars and containers) in
	// one frame, which bounds the memory a frame can make Thaw allocate.
	MaxElements int
	// MaxBytes bounds the payload size Thaw accepts and Freeze writes.
	MaxBytes int
}

// DefaultLimits are generous for IKC requests (the captures are 72 KB with
// a few hundred items) and keep a hostile frame within tens of megabytes.
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

// Sentinel errors. DecodeError and EncodeError wrap them, so errors.Is
// works on anything this package returns.
var (
	// ErrSyntax: bytes that FreezeThaw's thaw cannot read (bad number,
	// unknown item code, wrong count).
	ErrSyntax = errors.New("syntax error")
	// ErrTruncated: the payload ends inside an item.
	ErrTruncated = errors.New("truncated frame")
	// ErrTrailing: bytes after the root item (Perl: "Extra elements in
	// frozen structure").
	ErrTrailing = errors.New("trailing bytes")
	// ErrUnsupported: items Perl's FreezeThaw writes but that have no
	// perlcompat.Value: code refs ("&"), globs ("*"), regexps ("/"), and
	// safeFreeze's process-local data ("?"), which Perl itself can only
	// thaw in the process that froze it.
	ErrUnsupported = errors.New("unsupported item")
	// ErrBadBackref: "<N|" names no shared reference, or appears outside a
	// frame that declared them.
	ErrBadBackref = errors.New("bad back-reference")
	// ErrBadClass: an unknown class number, an empty class name, blessing
	// a non-reference, or a class refused by Decoder.AllowClass.
	ErrBadClass = errors.New("bad class")
	// ErrBadKey: a hash key is not a string.
	ErrBadKey = errors.New("hash key is not a string")
	// ErrNotOneValue: the root array does not hold exactly one value. IKC
	// would deliver each element as its own message; a Freezer returns one.
	ErrNotOneValue = errors.New("frame does not hold exactly one value")
	// ErrTooDeep, ErrTooManyElements, ErrTooLarge: a Limits bound was hit.
	ErrTooDeep         = errors.New("nested too deep")
	ErrTooManyElements = errors.New("too many elements")
	ErrTooLarge        = errors.New("too large")

	// ErrNonASCIIText: Freeze was given a character string (UTF8 flag) with
	// non-ASCII characters, which would make the frame unreadable for a
	// Perl peer (capture g2b). The same for hash keys and class names.
	ErrNonASCIIText = errors.New("character string with non-ASCII characters cannot be sent with FreezeThaw")
	// ErrUnsupportedValue: a Value type outside perlcompat's model.
	ErrUnsupportedValue = errors.New("unsupported value")
)

// DecodeError says what was wrong with a frame and where.
type DecodeError struct {
	Offset int    // byte offset in the payload
	Err    error  // one of the sentinel errors
	Detail string // what exactly
	// CharMode is true when the error comes from the second reading that
	// counts UTF-8 characters (only reported when both readings fail and
	// the first failed later in the payload).
	CharMode bool
}

func (e *DecodeError) Error() string {
	mode := ""
	if e.CharMode {
		mode = " (reading lengths as UTF-8 characters)"
	}
	if e.Detail == "" {
		return fmt.Sprintf("freezethaw: offset %d%s: %v", e.Offset, mode, e.Err)
	}
	return fmt.Sprintf("freezethaw: offset %d%s: %v: %s", e.Offset, mode, e.Err, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError says which part of a value Freeze could not write.
type EncodeError struct {
	Path   string // where in the value, like $v->{params}[2]
	Err    error
	Detail string
}

func (e *EncodeError) Error() string {
	s := fmt.Sprintf("freezethaw: freeze %s: %v", e.Path, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *EncodeError) Unwrap() error { return e.Err }

// Freezer is FreezeThaw as an IKC freezer. The zero value uses
// DefaultLimits both ways.
type Freezer struct {
	Decoder Decoder
	Encoder Encoder
}

var _ perlcompat.Freezer = Freezer{}

// Name is the package name IKC negotiates.
func (Freezer) Name() string { return Name }

// Freeze appends the FreezeThaw text of v, as FreezeThaw::freeze($v).
func (f Freezer) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	return f.Encoder.Freeze(dst, v)
}

// Thaw decodes one frame payload, as the first value of FreezeThaw::thaw.
func (f Freezer) Thaw(payload []byte) (perlcompat.Value, error) {
	return f.Decoder.Thaw(payload)
}
