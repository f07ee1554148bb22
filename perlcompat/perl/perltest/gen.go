package perltest

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Gen makes random perlcompat values for round-trip tests. The zero value
// makes only what JSON carries: no blessing, no scalar refs, no sharing.
type Gen struct {
	R        *rand.Rand
	Blessed  bool // blessed arrays, hashes and scalar refs
	Refs     bool // refs to scalars and to refs
	Shared   bool // the same pointer in several places, and cycles
	Bools    bool // perlcompat.Bool values
	Uints    bool // perlcompat.Uint above int64
	MaxDepth int  // default 4

	pool []perlcompat.Value // containers made so far, for sharing
}

var classes = []string{"Foo", "Foo::Bar", "IKC::Thing", "Caf\u00e9::Klass"}

var texts = []string{
	"", "a", "event", "poe://Kernel/session/state", "caf\u00e9", "\u263a smile", "\U0001F600",
	"line\nbreak\ttab\r", "\"quoted\\\"", "/slash", "007", "42", "3.14", "-0", "1e5", " ",
	"\x00nul", "\x7f", strings.Repeat("long ", 20),
}

// Str returns a random string: ASCII or not, bytes or characters.
func (g *Gen) Str() perlcompat.Str {
	switch g.R.IntN(6) {
	case 0: // arbitrary bytes
		b := make([]byte, g.R.IntN(40))
		for i := range b {
			b[i] = byte(g.R.IntN(256))
		}
		return perlcompat.Str{S: string(b)}
	case 1: // Latin-1 bytes
		return perlcompat.Str{S: "caf\xe9 \xff\x80"[:1+g.R.IntN(7)]}
	case 2: // random code points
		var sb strings.Builder
		for i := g.R.IntN(12); i > 0; i-- {
			r := rune(g.R.IntN(0x10FFFF))
			if r >= 0xD800 && r < 0xE000 {
				r = 0xE9
			}
			sb.WriteRune(r)
		}
		return perlcompat.Text(sb.String())
	case 3: // a character string that is ASCII: the flag is still on
		return perlcompat.Str{S: texts[g.R.IntN(4)], UTF8: true}
	}
	return perlcompat.Text(texts[g.R.IntN(len(texts))])
}

// Scalar returns a random non-reference value.
func (g *Gen) Scalar() perlcompat.Value {
	switch g.R.IntN(9) {
	case 0:
		return perlcompat.Undef{}
	case 1, 2:
		return g.Str()
	case 3:
		return perlcompat.Int(g.R.IntN(40) - 20)
	case 4:
		edges := []int64{127, 128, -128, -129, 1 << 31, -1 << 31, 1<<31 - 1, 1 << 40, math.MaxInt64, math.MinInt64}
		if g.R.IntN(2) == 0 {
			return perlcompat.Int(edges[g.R.IntN(len(edges))])
		}
		return perlcompat.Int(g.R.Int64() >> g.R.IntN(64))
	case 5:
		if g.Uints {
			return perlcompat.Uint(math.MaxInt64 + 1 + g.R.Uint64()>>1)
		}
		return perlcompat.Int(-g.R.Int64N(1 << 53))
	case 6:
		edges := []float64{0.5, -0.5, 0.1, 3.14159, -2.5e-7, 1e100, 1.5e300, 5e-324, 1e15 + 0.5, 123456.789}
		if g.R.IntN(2) == 0 {
			return perlcompat.Float(edges[g.R.IntN(len(edges))])
		}
		return perlcompat.Float((g.R.Float64() - 0.5) * math.Pow(10, float64(g.R.IntN(40)-20)))
	case 7:
		if g.Bools {
			return perlcompat.Bool(g.R.IntN(2) == 0)
		}
		return perlcompat.Int(1)
	}
	return g.Str()
}

// Value returns a random value; the root is always a reference.
func (g *Gen) Value() perlcompat.Value {
	g.pool = g.pool[:0]
	if g.R.IntN(4) == 0 {
		return g.array(0)
	}
	return g.hash(0)
}

func (g *Gen) any(depth int) perlcompat.Value {
	max := g.MaxDepth
	if max == 0 {
		max = 4
	}
	if g.Shared && len(g.pool) > 0 && g.R.IntN(8) == 0 {
		return g.pool[g.R.IntN(len(g.pool))] // shared, maybe a cycle
	}
	if depth >= max {
		return g.Scalar()
	}
	switch g.R.IntN(8) {
	case 0:
		return g.array(depth + 1)
	case 1:
		return g.hash(depth + 1)
	case 2:
		if g.Refs {
			r := &perlcompat.Ref{}
			g.pool = append(g.pool, r)
			if g.Blessed && g.R.IntN(3) == 0 {
				r.Class = classes[g.R.IntN(len(classes))]
			}
			r.Target = g.any(depth + 1)
			return r
		}
	}
	return g.Scalar()
}

func (g *Gen) array(depth int) *perlcompat.Array {
	a := &perlcompat.Array{}
	g.pool = append(g.pool, a)
	if g.Blessed && g.R.IntN(4) == 0 {
		a.Class = classes[g.R.IntN(len(classes))]
	}
	n := g.R.IntN(6)
	if g.R.IntN(10) == 0 {
		n = 16 + g.R.IntN(20)
	}
	for i := 0; i < n; i++ {
		a.Elems = append(a.Elems, g.any(depth))
	}
	return a
}

func (g *Gen) hash(depth int) *perlcompat.Hash {
	h := &perlcompat.Hash{}
	g.pool = append(g.pool, h)
	if g.Blessed && g.R.IntN(4) == 0 {
		h.Class = classes[g.R.IntN(len(classes))]
	}
	n := g.R.IntN(6)
	if g.R.IntN(10) == 0 {
		n = 16 + g.R.IntN(20)
	}
	for i := 0; i < n; i++ {
		k := g.Str()
		if h.Index(k) >= 0 {
			continue
		}
		h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: g.any(depth)})
	}
	return h
}
