package json_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/json"
	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
)

func jsonConfig() json.Config { return json.Config{} }

func newFreezer(t testing.TB, cfg json.Config) *json.Freezer {
	t.Helper()
	f, err := json.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestThawCaptureFramesMatchWhatPerlDecoded(t *testing.T) {
	f := newFreezer(t, json.Config{Name: "IKCFixture::JSONFreezer"})
	for _, fr := range perltest.CaptureFrames(t, "k2-freezer-json") {
		v, err := f.Thaw(fr.Payload)
		if err != nil {
			t.Fatalf("%s frame %d: %v", fr.Dir, fr.Index, err)
		}
		if d := cmp.Diff(fr.Value, perltest.Notation(v), perltest.NumbersByValue); d != "" {
			t.Errorf("%s frame %d differs from the Perl decoder (-perl +go):\n%s", fr.Dir, fr.Index, d)
		}
	}
}

// JSON::PP's canonical output is byte-stable, so what Go writes for the
// value it read must be the very bytes the Perl kernel sent.
func TestFreezeOfCaptureFramesIsByteIdenticalToPerl(t *testing.T) {
	f := newFreezer(t, json.Config{})
	for _, fr := range perltest.CaptureFrames(t, "k2-freezer-json") {
		v, err := f.Thaw(fr.Payload)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, fr.Payload) {
			i := 0
			for i < len(b) && i < len(fr.Payload) && b[i] == fr.Payload[i] {
				i++
			}
			t.Errorf("%s frame %d: Go's bytes differ from Perl's at %d:\nperl %.80q\ngo   %.80q", fr.Dir, fr.Index, i, fr.Payload[i:], b[i:])
		}
	}
}

// Each row is what JSON::PP 4.07 ->utf8->allow_nonref->decode gives
// (checked with B flags on Perl 5.36).
func TestThawTypesValuesAsJSONPP(t *testing.T) {
	f := newFreezer(t, json.Config{})
	for _, tc := range []struct {
		in   string
		want perlcompat.Value
	}{
		{`"abc"`, perlcompat.Str{S: "abc"}},
		{`"caf\u00e9"`, perlcompat.Str{S: "café", UTF8: true}},
		{`"café"`, perlcompat.Str{S: "café", UTF8: true}},
		{`"\u263a"`, perlcompat.Str{S: "☺", UTF8: true}},
		{`"\u00e9\ud83d\ude00"`, perlcompat.Str{S: "é😀", UTF8: true}},
		{`"a\u0000b"`, perlcompat.Str{S: "a\x00b"}},
		{`1.0`, perlcompat.Float(1)},
		{`1e2`, perlcompat.Int(100)},
		{`1e+2`, perlcompat.Int(100)},
		{`-1E-2`, perlcompat.Float(-0.01)},
		{`-0`, perlcompat.Int(0)},
		{`12345678901234567890`, perlcompat.Uint(12345678901234567890)},
		{`18446744073709551615`, perlcompat.Uint(math.MaxUint64)},
		{`123456789012345678901`, perlcompat.Str{S: "123456789012345678901"}},
		{`-9223372036854775808`, perlcompat.Int(math.MinInt64)},
		{`-9223372036854775809`, perlcompat.Float(-9223372036854775809)},
		{`9223372036854775807`, perlcompat.Int(math.MaxInt64)},
		{`1E400`, perlcompat.Float(math.Inf(1))},
		{`0.1`, perlcompat.Float(0.1)},
		{`true`, perlcompat.Bool(true)},
		{`false`, perlcompat.Bool(false)},
		{`null`, perlcompat.Undef{}},
		{` {"a":1,"a":2} `, &perlcompat.Hash{Entries: []perlcompat.Entry{{Key: perlcompat.Str{S: "a"}, Value: perlcompat.Int(2)}}}},
		{`{"caf\u00e9":[]}`, &perlcompat.Hash{Entries: []perlcompat.Entry{{Key: perlcompat.Str{S: "café", UTF8: true}, Value: &perlcompat.Array{}}}}},
	} {
		v, err := f.Thaw([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, v); d != "" {
			t.Errorf("%s (-JSON::PP +go):\n%s", tc.in, d)
		}
	}
}

// Each input makes JSON::PP die.
func TestThawRejectsWhatJSONPPRejects(t *testing.T) {
	f := newFreezer(t, json.Config{})
	for _, in := range []string{
		``, ` `, `[1,2]x`, `"\ud800"`, `"\udc00"`, "\"\xff\"", `[01]`, `[1.]`, `[-]`, "\xef\xbb\xbf[1]",
		`[1,]`, `nul`, "[\"\t\"]", `[NaN]`, `{"a" 1}`, `{a:1}`, `[1e]`, `"\x"`, `"abc`, `{"a":1,}`, `[`, `{`,
	} {
		v, err := f.Thaw([]byte(in))
		if err == nil {
			t.Errorf("%q thawed to %#v, want an error", in, v)
			continue
		}
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %T, want *SyntaxError", in, err)
		}
	}
}

