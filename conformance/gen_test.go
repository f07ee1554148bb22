package conformance

import (
	"math"
	"math/rand"
	"strings"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// valueGen makes random Go values of every kind the Perl model has: undef,
// strings (bytes, Latin-1, binary with NUL, UTF-8 text, flagged ASCII,
// empty, around the 255/256-byte boundary, 64 KiB+), integers of every
// range, unsigned above 2^63, floats (edges, NaN, infinities, -0, random
// bits), booleans, arrays and hashes nested up to depth 6 (empty ones,
// rarely 10,000 elements), keys of every kind, blessed hashes, arrays and
// scalars (classes repeat, one longer than 127 bytes), scalar refs, refs
// to refs, shared refs and cycles. Everything Go can express; Perl's
// dualvars have no Go form.
type valueGen struct {
	r        *rand.Rand
	pool     []perlcompat.Value // refs that may be shared
	maxDepth int
	bigProb  float64 // chance that a container is a 1,000/10,000-element one
	bigStr   float64 // chance that a string is a 64 KiB+ one
}

func newValueGen(seed int64) *valueGen {
	return &valueGen{r: rand.New(rand.NewSource(seed)), bigProb: 0.0001, bigStr: 0.0004}
}

var genClasses = []string{"Foo", "Foo::Bar", "IKC::Thing", "A", "Caf\xe9::X",
	"Very::Long::" + strings.Repeat("Name", 40)}

var genInts = []int64{0, 1, -1, 42, -17, 127, 128, -128, -129, 200, 255, 256, -100000,
	32767, 32768, -32768, -32769, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32,
	math.MinInt32 - 1, 1<<32 - 1, 1 << 32, 1 << 40, -(1 << 40), 1<<53 - 1, 1 << 53,
	1 << 62, math.MaxInt64, -math.MaxInt64, math.MinInt64}

var genFloats = []float64{0.1, -0.5, 3.14159, 1e100, -2.5e-7, 1.0, 2.0, math.Copysign(0, -1), 0.5, 1e15,
	1e16, 1 << 31, 1 << 53, 1<<53 - 1, 1 << 60, 1 << 63, 1 << 64, -(1 << 63), 1e300, -1e-300,
	5e-324, 2.2250738585072014e-308, math.MaxFloat64, 123456.789, math.Inf(1), math.Inf(-1),
	math.NaN(), 1e21, 0.000123, 1.0 / 3, 1e-5, 100, -4096, 1e14 + 0.5}

func (g *valueGen) pick(n int) int { return g.r.Intn(n) }

func (g *valueGen) int64() int64 {
	switch x := g.r.Float64(); {
	case x < 0.35:
		return genInts[g.pick(len(genInts))]
	case x < 0.55:
		return int64(g.pick(256)) - 128
	case x < 0.7:
		return int64(g.r.Uint32()) - 1<<31
	case x < 0.85:
		return int64(g.r.Uint64())
	default:
		return int64(g.r.Uint32()) >> g.pick(32) * int64(1-2*g.pick(2))
	}
}

func (g *valueGen) uint64() uint64 {
	switch x := g.r.Float64(); {
	case x < 0.3:
		return []uint64{1 << 63, math.MaxUint64, 12345678901234567890, 0, 5, 1<<31 - 1, 1 << 31}[g.pick(7)]
	case x < 0.6:
		return g.r.Uint64() | 1<<63
	default:
		return g.r.Uint64() >> g.pick(64)
	}
}

func (g *valueGen) float() float64 {
	switch x := g.r.Float64(); {
	case x < 0.45:
		return genFloats[g.pick(len(genFloats))]
	case x < 0.75:
		return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.pick(40)-20))
	case x < 0.85:
		return float64(g.pick(1e6))
	default:
		return math.Float64frombits(g.r.Uint64())
	}
}

func (g *valueGen) ascii(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(32 + g.pick(95))
	}
	return string(b)
}

