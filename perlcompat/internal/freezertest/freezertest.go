// Package freezertest holds what the text freezers' tests share: reading
// capture frames, the captures' value notation, a description of values
// that the Perl twin describe.pl writes identically, running Perl, and a
// random value generator. It is internal and used only by tests.
package freezertest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// CaptureFrame is one frame of a capture with what Perl thawed from it.
type CaptureFrame struct {
	Name     string
	Payload  []byte
	Value    any    // expect.json "value", decoded with UseNumber
	ThawErr  string // expect.json "thaw_error"
	HasValue bool
}

// loadFrames cuts the frames of a scenario out of its .bin streams at the
// offsets expect.json gives.
func LoadFrames(t testing.TB, capturesDir, scenario string) []CaptureFrame {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(capturesDir, scenario+".expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Frames []struct {
			Dir           string          `json:"dir"`
			Index         int             `json:"index"`
			Offset        int             `json:"offset"`
			HeaderLength  int             `json:"header_length"`
			PayloadLength int             `json:"payload_length"`
			Value         json.RawMessage `json:"value"`
			ThawError     string          `json:"thaw_error"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	streams := map[string][]byte{}
	var out []CaptureFrame
	for _, f := range exp.Frames {
		s, ok := streams[f.Dir]
		if !ok {
			s, err = os.ReadFile(filepath.Join(capturesDir, scenario+"."+f.Dir+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			streams[f.Dir] = s
		}
		start := f.Offset + f.HeaderLength
		cf := CaptureFrame{
			Name:    fmt.Sprintf("%s/%s/%d", scenario, f.Dir, f.Index),
			Payload: s[start : start+f.PayloadLength],
			ThawErr: f.ThawError,
		}
		if len(f.Value) > 0 {
			dec := json.NewDecoder(bytes.NewReader(f.Value))
			dec.UseNumber()
			if err := dec.Decode(&cf.Value); err != nil {
				t.Fatal(err)
			}
			cf.HasValue = true
		}
		out = append(out, cf)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no frames", scenario)
	}
	return out
}

// notation turns a Value into the JSON value notation of the captures'
// README (strings, {"$bytes"}, {"$ref"}, {"$blessed","$value"}, ...).
func Notation(v perlcompat.Value, depth int) any {
	if depth > 200 {
		return "<cycle>"
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return nil
	case perlcompat.Str:
		if x.UTF8 || perlcompat.IsASCII(x.S) {
			return x.Chars()
		}
		return map[string]any{"$bytes": hex.EncodeToString([]byte(x.S))}
	case perlcompat.Int:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case perlcompat.Uint:
		return json.Number(strconv.FormatUint(uint64(x), 10))
	case perlcompat.Float:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 64))
	case perlcompat.Bool:
		if x {
			return json.Number("1")
		}
		return ""
	case *perlcompat.Array:
		a := make([]any, 0, len(x.Elems))
		for _, e := range x.Elems {
			a = append(a, Notation(e, depth+1))
		}
		return blessedNotation(x.Class, a)
	case *perlcompat.Hash:
		m := map[string]any{}
		for _, e := range x.Entries {
			k := e.Key.Chars()
			if !e.Key.UTF8 && !perlcompat.IsASCII(e.Key.S) {
				k = "$bytes:" + hex.EncodeToString([]byte(e.Key.S))
			} else if strings.HasPrefix(k, "$") {
				k = "$" + k
			}
			m[k] = Notation(e.Value, depth+1)
		}
		return blessedNotation(x.Class, m)
	case *perlcompat.Ref:
		return blessedNotation(x.Class, map[string]any{"$ref": Notation(x.Target, depth+1)})
	}
	return fmt.Sprintf("<%T>", v)
}

func blessedNotation(class string, v any) any {
	if class == "" {
		return v
	}
	return map[string]any{"$blessed": class, "$value": v}
}

// numbersByValue compares JSON numbers by value (1.0 and 1 are equal).
var NumbersByValue = cmp.Comparer(func(a, b json.Number) bool {
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
})

// Describe is the Go twin of describe.pl, beside this file.
func Describe(v perlcompat.Value, loose bool) string {
	var b strings.Builder
	ids := map[any]int{}
	var walk func(v perlcompat.Value)
	walk = func(v perlcompat.Value) {
		switch x := v.(type) {
		case nil, perlcompat.Undef:
			b.WriteString("u")
		case perlcompat.Str:
			switch {
			case loose:
				b.WriteString("s:" + hex.EncodeToString([]byte(x.Chars())))
			case x.UTF8:
				b.WriteString("c:" + hex.EncodeToString([]byte(x.S)))
			default:
				b.WriteString("b:" + hex.EncodeToString([]byte(x.S)))
			}
		case perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
			if loose {
				s, _ := perlcompat.StringOf(x)
				b.WriteString("s:" + hex.EncodeToString([]byte(s)))
				return
			}
			switch x := x.(type) {
			case perlcompat.Int:
				b.WriteString("i:" + strconv.FormatInt(int64(x), 10))
			case perlcompat.Uint:
				b.WriteString("i:" + strconv.FormatUint(uint64(x), 10))
			case perlcompat.Float:
				b.WriteString(fmt.Sprintf("n:%016x", math.Float64bits(float64(x))))
			case perlcompat.Bool:
				b.WriteString("x:bool")
			}
		case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
			if id, ok := ids[x]; ok {
				fmt.Fprintf(&b, "*%d", id)
				return
			}
			id := len(ids)
			ids[x] = id
			fmt.Fprintf(&b, "#%d", id)
			cls := func(c string) string {
				if c == "" {
					return ""
				}
				return "/" + hex.EncodeToString([]byte(c))
			}
			switch x := x.(type) {
			case *perlcompat.Array:
				b.WriteString("A" + cls(x.Class) + "[")
				for i, e := range x.Elems {
					if i > 0 {
						b.WriteByte(' ')
					}
					walk(e)
				}
				b.WriteString("]")
			case *perlcompat.Hash:
				b.WriteString("H" + cls(x.Class) + "{")
				idx := make([]int, len(x.Entries))
				for i := range idx {
					idx[i] = i
				}
				sort.Slice(idx, func(i, j int) bool { return x.Entries[idx[i]].Key.Chars() < x.Entries[idx[j]].Key.Chars() })
				for n, i := range idx {
					if n > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(hex.EncodeToString([]byte(x.Entries[i].Key.Chars())) + "=")
					walk(x.Entries[i].Value)
				}
				b.WriteString("}")
			case *perlcompat.Ref:
				b.WriteString("R" + cls(x.Class) + "(")
				walk(x.Target)
				b.WriteString(")")
			}
		default:
			fmt.Fprintf(&b, "x:%T", v)
		}
	}
	walk(v)
	return b.String()
}

// requirePerl lets the Perl tests run unless IKCGATE_NO_PERL=1; missing Perl
// or modules fail the test, as the Perl proof is part of this package's
// contract.
func RequirePerl(t *testing.T, modules ...string) {
	t.Helper()
	if os.Getenv("IKCGATE_NO_PERL") == "1" {
		t.Skip("IKCGATE_NO_PERL=1")
	}
	args := []string{"-e", "1"}
	for _, m := range modules {
		args = append(args, "-M"+m)
	}
	if out, err := exec.Command("perl", args...).CombinedOutput(); err != nil {
		t.Fatalf("perl with %v is needed for this test (set IKCGATE_NO_PERL=1 to skip): %v\n%s", modules, err, out)
	}
}

// RunPerl runs a Perl script (a path) and returns its output lines.
func RunPerl(t *testing.T, stdin []byte, script string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("perl", append([]string{script}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl %s: %v\n%s", script, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("perl %s stderr:\n%s", script, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// valueGen builds random data with every kind of Value, blessed
// containers, shared references and cycles. text limits strings to what
// the format can carry (FreezeThaw: no non-ASCII character strings).
// NewValueGen returns a generator drawing from r; wideText allows
// non-ASCII character strings.
func NewValueGen(r *rand.Rand, wideText bool) *ValueGen { return &ValueGen{r: r, wideText: wideText} }

type ValueGen struct {
	r        *rand.Rand
	pool     []perlcompat.Value
	wideText bool
}

func (g *ValueGen) str() perlcompat.Str {
	n := g.r.IntN(10)
	var b []byte
	switch g.r.IntN(5) {
	case 0, 1:
		for i := 0; i < n; i++ {
			b = append(b, byte(32+g.r.IntN(95)))
		}
		return perlcompat.Str{S: string(b), UTF8: g.r.IntN(4) == 0}
	case 2:
		for i := 0; i < n; i++ {
			b = append(b, byte(g.r.IntN(256)))
		}
		return perlcompat.Str{S: string(b)}
	case 3:
		const special = "'\\\"$@\n\x00{}|%_<>!?&*/\r\t"
		for i := 0; i < n; i++ {
			b = append(b, special[g.r.IntN(len(special))])
		}
		return perlcompat.Str{S: string(b)}
	default:
		if !g.wideText {
			return perlcompat.Str{S: "caf\xe9"}
		}
		return []perlcompat.Str{{S: "caf\u00e9", UTF8: true}, {S: "\u263a x \U0001F600", UTF8: true}, {S: "\u00e9\u00ff", UTF8: true}}[g.r.IntN(3)]
	}
}

func (g *ValueGen) scalar() perlcompat.Value {
	switch g.r.IntN(9) {
	case 0:
		return perlcompat.Undef{}
	case 1:
		return perlcompat.Int(g.r.IntN(2000) - 1000)
	case 2:
		return perlcompat.Int([]int64{math.MaxInt64, math.MinInt64, 1 << 40, -(1 << 33), 2147483648, -2147483648, 9999999999, -999999999, 1234567890}[g.r.IntN(9)])
	case 3:
		return perlcompat.Uint(math.MaxUint64 - uint64(g.r.IntN(5)))
	case 4:
		return perlcompat.Float([]float64{3.14159, -0.5, 0.1, 1e100, -2.5e-7, 1.0, 0.30000000000000004, 123456789.125}[g.r.IntN(8)])
	case 5:
		return perlcompat.Bool(g.r.IntN(2) == 0)
	default:
		return g.str()
	}
}

func (g *ValueGen) Value(depth int) perlcompat.Value {
	k := g.r.IntN(12)
	if depth > 4 || k < 4 {
		return g.scalar()
	}
	if k == 4 && len(g.pool) > 0 {
		return g.pool[g.r.IntN(len(g.pool))]
	}
	var v perlcompat.Value
	switch {
	case k <= 6:
		a := &perlcompat.Array{}
		for i := g.r.IntN(4); i > 0; i-- {
			a.Elems = append(a.Elems, g.Value(depth+1))
		}
		if g.r.IntN(5) == 0 {
			a.Elems = append(a.Elems, a) // cycle
		}
		v = a
	case k <= 9:
		h := &perlcompat.Hash{}
		for i := g.r.IntN(4); i > 0; i-- {
			h.SetKey(g.str(), g.Value(depth+1))
		}
		if g.r.IntN(5) == 0 {
			h.Set("self", h) // cycle
		}
		v = h
	default:
		r := &perlcompat.Ref{Target: g.Value(depth + 1)}
		if g.r.IntN(8) == 0 {
			r.Target = r // $x = \$x
		}
		v = r
	}
	if g.r.IntN(4) == 0 {
		c := []string{"IKC::Obj", "My::Class", "A::B::C"}[g.r.IntN(3)]
		switch x := v.(type) {
		case *perlcompat.Array:
			x.Class = c
		case *perlcompat.Hash:
			x.Class = c
		case *perlcompat.Ref:
			x.Class = c
		}
	}
	if g.r.IntN(3) == 0 {
		g.pool = append(g.pool, v)
	}
	return v
}

// request wraps random params in an IKC-like request hash.
func (g *ValueGen) Request() *perlcompat.Hash {
	g.pool = g.pool[:0]
	h := perlcompat.NewHash().Set("event", perlcompat.Text("poe://K/s/e"))
	h.Set("params", g.Value(0))
	if g.r.IntN(2) == 0 {
		h.Set("rsvp", perlcompat.NewHash().Set("kernel", perlcompat.Text("Cli")).Set("session", perlcompat.Int(2)))
	}
	return h
}

// PerlThawsWhatGoFroze freezes n requests from g with freeze and has the
// Perl script thaw them (it reads one hex frame per line and answers
// "ok\t<description>" per line). Each description must be want of the
// value Go sent: want says what Perl sees after the format's own losses.
func PerlThawsWhatGoFroze(t *testing.T, g *ValueGen, n int, freeze func(perlcompat.Value) ([]byte, error), want func(perlcompat.Value) string, script string) {
	t.Helper()
	var in bytes.Buffer
	wants := make([]string, 0, n)
	for i := 0; i < n; i++ {
		v := g.Request()
		frame, err := freeze(v)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		in.WriteString(hex.EncodeToString(frame) + "\n")
		wants = append(wants, want(v))
	}
	got := RunPerl(t, in.Bytes(), script)
	if len(got) != n {
		t.Fatalf("perl answered %d lines for %d frames", len(got), n)
	}
	bad := 0
	for i := range got {
		if got[i] != "ok\t"+wants[i] {
			bad++
			if bad <= 5 {
				t.Errorf("case %d:\n perl: %s\n want: ok\t%s", i, got[i], wants[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d frames differ", bad, n)
	}
}