func TestThawNestingLimitIsJSONPPs(t *testing.T) {
	f := newFreezer(t, json.Config{})
	if _, err := f.Thaw([]byte(strings.Repeat("[", 512) + strings.Repeat("]", 512))); err != nil {
		t.Errorf("512 levels: %v (JSON::PP accepts them)", err)
	}
	_, err := f.Thaw([]byte(strings.Repeat("[", 513) + strings.Repeat("]", 513)))
	if !errors.Is(err, json.ErrTooDeep) {
		t.Errorf("513 levels: err = %v, want ErrTooDeep (JSON::PP dies)", err)
	}
	_, err = f.Thaw([]byte(strings.Repeat("[", 1<<20)))
	if !errors.Is(err, json.ErrTooDeep) {
		t.Errorf("a million [: err = %v, want ErrTooDeep", err)
	}
}

func TestFreezeWritesWhatJSONPPWrites(t *testing.T) {
	f := newFreezer(t, json.Config{})
	v := perlcompat.NewArray(
		perlcompat.Str{S: "caf\xe9"}, perlcompat.Text("☺"), perlcompat.Str{S: "a\x01\x7f\"\\/\t\b\f\n\r"},
		perlcompat.Float(1.0), perlcompat.Float(0.1), perlcompat.Float(1e100), perlcompat.Float(-2.5e-7),
		perlcompat.Float(3.14159), perlcompat.Float(1e15), perlcompat.Int(123456789012345678),
		&perlcompat.Ref{Target: perlcompat.Int(1)}, &perlcompat.Ref{Target: perlcompat.Int(0)}, &perlcompat.Ref{Target: perlcompat.Str{S: "1"}},
		perlcompat.Bool(true), perlcompat.Undef{}, nil,
		perlcompat.NewHash().Set("b", perlcompat.Int(1)).Set("a", perlcompat.Int(2)).Set("é", perlcompat.Int(3)),
	)
	// The first line is JSON::PP 4.07's output for the same Perl data.
	want := `["café","☺","a\u0001` + "\x7f" + `\"\\/\t\b\f\n\r",1,0.1,1e+100,-2.5e-07,3.14159,1e+15,123456789012345678,true,false,true,true,null,null,{"a":2,"b":1,"é":3}]`
	b, err := f.Freeze(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestFreezeRefusesWhatJSONCannotCarry(t *testing.T) {
	f := newFreezer(t, json.Config{})
	cyc := perlcompat.NewHash()
	cyc.Set("self", cyc)
	for name, v := range map[string]perlcompat.Value{
		"blessed hash":      &perlcompat.Hash{Class: "Foo"},
		"blessed array":     &perlcompat.Array{Class: "Foo"},
		"blessed scalar":    &perlcompat.Ref{Class: "Foo", Target: perlcompat.Int(1)},
		"scalar ref":        &perlcompat.Ref{Target: perlcompat.Str{S: "x"}},
		"ref to undef":      &perlcompat.Ref{Target: perlcompat.Undef{}},
		"ref to ref":        &perlcompat.Ref{Target: perlcompat.NewArray()},
		"NaN":               perlcompat.NewArray(perlcompat.Float(math.NaN())),
		"Inf":               perlcompat.NewArray(perlcompat.Float(math.Inf(-1))),
		"bad UTF-8":         perlcompat.Str{S: "\xff", UTF8: true},
		"cycle":             cyc,
		"blessed in a hash": perlcompat.NewHash().Set("o", &perlcompat.Hash{Class: "Foo"}),
	} {
		b, err := f.Freeze([]byte("keep"), v)
		if err == nil {
			t.Errorf("%s: froze %q, want an error", name, b)
			continue
		}
		if string(b) != "keep" {
			t.Errorf("%s: dst changed to %q", name, b)
		}
		var ee *json.EncodeError
		if !errors.As(err, &ee) {
			t.Errorf("%s: %T, want *EncodeError", name, err)
		}
	}
	if _, err := f.Freeze(nil, cyc); !errors.Is(err, json.ErrTooDeep) {
		t.Errorf("cycle: %v, want ErrTooDeep", err)
	}
	b, err := f.Freeze(nil, &perlcompat.Ref{Class: "JSON::PP::Boolean", Target: perlcompat.Int(0)})
	if err != nil || string(b) != "false" {
		t.Errorf("JSON::PP::Boolean: %q, %v; want false", b, err)
	}
}

// normalize returns what JSON keeps of v: byte strings become characters,
// strings have the UTF8 flag exactly when non-ASCII, whole floats below
// 1e15 become integers (Perl prints them so), \1 and \0 become booleans,
// Uint in int64 range is Int.
func normalize(v perlcompat.Value) perlcompat.Value {
	switch x := v.(type) {
	case nil:
		return perlcompat.Undef{}
	case perlcompat.Str:
		return perlcompat.Text(x.Chars())
	case perlcompat.Uint:
		if x <= math.MaxInt64 {
			return perlcompat.Int(x)
		}
	case perlcompat.Float:
		s := perlcompat.FormatFloat(float64(x))
		if g, _ := strconv.ParseFloat(s, 64); g != float64(x) {
			return x // written in full, with a "."
		}
		if !strings.ContainsAny(s, ".e") {
			return perlcompat.Int(int64(x))
		}
		if strings.Contains(s, "e") && !strings.Contains(s, ".") && x == perlcompat.Float(math.Trunc(float64(x))) && math.Abs(float64(x)) <= 1<<53 {
			return perlcompat.Int(int64(x))
		}
	case *perlcompat.Array:
		out := &perlcompat.Array{}
		for _, e := range x.Elems {
			out.Elems = append(out.Elems, normalize(e))
		}
		return out
	case *perlcompat.Hash:
		out := &perlcompat.Hash{}
		for _, e := range x.Entries {
			out.Entries = append(out.Entries, perlcompat.Entry{Key: perlcompat.Text(e.Key.Chars()), Value: normalize(e.Value)})
		}
		return out
	}
	return v
}

func TestFreezeThawRoundTripKeepsWhatJSONCarries(t *testing.T) {
	f := newFreezer(t, json.Config{})
	g := &perltest.Gen{R: rand.New(rand.NewPCG(3, 4)), Bools: true, Uints: true}
	for i := 0; i < 3000; i++ {
		v := g.Value()
		b, err := f.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Thaw(b)
		if err != nil {
			t.Fatalf("thaw of our own %s: %v", b, err)
		}
		if d := perltest.Diff(perltest.Describe(normalize(v)), perltest.Describe(got)); d != "" {
			t.Fatalf("round trip of %s:\n%s", b, d)
		}
	}
}
