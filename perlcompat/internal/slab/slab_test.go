package slab

import (
	"strconv"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

var constructors = []struct {
	name string
	new  func([]byte) (Slab, string)
}{{"NewFor", NewFor}, {"NewForDense", NewForDense}}

func TestBoxedValuesReadBackAndSlicesStayInTheirLane(t *testing.T) {
	// Every first-chunk tier and none, for both: NewForDense's tiers
	// change at 42/43, 85/86, 170/171 and 341/342 bytes.
	sizes := []int{0, 42, 43, 64, 65, 85, 86, 128, 129, 170, 171, 256, 257, 341, 342, 400, 2000}
	for _, c := range constructors {
		for _, n := range sizes {
			t.Run(c.name+"/"+strconv.Itoa(n), func(t *testing.T) { testCopyAndLanes(t, c.new, n) })
		}
	}
}

func testCopyAndLanes(t *testing.T, newFor func([]byte) (Slab, string), n int) {
	input := make([]byte, n)
	for i := range input {
		input[i] = byte(i)
	}
	s, src := newFor(input)
	if src != string(input) {
		t.Fatalf("the copy of a %d-byte input differs from it", n)
	}
	for i := range input { // a copy: the caller's buffer is reused
		input[i] = 0xff
	}
	testLanes(t, s)
	for i := 0; i < n; i++ {
		if src[i] != byte(i) {
			t.Fatalf("the copy changed at %d: %#x", i, src[i])
		}
	}
}

func testLanes(t *testing.T, s Slab) {
	var vals []perlcompat.Value
	for i := 0; i < 100; i++ { // past several chunks
		vals = append(vals, s.Str(perlcompat.Str{S: "s", UTF8: i%2 == 1}), s.Int(perlcompat.Int(i*1000-50000)))
	}
	for i := 0; i < 100; i++ {
		if got := vals[2*i]; got != (perlcompat.Str{S: "s", UTF8: i%2 == 1}) {
			t.Fatalf("Str %d came back as %#v", i, got)
		}
		if got := vals[2*i+1]; got != perlcompat.Int(i*1000-50000) {
			t.Fatalf("Int %d came back as %#v", i, got)
		}
	}
	// An append past a slice's capacity must not overwrite its neighbour.
	a, b := s.Entries(2), s.Entries(2)
	b = append(b, perlcompat.Entry{Key: perlcompat.Str{S: "b"}})
	a = append(a, perlcompat.Entry{Key: perlcompat.Str{S: "a1"}}, perlcompat.Entry{Key: perlcompat.Str{S: "a2"}}, perlcompat.Entry{Key: perlcompat.Str{S: "a3"}})
	if b[0].Key.S != "b" || a[2].Key.S != "a3" {
		t.Fatalf("entries overlap: a %v, b %v", a, b)
	}
	if v := s.Values(3); len(v) != 3 || cap(v) != 3 {
		t.Fatalf("Values(3): len %d cap %d", len(v), cap(v))
	}
	if h, a := s.Hash(), s.Array(); h == s.Hash() || a == s.Array() {
		t.Fatal("a container was handed out twice")
	}
}

// A request of up to 256 bytes, Go's posts addressed by kernel ID and
// Perl's calls among them, gets its copy and its first chunks in one
// allocation.
func TestASmallInputCostsOneAllocation(t *testing.T) {
	for _, c := range []struct {
		name  string
		new   func([]byte) (Slab, string)
		sizes []int
	}{
		{"NewFor", NewFor, []int{1, 64, 82, 128, 150, 256}},
		{"NewForDense", NewForDense, []int{1, 42, 60, 85, 113, 170}}, // 113: a Perl call in Sereal
	} {
		for _, n := range c.sizes {
			input := make([]byte, n)
			var src string
			if allocs := testing.AllocsPerRun(100, func() { _, src = c.new(input) }); allocs != 1 {
				t.Errorf("%s of %d bytes: %v allocations, want 1", c.name, n, allocs)
			}
			if len(src) != n {
				t.Errorf("%s of %d bytes: a copy of %d", c.name, n, len(src))
			}
		}
	}
}