func (g *valueGen) bytesIn(n, lo, span int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(lo + g.pick(span))
	}
	return string(b)
}

var genRunes = []rune{0x41, 0xe9, 0x263a, 0x1f600, 0x4e2d, 0xff, 0x100, 0x7ff, 0x800, 0xffff, 0x10ffff, 0x80}

func (g *valueGen) str() perlcompat.Str {
	n := []int{0, 1, 2, 5, 10, 30, g.pick(100)}[g.pick(7)]
	switch x := g.r.Float64(); {
	case x < 0.25:
		return perlcompat.Str{S: g.ascii(n)}
	case x < 0.35:
		parts := []string{"a", "\n", "\r\n", "\t", "\x00", " ", "\"", "\\", "$"}
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(parts[g.pick(len(parts))])
		}
		return perlcompat.Str{S: b.String()}
	case x < 0.5:
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteRune(genRunes[g.pick(len(genRunes))])
		}
		return perlcompat.Str{S: b.String(), UTF8: true}
	case x < 0.58:
		return perlcompat.Str{S: g.ascii(n), UTF8: true} // flagged ASCII
	case x < 0.66:
		return perlcompat.Str{S: perlcompat.Str{S: g.bytesIn(n, 0x80, 128)}.Chars(), UTF8: true} // flagged Latin-1
	case x < 0.76:
		return perlcompat.Str{S: g.bytesIn(n, 0x80, 128)} // Latin-1 bytes
	case x < 0.84:
		return perlcompat.Str{S: g.bytesIn(n, 0, 256)} // binary
	case x < 0.88:
		return perlcompat.Str{S: "", UTF8: g.pick(2) == 0}
	case x < 0.93:
		return perlcompat.Str{S: strings.Repeat("x", []int{254, 255, 256, 257, 1000}[g.pick(5)])}
	case x < 0.97:
		return perlcompat.Str{S: strings.Repeat("\u263a", []int{84, 85, 86, 300}[g.pick(4)]), UTF8: true}
	case x < 0.97+g.bigStr:
		var b strings.Builder
		n := []int{65535, 65536, 69999}[g.pick(3)]
		for i := 0; i < n; i++ {
			b.WriteByte(byte('A' + i%26))
		}
		if g.pick(2) == 0 {
			return perlcompat.Str{S: "\u263a" + b.String(), UTF8: true}
		}
		return perlcompat.Str{S: b.String()}
	default:
		return perlcompat.Str{S: g.bytesIn([]int{255, 256}[g.pick(2)], 0, 256)}
	}
}

func (g *valueGen) key() perlcompat.Str {
	switch x := g.r.Float64(); {
	case x < 0.4:
		return perlcompat.Str{S: g.ascii([]int{1, 3, 6, 10}[g.pick(4)])}
	case x < 0.45:
		return perlcompat.Str{}
	case x < 0.55:
		s := []string{"café \u263a", "\u263a", "k\U0001f600", "\u4e2d\u6587"}[g.pick(4)]
		return perlcompat.Str{S: s + string(rune('0'+g.pick(10))), UTF8: true}
	case x < 0.62:
		return perlcompat.Str{S: "clé" + string(rune('0'+g.pick(10))), UTF8: true} // Latin-1 range, flagged
	case x < 0.67:
		return perlcompat.Str{S: g.ascii(3), UTF8: true} // flagged ASCII
	case x < 0.75:
		return perlcompat.Str{S: "cl\xe9" + g.bytesIn(1, 0x80, 128)} // Latin-1 bytes
	case x < 0.82:
		return perlcompat.Str{S: []string{"a\nb", "nul\x00key", "\x00", "\r\n", "tab\tx"}[g.pick(5)]}
	case x < 0.88:
		return perlcompat.Str{S: "$" + g.ascii(2)}
	case x < 0.93:
		return perlcompat.Str{S: []string{"event", "params", "rsvp", "from", "kernel", "session", "state"}[g.pick(7)]}
	default:
		return perlcompat.Str{S: g.bytesIn([]int{1, 4, 8}[g.pick(3)], 0, 256)}
	}
}

