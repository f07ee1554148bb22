package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ikcgate/ikcgate/perlcompat"
)

func hash(kv ...any) *perlcompat.Hash {
	h := &perlcompat.Hash{}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(perlcompat.Str)
		h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: kv[i+1].(perlcompat.Value)})
	}
	return h
}

func arr(v ...perlcompat.Value) *perlcompat.Array { return perlcompat.NewArray(v...) }

var (
	txt = perlcompat.Text
	byt = func(s string) perlcompat.Str { return perlcompat.Str{S: s} }
)

// notationCases: JSON in, the Value it means, and the canonical JSON
// printed back (which parses to the same Value again).
var notationCases = []struct {
	name string
	in   string
	want perlcompat.Value
	out  string // "" means the same as in
}{
	{"undef", `null`, perlcompat.Undef{}, ""},
	{"ascii", `"hello"`, txt("hello"), ""},
	{"empty", `""`, txt(""), ""},
	{"text", `"café ☺"`, perlcompat.Str{S: "café ☺", UTF8: true}, ""},
	{"latin1 text", `"\u00e9"`, perlcompat.Str{S: "é", UTF8: true}, `"é"`},
	{"escapes", `"a\"b\\c\nd\u0001"`, txt("a\"b\\c\nd\x01"), ""},
	{"html is not escaped", `"<&>"`, txt("<&>"), ""},
	{"bytes", `{"$bytes":"caffe9"}`, byt("\xca\xff\xe9"), ""},
	{"ascii bytes print as a string", `{"$bytes":"6869"}`, byt("hi"), `"hi"`},
	{"upper-case hex", `{"$bytes":"E9"}`, byt("\xe9"), `{"$bytes":"e9"}`},
	{"int", `42`, perlcompat.Int(42), ""},
	{"negative int", `-7`, perlcompat.Int(-7), ""},
	{"int64 min", `-9223372036854775808`, perlcompat.Int(math.MinInt64), ""},
	{"uint", `18446744073709551615`, perlcompat.Uint(math.MaxUint64), ""},
	{"beyond uint64", `18446744073709551616`, perlcompat.Float(18446744073709551616), `1.8446744073709552e+19`},
	{"float", `1.5`, perlcompat.Float(1.5), ""},
	{"integral float", `1.0`, perlcompat.Float(1), ""},
	{"exponent", `2e3`, perlcompat.Float(2000), `2000.0`},
	{"small", `1e-7`, perlcompat.Float(1e-7), `1e-07`},
	{"numeric string", `"3.14"`, txt("3.14"), ""},
	{"true", `true`, perlcompat.Bool(true), `"1"`},
	{"false", `false`, perlcompat.Bool(false), `""`},
	{"array", `[1,"x",null,[]]`, arr(perlcompat.Int(1), txt("x"), perlcompat.Undef{}, arr()), ""},
	{"hash sorted", `{"b":[1,"x"],"a":1}`, hash(txt("a"), perlcompat.Int(1), txt("b"), arr(perlcompat.Int(1), txt("x"))), `{"a":1,"b":[1,"x"]}`},
	{"empty hash", `{}`, &perlcompat.Hash{Entries: []perlcompat.Entry{}}, ""},
	{"dollar key", `{"$$x":1,"$$$y":2}`, hash(txt("$$y"), perlcompat.Int(2), txt("$x"), perlcompat.Int(1)), `{"$$$y":2,"$$x":1}`},
	{"byte key", `{"$bytes:ff":1,"é":2}`, hash(byt("\xff"), perlcompat.Int(1), txt("é"), perlcompat.Int(2)), ""},
	{"scalar ref", `{"$ref":"x"}`, &perlcompat.Ref{Target: txt("x")}, ""},
	{"ref to undef", `{"$ref":null}`, &perlcompat.Ref{Target: perlcompat.Undef{}}, ""},
	{"ref ref", `{"$ref":{"$ref":1}}`, &perlcompat.Ref{Target: &perlcompat.Ref{Target: perlcompat.Int(1)}}, ""},
	{"ref to array ref", `{"$ref":[1]}`, &perlcompat.Ref{Target: arr(perlcompat.Int(1))}, ""},
	{"blessed hash", `{"$blessed":"My::Class","$value":{"k":"v"}}`, &perlcompat.Hash{Class: "My::Class", Entries: []perlcompat.Entry{{Key: txt("k"), Value: txt("v")}}}, ""},
	{"blessed array", `{"$blessed":"A","$value":[]}`, &perlcompat.Array{Class: "A", Elems: []perlcompat.Value{}}, ""},
	{"blessed scalar ref", `{"$blessed":"C","$value":{"$ref":"x"}}`, &perlcompat.Ref{Class: "C", Target: txt("x")}, ""},
	{"blessed inside", `[{"$ref":{"$blessed":"C","$value":[]}}]`, arr(&perlcompat.Ref{Target: &perlcompat.Array{Class: "C", Elems: []perlcompat.Value{}}}), ""},
	{"whitespace", " [ 1 , 2 ]\n", arr(perlcompat.Int(1), perlcompat.Int(2)), `[1,2]`},
}

