// Package slab carves a decoder's values from chunks sized from its
// input, so a message of many small hashes, strings and integers costs a
// few allocations instead of several per value. The Storable and Sereal
// decoders share it.
//
// Everything handed out keeps its chunk alive, and nothing is written
// again once handed out, so the values are as immutable as ordinary ones.
package slab

import (
	"unsafe"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Slab is one decode's allocator; the zero value works, with small chunks.
type Slab struct {
	input   int // the input's length: chunk lengths scale with it
	strs    []perlcompat.Str
	ints    []perlcompat.Int
	hashes  []perlcompat.Hash
	arrays  []perlcompat.Array
	entries []perlcompat.Entry
	values  []perlcompat.Value
}

// NewFor returns a Slab for input, and input copied to a string: the
// decoder's strings are slices of that one copy. An input of up to 256
// bytes (a Go kernel's post, a Perl call) gets its first chunks of every
// kind and its copy in one allocation (see firstChunks): the copy alone
// was a tenth of the server's CPU for a stream of posts.
func NewFor(input []byte) (Slab, string) { return newFor(input, len(input)) }

// NewForDense is NewFor for a format that packs values tighter than
// Storable, as Sereal does (one-byte tags for short strings and small
// integers, repeated hash keys as back-references): its chunks are sized
// as for an input half as long again. Sized by its own length, a
// 113-byte Sereal call got a post's first chunks and allocated 9 times
// more; it now gets a call's, as Storable's 153 bytes of it do.
func NewForDense(input []byte) (Slab, string) {
	return newFor(input, len(input)+len(input)/2)
}

// newFor sizes the slab for an input of n bytes (n >= len(input)).
func newFor(input []byte, n int) (Slab, string) {
	s := Slab{input: n}
	// Sized for IKC's messages: up to 128 bytes, a post or a reply of
	// one string and an array (a hash of 2 entries; 60 bytes addressed by
	// kernel name, 80-100 by kernel ID); up to 256, a call with from and
	// rsvp hashes (3 hashes, 13 entries). Chunks under 512 bytes also
	// spare the allocator a type header.
	switch {
	case n <= 64:
		a := new(firstChunks[[2]perlcompat.Str, [1]perlcompat.Int, [1]perlcompat.Hash, [1]perlcompat.Array, [2]perlcompat.Entry, [2]perlcompat.Value, [64]byte])
		s.strs, s.ints, s.hashes, s.arrays, s.entries, s.values = a.strs[:], a.ints[:], a.hashes[:], a.arrays[:], a.entries[:], a.values[:]
		if len(input) == 0 {
			return s, ""
		}
		copy(a.src[:], input)
		return s, unsafe.String(&a.src[0], len(input))
	case n <= 128:
		a := new(firstChunks[[2]perlcompat.Str, [1]perlcompat.Int, [1]perlcompat.Hash, [1]perlcompat.Array, [2]perlcompat.Entry, [2]perlcompat.Value, [128]byte])
		s.strs, s.ints, s.hashes, s.arrays, s.entries, s.values = a.strs[:], a.ints[:], a.hashes[:], a.arrays[:], a.entries[:], a.values[:]
		copy(a.src[:], input)
		return s, unsafe.String(&a.src[0], len(input))
	case n <= 256:
		a := new(firstChunks[[8]perlcompat.Str, [2]perlcompat.Int, [3]perlcompat.Hash, [1]perlcompat.Array, [14]perlcompat.Entry, [4]perlcompat.Value, [256]byte])
		s.strs, s.ints, s.hashes, s.arrays, s.entries, s.values = a.strs[:], a.ints[:], a.hashes[:], a.arrays[:], a.entries[:], a.values[:]
		copy(a.src[:], input)
		return s, unsafe.String(&a.src[0], len(input))
	case n <= 512:
		a := new(firstChunks[[12]perlcompat.Str, [4]perlcompat.Int, [4]perlcompat.Hash, [2]perlcompat.Array, [16]perlcompat.Entry, [4]perlcompat.Value, struct{}])
		s.strs, s.ints, s.hashes, s.arrays, s.entries, s.values = a.strs[:], a.ints[:], a.hashes[:], a.arrays[:], a.entries[:], a.values[:]
	}
	return s, string(input)
}

// firstChunks is a small input's first chunk of every kind in one
// allocation: a request of an envelope hash, a few strings and a from
// hash costs one allocation for its values instead of one per kind,
// which was most of the allocations of a small request's decode. src
// holds a small input's copy (its bytes are not scanned: the collector
// knows they hold no pointers).
type firstChunks[S, I, H, A, E, V, B any] struct {
	strs    S
	ints    I
	hashes  H
	arrays  A
	entries E
	values  V
	src     B
}

// chunk is the chunk length for items of about per input bytes each: a
// small input gets small chunks, so a 150-byte request allocates little.
func (s *Slab) chunk(per, lo, hi int) int {
	return min(max(s.input/per, lo), hi)
}

// Str returns v as a Value without an allocation per string: the Str
// lives in a chunk and the interface points at it. Converting a Str to an
// interface the ordinary way copies it to a fresh heap object, which for
// a message of many short strings was a decoder's biggest cost.
func (s *Slab) Str(v perlcompat.Str) perlcompat.Value {
	p := next(&s.strs, s.chunk(48, 2, 1024))
	*p = v
	return perlcompat.BoxStr(p)
}

// Int is Str for integers (Go boxes 0..255 without allocating).
func (s *Slab) Int(i perlcompat.Int) perlcompat.Value {
	if i >= 0 && i < 256 {
		return i
	}
	p := next(&s.ints, s.chunk(64, 2, 1024))
	*p = i
	return perlcompat.BoxInt(p)
}

// next hands out the first item of *chunk, refilling it with n fresh
// zero items when it is empty.
func next[T any](chunk *[]T, n int) *T {
	if len(*chunk) == 0 {
		*chunk = make([]T, n)
	}
	p := &(*chunk)[0]
	*chunk = (*chunk)[1:]
	return p
}

// Hash returns a new empty hash.
func (s *Slab) Hash() *perlcompat.Hash {
	return next(&s.hashes, s.chunk(128, 2, 256))
}

// Array returns a new empty array.
func (s *Slab) Array() *perlcompat.Array {
	return next(&s.arrays, s.chunk(128, 2, 256))
}

// Entries returns a zero-length slice with capacity n whose appends
// cannot reach into the rest of the chunk.
func (s *Slab) Entries(n int) []perlcompat.Entry {
	if n > 256 {
		return make([]perlcompat.Entry, 0, n)
	}
	if len(s.entries) < n {
		s.entries = make([]perlcompat.Entry, max(n, s.chunk(16, 8, 4096)))
	}
	es := s.entries[:0:n]
	s.entries = s.entries[n:]
	return es
}

// Values returns a slice of n nil values, capacity n.
func (s *Slab) Values(n int) []perlcompat.Value {
	if n > 256 {
		return make([]perlcompat.Value, n)
	}
	if len(s.values) < n {
		s.values = make([]perlcompat.Value, max(n, s.chunk(16, 8, 4096)))
	}
	vs := s.values[:n:n]
	s.values = s.values[n:]
	return vs
}
