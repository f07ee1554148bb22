// Package perltest runs the real Perl side of the freezer tests: it finds
// perl and the adapters in perlcompat/perl/lib, renders perlcompat values in
// the two notations the Perl scripts print (the captures' "value notation"
// and the stricter description of perlcompat/perl/t/Describe.pm), and reads
// the frames of the conformance captures.
//
// It is for tests only.
package perltest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Dir is perlcompat/perl, the directory holding lib/ and t/.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// CapturesDir is conformance/testdata/captures.
func CapturesDir() string {
	return filepath.Join(Dir(), "..", "..", "conformance", "testdata", "captures")
}

// Modules the adapters and the test scripts need.
var Modules = []string{"Sereal::Encoder", "Sereal::Decoder", "JSON::PP", "POE::Filter::Reference", "B", "Digest::MD5"}

// Require fails the test when perl or a module is missing, unless
// IKCGATE_NO_PERL=1 says to skip tests that need real Perl.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("IKCGATE_NO_PERL") == "1" {
		t.Skip("IKCGATE_NO_PERL=1: skipping the real-Perl check")
	}
	args := []string{}
	for _, m := range Modules {
		args = append(args, "-M"+m)
	}
	args = append(args, "-e1")
	if out, err := exec.Command("perl", args...).CombinedOutput(); err != nil {
		t.Fatalf("real Perl with %v is needed (scripts/setup-perl installs it; IKCGATE_NO_PERL=1 skips): %v\n%s",
			Modules, err, out)
	}
}

// Run runs perlcompat/perl/t/<script> with the adapters in @INC, feeding
// stdin, and returns its standard output. A failing script fails the test.
func Run(t testing.TB, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("perl", append([]string{filepath.Join(Dir(), "t", script)}, args...)...)
	cmd.Env = append(os.Environ(), "PERL5LIB="+filepath.Join(Dir(), "lib")+string(os.PathListSeparator)+filepath.Join(Dir(), "t"))
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl %s: %v\n%s", script, err, stderr.Bytes())
	}
	return out
}

// Frame is one frame of a capture, with its payload and the value the Perl
// decoder recorded for it (value notation, numbers as json.Number).
type Frame struct {
	Dir     string
	Index   int
	Payload []byte
	Value   any
}

