package main

import (
	"bufio"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// perlCases are values and the literal -perl prints for them.
var perlCases = []struct {
	v    perlcompat.Value
	want string
}{
	{perlcompat.Undef{}, `undef`},
	{nil, `undef`},
	{txt("x"), `'x'`},
	{txt(""), `''`},
	{txt(`it's a \ `), `'it\'s a \\ '`},
	{txt("42"), `'42'`},
	{perlcompat.Str{S: "☺", UTF8: true}, `"\x{263a}"`},
	{perlcompat.Str{S: "café ☺", UTF8: true}, `"caf\N{U+E9} \x{263a}"`},
	{perlcompat.Str{S: "\U0001F600", UTF8: true}, `"\x{1f600}"`},
	{byt("caf\xe9"), `"caf\xe9"`},
	{byt("\x00\xff"), `"\x00\xff"`},
	{txt("a\nb\t\"$x@y\\\x1b\x7f"), `"a\nb\t\"\$x\@y\\\e\x7f"`},
	{perlcompat.Int(1), `1`},
	{perlcompat.Int(-5), `-5`},
	{perlcompat.Uint(math.MaxUint64), `18446744073709551615`},
	{perlcompat.Float(1.5), `1.5`},
	{perlcompat.Float(1), `1.0`},
	{perlcompat.Float(-0.25), `-0.25`},
	{perlcompat.Float(1e300), `1e+300`},
	{perlcompat.Float(math.Inf(1)), `9**9**9`},
	{perlcompat.Float(math.Inf(-1)), `-9**9**9`},
	{perlcompat.Float(math.NaN()), `-sin(9**9**9)`},
	{perlcompat.Bool(true), `!!1`},
	{perlcompat.Bool(false), `!!0`},
	{arr(), `[]`},
	{arr(perlcompat.Int(1), txt("x")), `[1,'x']`},
	{hash(txt("b"), arr(perlcompat.Int(1), txt("x")), txt("a"), perlcompat.Int(1)), `{'a' => 1,'b' => [1,'x']}`},
	{hash(txt("é"), perlcompat.Int(2), byt("\xff"), perlcompat.Int(3), txt("$k"), perlcompat.Int(1)), `{'$k' => 1,"\N{U+E9}" => 2,"\xff" => 3}`},
	{&perlcompat.Ref{Target: txt("x")}, `\'x'`},
	{&perlcompat.Ref{Target: &perlcompat.Ref{Target: perlcompat.Int(1)}}, `\\1`},
	{&perlcompat.Ref{Target: arr(perlcompat.Int(1))}, `\[1]`},
	{&perlcompat.Ref{Target: perlcompat.Undef{}}, `\undef`},
	{&perlcompat.Hash{Class: "My::Class", Entries: []perlcompat.Entry{{Key: txt("k"), Value: txt("v")}}}, `bless( {'k' => 'v'}, 'My::Class' )`},
	{&perlcompat.Array{Class: "A", Elems: []perlcompat.Value{perlcompat.Int(1)}}, `bless( [1], 'A' )`},
	{&perlcompat.Ref{Class: "C", Target: txt("x")}, `bless( do{\(my $o = 'x')}, 'C' )`},
	{&perlcompat.Ref{Class: "C", Target: arr()}, `bless( do{\(my $o = [])}, 'C' )`},
	{arr(&perlcompat.Ref{Target: &perlcompat.Hash{Class: "H"}}), `[\bless( {}, 'H' )]`},
}

func TestFormatPerlValue(t *testing.T) {
	for _, c := range perlCases {
		if got := formatPerlValue(c.v); got != c.want {
			t.Errorf("formatPerlValue(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestFormatPerlSharedAndCycles(t *testing.T) {
	shared := arr(perlcompat.Int(1))
	if got, want := formatPerlValue(arr(shared, shared)), `[[1],[1]]`; got != want {
		t.Errorf("shared = %s, want %s", got, want)
	}
	a := arr(perlcompat.Int(1))
	h := hash(txt("self"), perlcompat.Undef{}, txt("list"), a)
	h.Entries[0].Value = h
	a.Elems = append(a.Elems, h)
	if got, want := formatPerlValue(h), `{'list' => [1,$VAR1],'self' => $VAR1}`; got != want {
		t.Errorf("cycle = %s, want %s", got, want)
	}
	inner := arr()
	r := &perlcompat.Ref{Target: hash(txt("a"), inner)}
	inner.Elems = append(inner.Elems, inner)
	if got, want := formatPerlValue(r), `\{'a' => [${$VAR1}->{'a'}]}`; got != want {
		t.Errorf("inner cycle = %s, want %s", got, want)
	}
}

// TestPerlLiteralsEvaluate has real Perl evaluate what -perl prints and
// describe the result from its own flags: it must be the value printed,
// down to string vs number and bytes vs characters.
func TestPerlLiteralsEvaluate(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl is not installed; skipping the Perl evaluation of -perl output")
	}
	var vals []perlcompat.Value
	var lines []string
	for _, c := range perlCases {
		if f, ok := c.v.(perlcompat.Float); ok && (math.IsNaN(float64(f)) || math.IsInf(float64(f), 0)) {
			continue // JSON has no Inf/NaN; checked apart below
		}
		vals = append(vals, c.v)
		lines = append(lines, formatPerlValue(c.v))
	}
	for _, c := range notationCases {
		vals = append(vals, c.want)
		lines = append(lines, formatPerlValue(c.want))
	}
	cmd := exec.Command("perl", "testdata/perl_eval.pl")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl testdata/perl_eval.pl: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	i := 0
	for ; sc.Scan() && i < len(vals); i++ {
		got, err := parseJSONValue(sc.Bytes())
		if err != nil {
			t.Errorf("%s: Perl printed %s: %v", lines[i], sc.Text(), err)
			continue
		}
		want := perlView(vals[i])
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("Perl evaluated %s to %s (-want +got):\n%s", lines[i], sc.Text(), d)
		}
	}
	if i != len(vals) {
		t.Errorf("Perl described %d values, want %d", i, len(vals))
	}
	// Inf and NaN: Perl's numbers, not strings.
	cmd = exec.Command("perl", "-e", `my @v = (`+perlFloat(math.Inf(1))+`, `+perlFloat(math.Inf(-1))+`, `+perlFloat(math.NaN())+`); print join(",", map { $_ == $_ ? ($_ > 0 ? "inf" : "-inf") : "nan" } @v)`)
	if out, err := cmd.Output(); err != nil || string(out) != "inf,-inf,nan" {
		t.Errorf("Perl read Inf, -Inf, NaN as %q, %v", out, err)
	}
}

// perlView is v as the Perl describer sees it: an immortal boolean is a
// string, an ASCII string has no UTF8 flag to show, nil is undef.
func perlView(v perlcompat.Value) perlcompat.Value {
	switch x := v.(type) {
	case nil:
		return perlcompat.Undef{}
	case perlcompat.Bool:
		if x {
			return txt("1")
		}
		return txt("")
	case perlcompat.Str:
		if x.UTF8 {
			return txt(x.S)
		}
		return x
	case *perlcompat.Array:
		out := &perlcompat.Array{Class: x.Class}
		for _, e := range x.Elems {
			out.Elems = append(out.Elems, perlView(e))
		}
		return out
	case *perlcompat.Hash:
		out := &perlcompat.Hash{Class: x.Class}
		for _, e := range x.Entries {
			out.Entries = append(out.Entries, perlcompat.Entry{Key: e.Key, Value: perlView(e.Value)})
		}
		// The describer sorts keys as the notation does.
		s, _ := formatJSONValue(out)
		back, _ := parseJSONValue([]byte(s))
		return back
	case *perlcompat.Ref:
		return &perlcompat.Ref{Class: x.Class, Target: perlView(x.Target)}
	}
	return v
}
