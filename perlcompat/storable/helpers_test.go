package storable

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

var be32 = binary.BigEndian

const capturesDir = "../../conformance/testdata/captures"

// streamFrame is one POE::Filter::Reference frame found in a stream.
type streamFrame struct {
	Offset  int // offset of the length digits
	Payload []byte
}

// splitStream splits one direction of a capture into negotiation lines and
// frames as captures/README.md "Splitting a stream" says: at each position,
// bytes matching ^[0-9]+\0 start the frame phase for good; otherwise a line
// ends at CR LF, LF CR, a lone LF or a lone CR.
func splitStream(b []byte) (lines []string, frames []streamFrame, err error) {
	pos := 0
	framing := false
	for pos < len(b) {
		if !framing {
			i := pos
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			framing = i > pos && i < len(b) && b[i] == 0
		}
		if framing {
			i := pos
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			if i == pos || i >= len(b) || b[i] != 0 {
				return lines, frames, fmt.Errorf("offset %d: no frame header", pos)
			}
			n, err := strconv.Atoi(string(b[pos:i]))
			if err != nil || n > len(b)-i-1 {
				return lines, frames, fmt.Errorf("offset %d: bad frame length %q", pos, b[pos:i])
			}
			frames = append(frames, streamFrame{Offset: pos, Payload: b[i+1 : i+1+n]})
			pos = i + 1 + n
			continue
		}
		i := bytes.IndexAny(b[pos:], "\r\n")
		if i < 0 {
			return lines, frames, fmt.Errorf("offset %d: unterminated line", pos)
		}
		lines = append(lines, string(b[pos:pos+i]))
		end := pos + i + 1
		if end < len(b) && (b[end] == '\r' || b[end] == '\n') && b[end] != b[pos+i] {
			end++
		}
		pos = end
	}
	return lines, frames, nil
}

// captureFrame is one Storable frame of the captures with Perl's view.
type captureFrame struct {
	Name    string // scenario/dir/index
	Payload []byte
	Value   any // decoded with UseNumber
}

type expectFile struct {
	Scenario    string `json:"scenario"`
	Connections []struct {
		Freezer string `json:"freezer"`
	} `json:"connections"`
	Frames []struct {
		Dir           string          `json:"dir"`
		Index         int             `json:"index"`
		Offset        int             `json:"offset"`
		PayloadLength int             `json:"payload_length"`
		Freezer       string          `json:"freezer"`
		Value         json.RawMessage `json:"value"`
	} `json:"frames"`
}

// storableCaptures returns every Storable frame of every capture, checking
// that the splitter finds the frames expect.json lists.
func storableCaptures(t testing.TB) []captureFrame {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "*.expect.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", capturesDir, err)
	}
	var out []captureFrame
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex expectFile
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(ex.Connections) == 0 || ex.Connections[0].Freezer != "Storable" {
			continue
		}
		for _, dir := range []string{"c2s", "s2c"} {
			stream, err := os.ReadFile(filepath.Join(capturesDir, ex.Scenario+"."+dir+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			_, frames, err := splitStream(stream)
			if err != nil {
				t.Fatalf("%s %s: %v", ex.Scenario, dir, err)
			}
			n := 0
			for _, ef := range ex.Frames {
				if ef.Dir != dir {
					continue
				}
				n++
				if ef.Index >= len(frames) {
					t.Fatalf("%s %s: frame %d not found by splitter", ex.Scenario, dir, ef.Index)
				}
				fr := frames[ef.Index]
				if fr.Offset != ef.Offset || len(fr.Payload) != ef.PayloadLength {
					t.Fatalf("%s %s #%d: splitter found offset %d len %d, expect.json says %d/%d",
						ex.Scenario, dir, ef.Index, fr.Offset, len(fr.Payload), ef.Offset, ef.PayloadLength)
				}
				if ef.Freezer != "Storable" {
					continue
				}
				dec := json.NewDecoder(bytes.NewReader(ef.Value))
				dec.UseNumber()
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
				out = append(out, captureFrame{
					Name:    fmt.Sprintf("%s/%s/%d", ex.Scenario, dir, ef.Index),
					Payload: fr.Payload,
					Value:   v,
				})
			}
			if n != len(frames) {
				t.Fatalf("%s %s: splitter found %d frames, expect.json lists %d", ex.Scenario, dir, len(frames), n)
			}
		}
	}
	return out
}