// CaptureFrames returns every frame of capture name (for example
// "k1-freezer-sereal").
func CaptureFrames(t testing.TB, name string) []Frame {
	t.Helper()
	dir := CapturesDir()
	raw, err := os.ReadFile(filepath.Join(dir, name+".expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Frames []struct {
			Dir           string `json:"dir"`
			Index         int    `json:"index"`
			Offset        int    `json:"offset"`
			HeaderLength  int    `json:"header_length"`
			PayloadLength int    `json:"payload_length"`
			Value         any    `json:"value"`
		} `json:"frames"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&exp); err != nil {
		t.Fatal(err)
	}
	streams := map[string][]byte{}
	for _, d := range []string{"c2s", "s2c"} {
		if streams[d], err = os.ReadFile(filepath.Join(dir, name+"."+d+".bin")); err != nil {
			t.Fatal(err)
		}
	}
	var frames []Frame
	for _, f := range exp.Frames {
		s := streams[f.Dir]
		start := f.Offset + f.HeaderLength
		if start+f.PayloadLength > len(s) {
			t.Fatalf("%s frame %s/%d past the end of the stream", name, f.Dir, f.Index)
		}
		frames = append(frames, Frame{Dir: f.Dir, Index: f.Index, Payload: s[start : start+f.PayloadLength], Value: f.Value})
	}
	if len(frames) == 0 {
		t.Fatalf("%s: no frames", name)
	}
	return frames
}

// Notation renders v in the captures' value notation (README.md of the
// captures): what the Perl capture decoder wrote for each frame.
func Notation(v perlcompat.Value) any { return notation(v, 0) }

func notation(v perlcompat.Value, depth int) any {
	if depth > 1000 {
		return "<too deep or cyclic>"
	}
	blessed := func(class string, x any) any {
		if class == "" {
			return x
		}
		return map[string]any{"$blessed": class, "$value": x}
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
			return "1"
		}
		return ""
	case *perlcompat.Array:
		out := []any{}
		for _, e := range x.Elems {
			out = append(out, notation(e, depth+1))
		}
		return blessed(x.Class, out)
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
		return blessed(x.Class, out)
	case *perlcompat.Ref:
		return blessed(x.Class, map[string]any{"$ref": notation(x.Target, depth+1)})
	}
	return fmt.Sprintf("<unknown %T>", v)
}

// NumbersByValue is a cmp option comparing json.Number by value: integers
// exactly, others as float64 (Perl prints 1.0 as 1).
var NumbersByValue = cmp.Comparer(func(a, b json.Number) bool {
	x, okx := new(big.Int).SetString(string(a), 10)
	y, oky := new(big.Int).SetString(string(b), 10)
	if okx && oky {
		return x.Cmp(y) == 0
	}
	fa, err1 := strconv.ParseFloat(string(a), 64)
	fb, err2 := strconv.ParseFloat(string(b), 64)
	return err1 == nil && err2 == nil && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
})

// Describe renders v in the notation of perlcompat/perl/t/Describe.pm, which
// keeps everything Perl can tell apart about thawed data:
//
//	null                    undef
//	{"str":"<hex>"}         string, UTF8 flag off (bytes)
//	{"utf8":"<hex>"}        string, UTF8 flag on (UTF-8 bytes)
//	{"int":"<dec>"}         integer, no string value (IV)
//	{"uint":"<dec>"}        unsigned integer above IV_MAX (UV)
//	{"num":"<16 hex>"}      float, no string value: IEEE 754 bits
//	{"bool":true|false}     Perl's booleans (builtin::is_bool)
//	{"id":n,"array":[...]}  a reference to an array; "class" when blessed
//	{"id":n,"hash":[[k,v]...]} keys sorted by character, each key
//	                        {"str":..} or {"utf8":..} (utf8 only when
//	                        non-ASCII: Perl stores ASCII keys as bytes)
//	{"id":n,"ref":x}        a reference to a scalar or to a reference
//	{"seen":n}              a referent described before (sharing, cycles)
//
// Ids count referents in the order met, depth first, from 0.
func Describe(v perlcompat.Value) any {
	d := &describer{ids: map[perlcompat.Value]int{}}
	return d.desc(v)
}

type describer struct {
	ids map[perlcompat.Value]int
}

func (d *describer) ref(v perlcompat.Value, class string, body func(m map[string]any)) any {
	if id, ok := d.ids[v]; ok {
		return map[string]any{"seen": float64(id)}
	}
	id := len(d.ids)
	d.ids[v] = id
	m := map[string]any{"id": float64(id)}
	if class != "" {
		m["class"] = class
	}
	body(m)
	return m
}

func (d *describer) desc(v perlcompat.Value) any {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return nil
	case perlcompat.Str:
		if x.UTF8 {
			return map[string]any{"utf8": hex.EncodeToString([]byte(x.S))}
		}
		return map[string]any{"str": hex.EncodeToString([]byte(x.S))}
	case perlcompat.Int:
		return map[string]any{"int": strconv.FormatInt(int64(x), 10)}
	case perlcompat.Uint:
		if x <= math.MaxInt64 {
			return map[string]any{"int": strconv.FormatUint(uint64(x), 10)}
		}
		return map[string]any{"uint": strconv.FormatUint(uint64(x), 10)}
	case perlcompat.Float:
		return map[string]any{"num": fmt.Sprintf("%016x", math.Float64bits(float64(x)))}
	case perlcompat.Bool:
		return map[string]any{"bool": bool(x)}
	case *perlcompat.Array:
		return d.ref(x, x.Class, func(m map[string]any) {
			out := []any{}
			for _, e := range x.Elems {
				out = append(out, d.desc(e))
			}
			m["array"] = out
		})
	case *perlcompat.Hash:
		return d.ref(x, x.Class, func(m map[string]any) {
			ents := append([]perlcompat.Entry(nil), x.Entries...)
			sort.SliceStable(ents, func(i, j int) bool { return ents[i].Key.Chars() < ents[j].Key.Chars() })
			out := []any{}
			for _, e := range ents {
				k := e.Key
				if k.UTF8 {
					// Perl stores a key without its flag when it
					// can, and gives it back flagged when it was.
					if s, ok := k.Downgrade(); ok && perlcompat.IsASCII(s) {
						k = perlcompat.Str{S: s}
					}
				}
				out = append(out, []any{d.desc(k), d.desc(e.Value)})
			}
			m["hash"] = out
		})
	case *perlcompat.Ref:
		return d.ref(x, x.Class, func(m map[string]any) { m["ref"] = d.desc(x.Target) })
	}
	return fmt.Sprintf("<unknown %T>", v)
}

// Frames joins payloads the way POE::Filter::Reference frames them:
// "<length>\0<payload>".
func Frames(payloads [][]byte) []byte {
	var b []byte
	for _, p := range payloads {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, 0)
		b = append(b, p...)
	}
	return b
}

// JSONLines decodes one JSON value per line (numbers as float64, which the
// descriptions only use for ids).
func JSONLines(t testing.TB, out []byte) []any {
	t.Helper()
	var vals []any
	for i, line := range bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("line %d of Perl output: %v: %.200s", i+1, err, line)
		}
		vals = append(vals, v)
	}
	return vals
}

// Diff compares two descriptions (plain JSON-like trees) and returns "" when
// they are equal, else the first differing line of their indented JSON
// with context. Unlike cmp.Diff it stays fast on large mismatching trees.
func Diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, _ := json.MarshalIndent(want, "", " ")
	g, _ := json.MarshalIndent(got, "", " ")
	wl, gl := strings.Split(string(w), "\n"), strings.Split(string(g), "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	from := max(0, i-8)
	ctx := func(l []string) string { return strings.Join(l[from:min(len(l), i+3)], "\n") }
	return fmt.Sprintf("first difference at line %d\n--- want:\n%s\n--- got:\n%s", i+1, ctx(wl), ctx(gl))
}