func (g *valueGen) scalar() perlcompat.Value {
	switch x := g.r.Float64(); {
	case x < 0.05:
		return perlcompat.Undef{}
	case x < 0.07:
		return nil
	case x < 0.3:
		return perlcompat.Int(g.int64())
	case x < 0.36:
		return perlcompat.Uint(g.uint64())
	case x < 0.5:
		return perlcompat.Float(g.float())
	case x < 0.54:
		return perlcompat.Bool(g.pick(2) == 0)
	default:
		return g.str()
	}
}

func (g *valueGen) value(depth int) perlcompat.Value {
	x := g.r.Float64()
	if depth >= g.maxDepth || x < 0.55 {
		return g.scalar()
	}
	if x < 0.62 && len(g.pool) > 0 {
		return g.pool[g.pick(len(g.pool))] // shared, maybe an ancestor: a cycle
	}
	return g.ref(depth)
}

func (g *valueGen) class() string {
	if g.r.Float64() < 0.12 {
		return genClasses[g.pick(len(genClasses))]
	}
	return ""
}

func (g *valueGen) ref(depth int) perlcompat.Value {
	switch x := g.r.Float64(); {
	case x < 0.38:
		a := &perlcompat.Array{Class: g.class()}
		g.pool = append(g.pool, a)
		n := g.pick(8)
		if g.r.Float64() < 0.1 {
			n = 0
		}
		if g.r.Float64() < g.bigProb {
			n = []int{1000, 10000}[g.pick(2)]
		}
		for i := 0; i < n; i++ {
			if n > 100 {
				a.Elems = append(a.Elems, g.scalar())
			} else {
				a.Elems = append(a.Elems, g.value(depth+1))
			}
		}
		return a
	case x < 0.76:
		h := &perlcompat.Hash{Class: g.class()}
		g.pool = append(g.pool, h)
		n := g.pick(8)
		if g.r.Float64() < 0.1 {
			n = 0
		}
		if g.r.Float64() < g.bigProb {
			n = 1000
		}
		for i := 0; i < n; i++ {
			g.setKey(h, g.key(), g.value(depth+1))
		}
		return h
	case x < 0.86:
		t := g.scalar()
		r := &perlcompat.Ref{Target: t}
		if _, isBool := t.(perlcompat.Bool); !isBool {
			// Perl can't bless PL_sv_yes/no, and refs to them have no
			// identity to share (see Describe).
			r.Class = g.class()
			g.pool = append(g.pool, r)
		}
		return r
	case x < 0.95:
		r := &perlcompat.Ref{Class: g.class()}
		r.Target = g.ref(depth + 1) // ref to a ref
		g.pool = append(g.pool, r)
		return r
	default:
		r := &perlcompat.Ref{Class: g.class()}
		r.Target = r // $x = \$x
		g.pool = append(g.pool, r)
		return r
	}
}

// setKey adds a key unless Perl would see it as one already there.
func (g *valueGen) setKey(h *perlcompat.Hash, k perlcompat.Str, v perlcompat.Value) {
	if !utf8.ValidString(k.S) && k.UTF8 {
		return
	}
	if h.Index(k) >= 0 {
		return
	}
	h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: v})
}

// structure returns one root value: a hash most of the time (an IKC
// message), else any reference.
func (g *valueGen) structure() perlcompat.Value {
	g.pool = g.pool[:0]
	g.maxDepth = 1 + g.pick(6)
	if g.r.Float64() < 0.7 {
		h := &perlcompat.Hash{}
		if g.r.Float64() < 0.05 {
			h.Class = genClasses[g.pick(len(genClasses))]
		}
		g.pool = append(g.pool, h)
		for i := g.pick(6); i >= 0; i-- {
			g.setKey(h, g.key(), g.value(1))
		}
		return h
	}
	return g.ref(0)
}