// notation renders v in the captures' value notation (README "Value
// notation") as values encoding/json with UseNumber would produce.
func notation(v perlcompat.Value, depth int) any {
	if depth > 200 {
		return "<too deep>"
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return nil
	case perlcompat.Str:
		if x.UTF8 || perlcompat.IsASCII(x.S) {
			return x.S
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
		out := []any{}
		for _, e := range x.Elems {
			out = append(out, notation(e, depth+1))
		}
		return blessNotation(x.Class, out)
	case *perlcompat.Hash:
		out := map[string]any{}
		for _, e := range x.Entries {
			k := e.Key.S
			switch {
			case !e.Key.UTF8 && !perlcompat.IsASCII(k):
				k = "$bytes:" + hex.EncodeToString([]byte(k))
			case strings.HasPrefix(k, "$"):
				k = "$" + k
			}
			out[k] = notation(e.Value, depth+1)
		}
		return blessNotation(x.Class, out)
	case *perlcompat.Ref:
		return blessNotation(x.Class, map[string]any{"$ref": notation(x.Target, depth+1)})
	}
	return fmt.Sprintf("<%T>", v)
}

func blessNotation(class string, v any) any {
	if class == "" {
		return v
	}
	return map[string]any{"$blessed": class, "$value": v}
}

// sameGraph reports how a and b differ, comparing scalars by type and
// value and references as graphs: the same pointer in a must pair with the
// same pointer in b everywhere (sharing and cycles must match).
func sameGraph(a, b perlcompat.Value) error {
	g := graphCmp{ab: map[any]any{}, ba: map[any]any{}}
	return g.cmp(a, b, "$")
}

type graphCmp struct{ ab, ba map[any]any }

func (g *graphCmp) pair(a, b any, path string) (done bool, err error) {
	pa, oka := g.ab[a]
	pb, okb := g.ba[b]
	if oka || okb {
		if pa != b || pb != a {
			return true, fmt.Errorf("%s: sharing differs", path)
		}
		return true, nil
	}
	g.ab[a], g.ba[b] = b, a
	return false, nil
}

func (g *graphCmp) cmp(a, b perlcompat.Value, path string) error {
	if a == nil {
		a = perlcompat.Undef{}
	}
	if b == nil {
		b = perlcompat.Undef{}
	}
	switch x := a.(type) {
	case *perlcompat.Array:
		y, ok := b.(*perlcompat.Array)
		if !ok {
			return fmt.Errorf("%s: %T vs %T", path, a, b)
		}
		if done, err := g.pair(x, y, path); done {
			return err
		}
		if x.Class != y.Class || len(x.Elems) != len(y.Elems) {
			return fmt.Errorf("%s: array class %q/%q len %d/%d", path, x.Class, y.Class, len(x.Elems), len(y.Elems))
		}
		for i := range x.Elems {
			if err := g.cmp(x.Elems[i], y.Elems[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case *perlcompat.Hash:
		y, ok := b.(*perlcompat.Hash)
		if !ok {
			return fmt.Errorf("%s: %T vs %T", path, a, b)
		}
		if done, err := g.pair(x, y, path); done {
			return err
		}
		if x.Class != y.Class || len(x.Entries) != len(y.Entries) {
			return fmt.Errorf("%s: hash class %q/%q len %d/%d", path, x.Class, y.Class, len(x.Entries), len(y.Entries))
		}
		for i := range x.Entries {
			ka, kb := x.Entries[i].Key, y.Entries[i].Key
			if ka != kb {
				return fmt.Errorf("%s: key %d %#v vs %#v", path, i, ka, kb)
			}
			if err := g.cmp(x.Entries[i].Value, y.Entries[i].Value, fmt.Sprintf("%s{%q}", path, ka.S)); err != nil {
				return err
			}
		}
		return nil
	case *perlcompat.Ref:
		y, ok := b.(*perlcompat.Ref)
		if !ok {
			return fmt.Errorf("%s: %T vs %T", path, a, b)
		}
		if done, err := g.pair(x, y, path); done {
			return err
		}
		if x.Class != y.Class {
			return fmt.Errorf("%s: ref class %q vs %q", path, x.Class, y.Class)
		}
		return g.cmp(x.Target, y.Target, path+"->")
	case perlcompat.Float:
		y, ok := b.(perlcompat.Float)
		if !ok || math.Float64bits(float64(x)) != math.Float64bits(float64(y)) && !(x != x && y != y) {
			return fmt.Errorf("%s: %#v vs %#v", path, a, b)
		}
		return nil
	}
	if a != b {
		return fmt.Errorf("%s: %#v vs %#v", path, a, b)
	}
	return nil
}

// nfreezeView is what NFreeze carries of v, as Perl would thaw it: native
// numbers that nfreeze writes as strings become Str, booleans "1"/"".
// Sharing and cycles are kept.
func nfreezeView(v perlcompat.Value) perlcompat.Value {
	m := map[any]perlcompat.Value{}
	var walk func(v perlcompat.Value) perlcompat.Value
	walk = func(v perlcompat.Value) perlcompat.Value {
		switch x := v.(type) {
		case nil:
			return perlcompat.Undef{}
		case perlcompat.Int:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return perlcompat.Str{S: strconv.FormatInt(int64(x), 10)}
			}
		case perlcompat.Uint:
			if x > math.MaxInt32 {
				return perlcompat.Str{S: strconv.FormatUint(uint64(x), 10)}
			}
			return perlcompat.Int(x)
		case perlcompat.Float:
			f := float64(x)
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return walk(perlcompat.Int(int64(f)))
			}
			return perlcompat.Str{S: perlcompat.FormatFloat(f)}
		case perlcompat.Bool:
			if x {
				return perlcompat.Str{S: "1"}
			}
			return perlcompat.Str{S: ""}
		case *perlcompat.Array:
			if y, ok := m[x]; ok {
				return y
			}
			y := &perlcompat.Array{Class: x.Class}
			m[x] = y
			for _, e := range x.Elems {
				y.Elems = append(y.Elems, walk(e))
			}
			return y
		case *perlcompat.Hash:
			if y, ok := m[x]; ok {
				return y
			}
			y := &perlcompat.Hash{Class: x.Class}
			m[x] = y
			for _, e := range x.Entries {
				k := e.Key // Perl keeps a key's UTF8 flag, even an ASCII key's
				y.Entries = append(y.Entries, perlcompat.Entry{Key: k, Value: walk(e.Value)})
			}
			return y
		case *perlcompat.Ref:
			if y, ok := m[x]; ok {
				return y
			}
			y := &perlcompat.Ref{Class: x.Class}
			m[x] = y
			y.Target = walk(x.Target)
			return y
		}
		return v
	}
	return walk(v)
}

// describe renders v the way the Perl helper in perl_test.go renders a
// thawed value: flags-level scalars, sorted keys with their UTF8 flag,
// blessing, and SEEN#n for a referent met before.
func describe(v perlcompat.Value) string {
	var b strings.Builder
	seen := map[any]int{}
	var walk func(v perlcompat.Value)
	ref := func(p any, class string) bool {
		if class != "" {
			b.WriteString("bless(" + class + ")")
		}
		if n, ok := seen[p]; ok {
			fmt.Fprintf(&b, "SEEN#%d", n)
			return false
		}
		seen[p] = len(seen) + 1
		return true
	}
	walk = func(v perlcompat.Value) {
		switch x := v.(type) {
		case nil, perlcompat.Undef:
			b.WriteString("undef")
		case perlcompat.Str:
			if x.UTF8 {
				b.WriteString("u'" + hex.EncodeToString([]byte(x.S)) + "'")
			} else {
				b.WriteString("b'" + hex.EncodeToString([]byte(x.S)) + "'")
			}
		case perlcompat.Int:
			fmt.Fprintf(&b, "i%d", int64(x))
		case perlcompat.Uint:
			fmt.Fprintf(&b, "i%d", uint64(x))
		case perlcompat.Float:
			b.WriteString("n" + perlcompat.FormatFloat(float64(x)))
		case perlcompat.Bool:
			if x {
				b.WriteString("bool1")
			} else {
				b.WriteString("bool0")
			}
		case *perlcompat.Array:
			if !ref(x, x.Class) {
				return
			}
			b.WriteString("[")
			for i, e := range x.Elems {
				if i > 0 {
					b.WriteString(",")
				}
				walk(e)
			}
			b.WriteString("]")
		case *perlcompat.Hash:
			if !ref(x, x.Class) {
				return
			}
			es := append([]perlcompat.Entry(nil), x.Entries...)
			sort.SliceStable(es, func(i, j int) bool { return es[i].Key.Chars() < es[j].Key.Chars() })
			b.WriteString("{")
			for i, e := range es {
				if i > 0 {
					b.WriteString(",")
				}
				k := e.Key
				if k.UTF8 {
					b.WriteString("u:" + hex.EncodeToString([]byte(k.S)))
				} else {
					b.WriteString("b:" + hex.EncodeToString([]byte(k.S)))
				}
				b.WriteString("=>")
				walk(e.Value)
			}
			b.WriteString("}")
		case *perlcompat.Ref:
			if !ref(x, x.Class) {
				return
			}
			b.WriteString(`\`)
			walk(x.Target)
		default:
			fmt.Fprintf(&b, "<%T>", v)
		}
	}
	walk(v)
	return b.String()
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
