package storable

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Storable opcodes ("SX_" markers in Storable.xs). The numbers are part of
// the format and never change.
const (
	opObject       = 0x00 // SX_OBJECT: back-reference, U32 tag
	opLScalar      = 0x01 // SX_LSCALAR: U32 len, bytes
	opArray        = 0x02 // SX_ARRAY: U32 n, n items
	opHash         = 0x03 // SX_HASH: U32 n, n × (value, U32 keylen, key)
	opRef          = 0x04 // SX_REF: item
	opUndef        = 0x05 // SX_UNDEF
	opInteger      = 0x06 // SX_INTEGER: native IV
	opDouble       = 0x07 // SX_DOUBLE: native NV
	opByte         = 0x08 // SX_BYTE: b, value b-128
	opNetint       = 0x09 // SX_NETINT: int32 big-endian
	opScalar       = 0x0a // SX_SCALAR: 1-byte len, bytes
	opTiedArray    = 0x0b // SX_TIED_ARRAY
	opTiedHash     = 0x0c // SX_TIED_HASH
	opTiedScalar   = 0x0d // SX_TIED_SCALAR
	opSvUndef      = 0x0e // SX_SV_UNDEF: PL_sv_undef
	opSvYes        = 0x0f // SX_SV_YES: PL_sv_yes
	opSvNo         = 0x10 // SX_SV_NO: PL_sv_no
	opBless        = 0x11 // SX_BLESS: class len, class, item
	opIxBless      = 0x12 // SX_IX_BLESS: class index, item
	opHook         = 0x13 // SX_HOOK: STORABLE_freeze output
	opOverload     = 0x14 // SX_OVERLOAD: as SX_REF
	opTiedKey      = 0x15 // SX_TIED_KEY
	opTiedIdx      = 0x16 // SX_TIED_IDX
	opUTF8Str      = 0x17 // SX_UTF8STR: 1-byte len, UTF-8 bytes
	opLUTF8Str     = 0x18 // SX_LUTF8STR: U32 len, UTF-8 bytes
	opFlagHash     = 0x19 // SX_FLAG_HASH: flags, U32 n, n × (value, kflags, U32 keylen, key)
	opCode         = 0x1a // SX_CODE: deparsed code ref
	opWeakRef      = 0x1b // SX_WEAKREF: as SX_REF
	opWeakOverload = 0x1c // SX_WEAKOVERLOAD: as SX_REF
	opVString      = 0x1d // SX_VSTRING: 1-byte len, magic, item
	opLVString     = 0x1e // SX_LVSTRING: U32 len, magic, item
	opSvUndefElem  = 0x1f // SX_SVUNDEF_ELEM: undef array element
	opRegexp       = 0x20 // SX_REGEXP: op flags, pattern, flags
	opLObject      = 0x21 // SX_LOBJECT: object larger than 2 GiB
	opBoolTrue     = 0x22 // SX_BOOLEAN_TRUE (Storable 3.32+, unknown to 3.26)
	opBoolFalse    = 0x23 // SX_BOOLEAN_FALSE (Storable 3.32+, unknown to 3.26)
	opLast         = 0x24 // first unassigned opcode
)

// Key flags of SX_FLAG_HASH entries (SHV_K_* in Storable.xs).
const (
	keyUTF8        = 0x01 // key bytes are UTF-8
	keyWasUTF8     = 0x02 // key was UTF-8, stored downgraded to Latin-1
	keyLocked      = 0x04 // restricted hash: key is read-only
	keyIsSV        = 0x08 // key is stored as a full item
	keyPlaceholder = 0x10 // restricted hash: allowed key with no value
)

var opNames = [opLast]string{
	"SX_OBJECT", "SX_LSCALAR", "SX_ARRAY", "SX_HASH", "SX_REF", "SX_UNDEF",
	"SX_INTEGER", "SX_DOUBLE", "SX_BYTE", "SX_NETINT", "SX_SCALAR",
	"SX_TIED_ARRAY", "SX_TIED_HASH", "SX_TIED_SCALAR", "SX_SV_UNDEF",
	"SX_SV_YES", "SX_SV_NO", "SX_BLESS", "SX_IX_BLESS", "SX_HOOK",
	"SX_OVERLOAD", "SX_TIED_KEY", "SX_TIED_IDX", "SX_UTF8STR", "SX_LUTF8STR",
	"SX_FLAG_HASH", "SX_CODE", "SX_WEAKREF", "SX_WEAKOVERLOAD", "SX_VSTRING",
	"SX_LVSTRING", "SX_SVUNDEF_ELEM", "SX_REGEXP", "SX_LOBJECT",
	"SX_BOOLEAN_TRUE", "SX_BOOLEAN_FALSE",
}

