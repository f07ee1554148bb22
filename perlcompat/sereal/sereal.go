// Package sereal is a perlcompat.Freezer for the Sereal format, as written
// and read by Perl's Sereal::Encoder and Sereal::Decoder (protocols 1 to 5).
//
// IKC has no Sereal freezer of its own: two Perl kernels use Sereal when both
// can load a small adapter package with freeze and thaw functions (see
// perlcompat/perl/lib/ikcgate/Sereal.pm). The package name is all the wire
// carries, so Config.Name must be the name the Perl side offers.
//
// The encoder and decoder are written here rather than taken from
// github.com/Sereal/Sereal/Go/sereal: that library decodes into interface{}
// and so cannot keep what perlcompat must keep (byte versus UTF-8 strings,
// blessing of arrays and scalar refs, shared references, ALIAS, cycles), and
// it trusts counts and offsets in the document. This decoder bounds every
// allocation by the bytes received, bounds nesting, and never panics.
package sereal

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// DefaultName is the Perl package name of the adapter shipped in
// perlcompat/perl/lib/ikcgate/Sereal.pm.
const DefaultName = "ikcgate::Sereal"

// DefaultProtocolVersion is the Sereal protocol Freeze writes unless told
// otherwise. Version 3 is read by every Sereal::Decoder since 3.0 (2014),
// by the upstream Go library, and by the 5.003 decoder the captures were
// made with; 4 and 5 add nothing an IKC message needs.
const DefaultProtocolVersion = 3

// DefaultMaxDepth bounds nesting in both directions. It matches JSON::PP's
// default max_depth; IKC requests are a few levels deep. Sereal::Decoder's
// own limit (max_recursion_depth) is 10000.
const DefaultMaxDepth = 512

// DefaultMaxUncompressedSize bounds the body of a compressed document after
// decompression (POE::Filter::Reference's own buffer limit is 512 MiB; a
// frame expanding past this is refused before it is inflated).
const DefaultMaxUncompressedSize = 64 << 20

// Config configures a Freezer. The zero value gives the defaults.
type Config struct {
	// Name is the Perl package name the kernels negotiate
	// (default DefaultName). The captures use "IKCFixture::SerealFreezer".
	Name string
	// ProtocolVersion is the Sereal protocol Freeze writes, 1 to 5
	// (default DefaultProtocolVersion). Thaw reads all of them. On a
	// channel (ForChannel) it is the highest version written: a peer that
	// sends an older version is answered in that version, which its
	// Sereal::Decoder is sure to read.
	ProtocolVersion int
	// MaxDepth bounds nesting of references and containers
	// (default DefaultMaxDepth).
	MaxDepth int
	// MaxUncompressedSize bounds a compressed body once inflated
	// (default DefaultMaxUncompressedSize).
	MaxUncompressedSize int
}

// Freezer freezes and thaws Sereal documents. It is safe for concurrent use.
type Freezer struct {
	name       string
	version    int
	maxDepth   int
	maxInflate int
	peer       *atomic.Int32 // per channel: the version the peer last wrote
}

var (
	_ perlcompat.ChannelFreezer      = (*Freezer)(nil)
	_ perlcompat.ClassCheckingThawer = (*Freezer)(nil)
)

// ForChannel returns a copy for one channel, which answers in the
// protocol version the peer writes when that is older than ProtocolVersion.
func (f *Freezer) ForChannel() perlcompat.Freezer {
	c := *f
	c.peer = new(atomic.Int32)
	return &c
}

// writeVersion is the version Freeze uses now.
func (f *Freezer) writeVersion() int {
	if f.peer != nil {
		if p := int(f.peer.Load()); p > 0 && p < f.version {
			return p
		}
	}
	return f.version
}

// New returns a Freezer for cfg. It fails only on an unknown protocol
// version or a negative limit.
func New(cfg Config) (*Freezer, error) {
	f := &Freezer{
		name:       cfg.Name,
		version:    cfg.ProtocolVersion,
		maxDepth:   cfg.MaxDepth,
		maxInflate: cfg.MaxUncompressedSize,
	}
	if f.name == "" {
		f.name = DefaultName
	}
	if f.version == 0 {
		f.version = DefaultProtocolVersion
	}
	if f.version < 1 || f.version > 5 {
		return nil, fmt.Errorf("sereal: protocol version %d: want 1 to 5", cfg.ProtocolVersion)
	}
	if f.maxDepth < 0 || f.maxInflate < 0 {
		return nil, errors.New("sereal: negative limit")
	}
	if f.maxDepth == 0 {
		f.maxDepth = DefaultMaxDepth
	}
	if f.maxInflate == 0 {
		f.maxInflate = DefaultMaxUncompressedSize
	}
	return f, nil
}

// Name returns the Perl package name the kernels negotiate.
func (f *Freezer) Name() string { return f.name }

// ErrUnsupported is wrapped by errors for valid Sereal that perlcompat has
// no value for (REGEXP, OBJECT_FREEZE, zstd bodies, ...).
var ErrUnsupported = errors.New("unsupported")

// ErrTooDeep is wrapped when nesting exceeds Config.MaxDepth.
var ErrTooDeep = errors.New("nesting too deep")

// ErrTruncated is wrapped when the document ends inside an item.
var ErrTruncated = errors.New("unexpected end of document")

// DecodeError reports a document Thaw cannot read. Offset is the position
// in the payload (or in the inflated body, for compressed documents) of the
// item at fault.
type DecodeError struct {
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("sereal: thaw: %v at offset %d", e.Err, e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a value Freeze cannot write.
type EncodeError struct {
	Err error
}

func (e *EncodeError) Error() string { return "sereal: freeze: " + e.Err.Error() }

func (e *EncodeError) Unwrap() error { return e.Err }