func TestParseJSONValue(t *testing.T) {
	for _, c := range notationCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseJSONValue([]byte(c.in))
			if err != nil {
				t.Fatalf("parse %s: %v", c.in, err)
			}
			if d := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("parse %s (-want +got):\n%s", c.in, d)
			}
		})
	}
}

func TestFormatJSONValueRoundTrip(t *testing.T) {
	for _, c := range notationCases {
		t.Run(c.name, func(t *testing.T) {
			out, err := formatJSONValue(c.want)
			if err != nil {
				t.Fatal(err)
			}
			want := c.out
			if want == "" {
				want = c.in
			}
			if out != want {
				t.Errorf("format = %s, want %s", out, want)
			}
			// The printed form reads back as itself.
			back, err := parseJSONValue([]byte(out))
			if err != nil {
				t.Fatalf("reparse %s: %v", out, err)
			}
			again, err := formatJSONValue(back)
			if err != nil || again != out {
				t.Errorf("format(parse(%s)) = %s, %v", out, again, err)
			}
		})
	}
}

// Every Value the notation can express exactly survives format then parse.
func TestValueRoundTripExact(t *testing.T) {
	vals := []perlcompat.Value{
		perlcompat.Undef{}, txt("x"), perlcompat.Str{S: "☺", UTF8: true}, byt("\x00\xff"),
		perlcompat.Int(0), perlcompat.Int(math.MaxInt64), perlcompat.Uint(1 << 63),
		perlcompat.Float(0.1), perlcompat.Float(-2), perlcompat.Float(1e300), perlcompat.Float(5e-324),
		hash(txt("$bytes"), perlcompat.Int(1), txt("$ref"), perlcompat.Int(2), byt("\x80"), arr()),
		&perlcompat.Hash{Class: "X", Entries: []perlcompat.Entry{{Key: txt("$blessed"), Value: txt("no")}}},
		&perlcompat.Ref{Class: "R", Target: &perlcompat.Ref{Class: "S", Target: byt("\xfe")}},
		&perlcompat.Ref{Target: &perlcompat.Hash{Class: "H", Entries: []perlcompat.Entry{}}},
	}
	for _, v := range vals {
		s, err := formatJSONValue(v)
		if err != nil {
			t.Fatalf("format %#v: %v", v, err)
		}
		back, err := parseJSONValue([]byte(s))
		if err != nil {
			t.Fatalf("parse %s: %v", s, err)
		}
		if d := cmp.Diff(v, back, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip through %s (-want +got):\n%s", s, d)
		}
	}
}

func TestFormatJSONSpecial(t *testing.T) {
	shared := arr(perlcompat.Int(1))
	for _, c := range []struct {
		v    perlcompat.Value
		want string
	}{
		{perlcompat.Float(math.Inf(1)), `"Inf"`},
		{perlcompat.Float(math.Inf(-1)), `"-Inf"`},
		{perlcompat.Float(math.NaN()), `"NaN"`},
		{nil, `null`},
		{arr(shared, shared), `[[1],[1]]`},
		{perlcompat.Str{S: "a\xffb", UTF8: true}, "\"a\uFFFDb\""},
		{perlcompat.Str{S: "abc", UTF8: true}, `"abc"`},
	} {
		got, err := formatJSONValue(c.v)
		if err != nil || got != c.want {
			t.Errorf("format %#v = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	cyc := arr()
	cyc.Elems = append(cyc.Elems, cyc)
	if _, err := formatJSONValue(cyc); err != errCycle {
		t.Errorf("a cycle formatted with err = %v, want errCycle", err)
	}
}

func TestParseJSONValueErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, "empty"},
		{`[1`, "bad JSON"},
		{`1 2`, "more than one value"},
		{`{"$bytes":"zz"}`, "invalid byte"},
		{`{"$bytes":"abc"}`, "odd length"},
		{`{"$bytes":1}`, "hex string"},
		{`{"$bytes":"00","x":1}`, "no other key"},
		{`{"$ref":1,"x":1}`, "no other key"},
		{`{"$blessed":"C"}`, "nothing else"},
		{`{"$value":[]}`, "nothing else"},
		{`{"$blessed":"","$value":[]}`, "class name"},
		{`{"$blessed":"C","$value":"x"}`, "only a reference"},
		{`{"$blessed":"C","$value":{"$blessed":"D","$value":[]}}`, "already blessed"},
		{`{"$x":1}`, "one more \"$\""},
		{`{"$bytes:zz":1}`, "invalid byte"},
		{`{"$bytes:e9":1,"é":2}`, "given twice"},
		{`{"$$a":1,"a":{"$nope":1}}`, `$.a: key "$nope"`},
		{`[1,{"$q":2}]`, `$[1]: key "$q"`},
	} {
		_, err := parseJSONValue([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parse %s: err = %v, want one containing %q", c.in, err, c.want)
		}
	}
}