// OpName returns Storable's name for an opcode ("SX_HASH"), or "unknown"
// for a byte that is not one.
func OpName(op byte) string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "unknown"
}

// Sentinel errors. A DecodeError wraps one of them, so errors.Is works on
// anything Thaw returns; encoding errors wrap them too.
var (
	// ErrBadHeader: the image does not start with a Storable 2.x header
	// this package can read (major, byte order, native sizes).
	ErrBadHeader = errors.New("bad header")
	// ErrTruncated: the image ends inside an item.
	ErrTruncated = errors.New("truncated image")
	// ErrUnknownOpcode: a byte that is no Storable opcode.
	ErrUnknownOpcode = errors.New("unknown opcode")
	// ErrUnsupportedOpcode: a real Storable opcode this package does not
	// decode: hooks (STORABLE_freeze), tied containers, code refs, objects
	// over 2 GiB, long-double NVs.
	ErrUnsupportedOpcode = errors.New("unsupported opcode")
	// ErrTooDeep: arrays, hashes and references nest deeper than
	// Limits.MaxDepth.
	ErrTooDeep = errors.New("nested too deep")
	// ErrTooManyElements: an array or hash declares more elements than
	// Limits.MaxElements.
	ErrTooManyElements = errors.New("too many elements")
	// ErrBadTag: SX_OBJECT names a tag not yet seen.
	ErrBadTag = errors.New("back-reference to unknown tag")
	// ErrBadClassIndex: SX_IX_BLESS names a class not yet seen.
	ErrBadClassIndex = errors.New("unknown class index")
	// ErrClassNotAllowed: Decoder.AllowClass refused a class name. It is
	// perlcompat's, which RestrictClasses reports for every freezer.
	ErrClassNotAllowed = perlcompat.ErrClassNotAllowed
	// ErrMalformed: opcodes in an order Storable never writes (a bless
	// marker directly inside another, a v-string over a non-string).
	ErrMalformed = errors.New("malformed image")
	// ErrBadKey: an SX_FLAG_HASH key stored as an item is not a string.
	ErrBadKey = errors.New("hash key is not a string")

	// ErrNotReference: NFreeze was given a value that is not *Hash,
	// *Array or *Ref. Storable always freezes a reference.
	ErrNotReference = errors.New("storable: can only freeze a reference")
	// ErrUnsupportedValue: NFreeze met a value it cannot write (a nil
	// pointer or a type outside perlcompat's value model).
	ErrUnsupportedValue = errors.New("storable: unsupported value")
	// ErrTooLarge: a string, array or hash needs more than 32-bit lengths
	// (Storable's SX_LOBJECT, which this package does not write), or an
	// image to thaw is over 2 GiB (tags are 32-bit).
	ErrTooLarge = errors.New("too large for 32-bit lengths")
)

// DecodeError says where and in which item an image went wrong.
type DecodeError struct {
	// Offset is the byte offset in the image of the opcode whose item
	// failed (for header errors, where the header went wrong).
	Offset int
	// Op is that opcode; meaningless when Header is set.
	Op byte
	// Header is set when the image's header, not an item, is bad.
	Header bool
	// Err wraps one of the sentinel errors, with details.
	Err error
}

func (e *DecodeError) Error() string {
	if e.Header {
		return fmt.Sprintf("storable: header at offset %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("storable: %s (0x%02x) at offset %d: %v", OpName(e.Op), e.Op, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Limits bound what Thaw accepts and NFreeze writes. A zero field means its
// default. Allocation is also always bounded by the bytes actually present,
// whatever the limits say.
type Limits struct {
	// MaxDepth is the deepest array, hash or reference item allowed, the
	// root being at depth 1. Storable's nfreeze refuses arrays nested
	// deeper than $Storable::recursion_limit (512) and each nested array
	// costs a reference item plus the array item, so the default of 1024
	// accepts anything Perl's nfreeze writes with its default limits.
	MaxDepth int
	// MaxElements caps the declared element count of one array or the
	// key count of one hash. Storable itself has no cap below 2^31.
	// Default 1<<24.
	MaxElements int
}

// Default limits, see Limits.
const (
	DefaultMaxDepth    = 1024
	DefaultMaxElements = 1 << 24
)

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits {
	return Limits{MaxDepth: DefaultMaxDepth, MaxElements: DefaultMaxElements}
}

// Validate reports a negative limit. Zero fields are fine: they mean the
// default.
func (l Limits) Validate() error {
	if l.MaxDepth < 0 {
		return fmt.Errorf("storable: Limits.MaxDepth %d is negative", l.MaxDepth)
	}
	if l.MaxElements < 0 {
		return fmt.Errorf("storable: Limits.MaxElements %d is negative", l.MaxElements)
	}
	return nil
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements == 0 {
		l.MaxElements = DefaultMaxElements
	}
	return l
}
