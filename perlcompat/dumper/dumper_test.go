package dumper

import (
	"errors"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

const v1 = VarName

func TestThawRejectsCodeAndUnknownPerlWithPosition(t *testing.T) {
	cases := []struct {
		name, text string
		err        error
		line, col  int
	}{
		{"sub", v1 + " = sub { \"DUMMY\" };", ErrUnsupported, 1, 39},
		{"function call", v1 + " = {'a' => system('rm -rf /')};", ErrUnsupported, 1, 47},
		{"qualified call", v1 + " = [CORE::exit(1)];", ErrUnsupported, 1, 40},
		{"qr", v1 + " = qr/ab/;", ErrUnsupported, 1, 39},
		{"glob", v1 + " = \\*::STDOUT;", ErrUnsupported, 1, 40},
		{"interpolation", v1 + " = \"@{[ `id` ]}\";", ErrUnsupported, 1, 40},
		{"interpolated var", v1 + " = \"$ENV{HOME}\";", ErrUnsupported, 1, 40},
		{"unknown variable", v1 + " = $VAR1;", ErrUnsupported, 1, 39},
		{"other statement", v1 + " = 1;\nprint 'x';", ErrUnsupported, 2, 1},
		{"octal number", v1 + " = 0777;", ErrUnsupported, 1, 39},
		{"hex number", v1 + " = 0x1f;", ErrUnsupported, 1, 39},
		{"case escape", v1 + " = \"\\Uabc\";", ErrUnsupported, 1, 40},
		{"comment", v1 + " = [1, # x\n2];", ErrUnsupported, 1, 43},
		{"unterminated", v1 + " = 'abc", ErrSyntax, 1, 39},
		{"missing comma", v1 + " = [1 2];", ErrSyntax, 1, 42},
		{"terse", "{'a' => 1}", ErrNoAssignment, 1, 1},
		{"empty", "  ", ErrNoAssignment, 1, 3},
		{"fix-up first", v1 + "->{'a'} = 1;", ErrNoAssignment, 1, 1},
		{"path through string", v1 + " = {'a' => 'x'};" + v1 + "->{'b'} = " + v1 + "->{'a'}{'c'};", ErrBadPath, 1, 97},
		{"autovivify", v1 + " = {};" + v1 + "->{'a'}{'b'} = 1;", ErrBadPath, 1, 42},
		{"grow array", v1 + " = [];" + v1 + "->[5] = 1;", ErrBadPath, 1, 42},
		{"bless non-ref", v1 + " = bless( 'x', 'C' );", ErrBadBless, 1, 45},
		{"bless empty class", v1 + " = bless( [], '' );", ErrBadBless, 1, 50},
		{"bless \\undef", v1 + " = bless( \\undef, 'C' );", ErrBadBless, 1, 45},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Freezer{}.Thaw([]byte(c.text))
			if !errors.Is(err, c.err) {
				t.Fatalf("Thaw(%q) = %v, %v; want %v", c.text, v, err, c.err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line != c.line || se.Column != c.col {
				t.Errorf("%v: want line %d column %d", err, c.line, c.col)
			}
		})
	}
}

func TestThawDoubleQuotedEscapesAsPerl(t *testing.T) {
	cases := map[string]perlcompat.Str{
		`"a\nb\tc\$d\@e\"f\\g"`: {S: "a\nb\tc$d@e\"f\\g"},
		`"\x{263a}\x{1f600}"`:   {S: "☺😀", UTF8: true},
		`"caf\x{e9}"`:           {S: "caf\xe9"},            // below 0x100: bytes, as in Perl
		`"caf\x{e9} \x{263a}"`:  {S: "café ☺", UTF8: true}, // one wide char upgrades all
		`"\0\1\177\351\x41\x4"`: {S: "\x00\x01\x7f\xe9A\x04"},
		`"\e\a\r\f\cA\o{101}"`:  {S: "\x1b\x07\r\f\x01A"},
		`"\N{U+E9}"`:            {S: "é", UTF8: true},
		"\"raw \xe9 byte\"":     {S: "raw \xe9 byte"},
		`'it\'s a \\ and \n'`:   {S: `it's a \ and \n`},
	}
	for src, want := range cases {
		v, err := Freezer{}.Thaw([]byte(v1 + " = " + src + ";"))
		if err != nil || v != want {
			t.Errorf("%s: got %#v, %v; want %#v", src, v, err, want)
		}
	}
}

func TestThawNumbersAndStringsStayApart(t *testing.T) {
	v, err := Freezer{}.Thaw([]byte(v1 + " = [42,'42',-17,2147483648,'1099511627776',1.5,18446744073709551615,1e3];"))
	if err != nil {
		t.Fatal(err)
	}
	want := []perlcompat.Value{perlcompat.Int(42), perlcompat.Str{S: "42"}, perlcompat.Int(-17), perlcompat.Int(2147483648),
		perlcompat.Str{S: "1099511627776"}, perlcompat.Float(1.5), perlcompat.Uint(18446744073709551615), perlcompat.Float(1000)}
	for i, e := range v.(*perlcompat.Array).Elems {
		if e != want[i] {
			t.Errorf("[%d] = %#v, want %#v", i, e, want[i])
		}
	}
}

func TestThawRestoresSharingAndCyclesFromFixups(t *testing.T) {
	text := v1 + " = {'a' => [1],'b' => [],'self' => {},'r' => \\do{my $o},'s' => \\undef,'t' => \\undef};" +
		v1 + "->{'b'} = " + v1 + "->{'a'};" + v1 + "->{'self'} = " + v1 + ";${" + v1 + "->{'r'}} = " + v1 + "->{'r'};"
	v, err := Freezer{}.Thaw([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*perlcompat.Hash)
	r := h.Get("r").(*perlcompat.Ref)
	if h.Get("a") != h.Get("b") || h.Get("self") != h || r.Target != r {
		t.Errorf("sharing lost: %s", describe(v, false))
	}
	if h.Get("s") != h.Get("t") {
		t.Error("two \\undef must be references to Perl's one undef")
	}
}

func TestThawAcceptsOtherDumperSettings(t *testing.T) {
	// Useqq, Quotekeys=0, Trailingcomma, Indent=1 whitespace.
	text := v1 + " = {\n  abc => \"x\\n\",\n  12 => [1,2,],\n  'q' => bless( do{\\(my $o = 'in')}, 'C' ),\n};\n"
	v, err := Freezer{}.Thaw([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(v, false); got != "#0H{3132=#1A[i:1 i:2] 616263=b:780a 71=#2R/43(b:696e)}" {
		t.Errorf("got %s", got)
	}
}

func TestThawEnforcesLimits(t *testing.T) {
	deep := v1 + " = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + ";"
	if _, err := (Decoder{Limits: Limits{MaxDepth: 50}}).Thaw([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth: %v", err)
	}
	many := v1 + " = [" + strings.Repeat("1,", 100) + "];"
	if _, err := (Decoder{Limits: Limits{MaxElements: 50}}).Thaw([]byte(many)); !errors.Is(err, ErrTooManyElements) {
		t.Errorf("elements: %v", err)
	}
	if _, err := (Decoder{Limits: Limits{MaxBytes: 10}}).Thaw([]byte(many)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bytes: %v", err)
	}
	if _, err := (Decoder{AllowClass: func(string) bool { return false }}).Thaw([]byte(v1 + " = bless( [], 'C' );")); !errors.Is(err, ErrBadBless) {
		t.Errorf("AllowClass: %v", err)
	}
}

func TestFreezeWritesDumperStyle(t *testing.T) {
	shared := perlcompat.NewArray(perlcompat.Int(1))
	h := perlcompat.NewHash().Set("a", shared).Set("b", shared).
		Set("s", perlcompat.Text("caf\u00e9 \u263a $x")).Set("q", perlcompat.Str{S: `it's \`}).
		Set("n", perlcompat.NewArray(perlcompat.Int(2147483648), perlcompat.Int(-2147483648), perlcompat.Float(0.1), perlcompat.Bool(true), perlcompat.Bool(false), nil)).
		Set("o", &perlcompat.Ref{Class: "C", Target: perlcompat.Text("in")})
	h.Set("self", h)
	out, err := Freezer{}.Freeze(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	want := v1 + ` = {'a' => [1],'b' => do{my $o},'s' => "caf\x{e9} \x{263a} \$x",'q' => 'it\'s \\',` +
		`'n' => [2147483648,'-2147483648','0.1',1,'',undef],'o' => bless( do{\(my $o = 'in')}, 'C' ),'self' => do{my $o}};` +
		v1 + `->{'b'} = ` + v1 + `->{'a'};` + v1 + `->{'self'} = ` + v1 + `;`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestFreezeRefusesInvalidUTF8Text(t *testing.T) {
	_, err := Freezer{}.Freeze(nil, perlcompat.Str{S: "\xff\xfe", UTF8: true})
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("err %v", err)
	}
}
