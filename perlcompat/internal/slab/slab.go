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

// New returns a Slab for an input of n bytes.
func New(n int) Slab { return Slab{input: n} }

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
	if len(s.strs) == 0 {
		s.strs = make([]perlcompat.Str, s.chunk(48, 2, 1024))
	}
	p := &s.strs[0]
	*p = v
	s.strs = s.strs[1:]
	return perlcompat.BoxStr(p)
}

// Int is Str for integers (Go boxes 0..255 without allocating).
func (s *Slab) Int(i perlcompat.Int) perlcompat.Value {
	if i >= 0 && i < 256 {
		return i
	}
	if len(s.ints) == 0 {
		s.ints = make([]perlcompat.Int, s.chunk(64, 2, 1024))
	}
	p := &s.ints[0]
	*p = i
	s.ints = s.ints[1:]
	var box perlcompat.Value = perlcompat.Int(0)
	(*[2]unsafe.Pointer)(unsafe.Pointer(&box))[1] = unsafe.Pointer(p)
	return box
}

// Hash returns a new empty hash.
func (s *Slab) Hash() *perlcompat.Hash {
	if len(s.hashes) == 0 {
		s.hashes = make([]perlcompat.Hash, s.chunk(128, 2, 256))
	}
	h := &s.hashes[0]
	s.hashes = s.hashes[1:]
	return h
}

// Array returns a new empty array.
func (s *Slab) Array() *perlcompat.Array {
	if len(s.arrays) == 0 {
		s.arrays = make([]perlcompat.Array, s.chunk(128, 2, 256))
	}
	a := &s.arrays[0]
	s.arrays = s.arrays[1:]
	return a
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
