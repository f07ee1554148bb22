package freezethaw

import (
	"errors"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

func TestThawRejectsMalformedFramesWithOffset(t *testing.T) {
	cases := []struct {
		name, frame string
		err         error
		offset      int
	}{
		{"empty", "", ErrTruncated, 0},
		{"signature only", "FrT;", ErrTruncated, 4},
		{"unknown code", "FrT;@1|x", ErrSyntax, 7},
		{"string too long", "FrT;@1|$9|abc", ErrTruncated, 7},
		{"count too big", "FrT;@5|_", ErrTruncated, 4},
		{"missing bar", "FrT;@1_", ErrSyntax, 6},
		{"number overflow", "FrT;@99999999999999999999|", ErrSyntax, 5},
		{"number too long", "FrT;@000000000000000000001|", ErrSyntax, 5},
		{"trailing", "FrT;@1|_x", ErrTrailing, 8},
		{"root not array", "FrT;%0|", ErrSyntax, 4},
		{"two values", "FrT;@2|__", ErrNotOneValue, 4},
		{"odd hash", "FrT;@1|%1|$1|a", ErrSyntax, 7},
		{"ref key", "FrT;@1|%2|@0|_", ErrBadKey, 7},
		{"backref without table", "FrT;@1|<0|", ErrBadBackref, 7},
		{"backref out of range", "FrT;!0|@0|@0|@1|<1|", ErrBadBackref, 16},
		{"unknown class number", "FrT;@1|>)3|@0|", ErrBadClass, 8},
		{"bless a string", "FrT;@1|>>0|$1|C$1|x", ErrBadClass, 7},
		{"empty class", "FrT;@1|>>0|$0|@0|", ErrBadClass, 8},
		{"code ref", "FrT;@1|&$4|CODE", ErrUnsupported, 7},
		{"glob", "FrT;@1|*$4|GLOB", ErrUnsupported, 7},
		{"regexp", "FrT;@1|/1|a", ErrUnsupported, 7},
		{"safeFreeze", "FrT;?$3|abc@1|_", ErrUnsupported, 4},
		{"instantiate outside table", "FrT;@1|}>0|$1|C@0|", ErrSyntax, 7},
		{"placeholder type mismatch", "FrT;!0|@0|%0|@1|<0|", ErrSyntax, 10},
		{"placeholder not a ref", "FrT;!0|$1|x$1|x@1|<0|", ErrSyntax, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Freezer{}.Thaw([]byte(c.frame))
			if !errors.Is(err, c.err) {
				t.Fatalf("Thaw(%q) = %v, %v; want %v", c.frame, v, err, c.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset != c.offset {
				t.Errorf("error %v: offset want %d", err, c.offset)
			}
		})
	}
}

func TestThawAcceptsFrameWithoutSignatureAsPerlDoes(t *testing.T) {
	v, err := Freezer{}.Thaw([]byte("@1|$2|hi"))
	if err != nil || v != (perlcompat.Str{S: "hi"}) {
		t.Fatalf("got %v, %v", v, err)
	}
}

func TestThawEnforcesLimits(t *testing.T) {
	deep := "FrT;@1|" + strings.Repeat(`\`, 100) + "_"
	if _, err := (Decoder{Limits: Limits{MaxDepth: 50}}).Thaw([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth: %v", err)
	}
	if _, err := (Decoder{}).Thaw([]byte(deep)); err != nil {
		t.Errorf("depth 100 within default: %v", err)
	}
	many := "FrT;@1|@100|" + strings.Repeat("_", 100)
	if _, err := (Decoder{Limits: Limits{MaxElements: 50}}).Thaw([]byte(many)); !errors.Is(err, ErrTooManyElements) {
		t.Errorf("elements: %v", err)
	}
	if _, err := (Decoder{Limits: Limits{MaxBytes: 10}}).Thaw([]byte(many)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bytes: %v", err)
	}
}

func TestThawKeepsSharingAndCycles(t *testing.T) {
	// What FreezeThaw::freeze writes for $h = {}; $h->{self} = $h; [$h, $h]
	v, err := Freezer{}.Thaw([]byte("FrT;!0|%0|%2|$4|self<0|@1|@2|<0|<0|"))
	if err != nil {
		t.Fatal(err)
	}
	a := v.(*perlcompat.Array)
	h := a.Elems[0].(*perlcompat.Hash)
	if a.Elems[1] != h || h.Get("self") != h {
		t.Errorf("sharing lost: %#v", a)
	}
}

func TestThawBlessedSharedObjectViaAllocateInstantiate(t *testing.T) {
	// $o = bless {n=>1}, 'C'; [$o, $o]
	v, err := Freezer{}.Thaw([]byte("FrT;!0|{>0|$1|C%0|})0|%2|$1|n$1|1@1|@2|<0|<0|"))
	if err != nil {
		t.Fatal(err)
	}
	a := v.(*perlcompat.Array)
	o := a.Elems[0].(*perlcompat.Hash)
	if a.Elems[1] != o || o.Class != "C" || o.Get("n") != (perlcompat.Str{S: "1"}) {
		t.Errorf("got %#v", o)
	}
}

func TestFreezeRefusesNonASCIICharacterStrings(t *testing.T) {
	for name, v := range map[string]perlcompat.Value{
		"value": perlcompat.NewHash().Set("a", perlcompat.Text("café")),
		"key":   perlcompat.NewHash().Set("clé", perlcompat.Int(1)),
		"class": &perlcompat.Array{Class: "Caf\u00e9"},
	} {
		dst := []byte("keep")
		out, err := Freezer{}.Freeze(dst, v)
		if !errors.Is(err, ErrNonASCIIText) {
			t.Errorf("%s: err %v, want ErrNonASCIIText", name, err)
		}
		if string(out) != "keep" {
			t.Errorf("%s: dst changed to %q", name, out)
		}
	}
	// Bytes are fine, and ASCII character strings too.
	out, err := Freezer{}.Freeze(nil, perlcompat.NewHash().Set("a", perlcompat.Str{S: "caf\xe9"}).Set("b", perlcompat.Text("ok")))
	if err != nil || string(out) != "FrT;@1|%4|$1|a$1|b$4|caf\xe9$2|ok" {
		t.Errorf("got %q, %v", out, err)
	}
}

func TestFreezeWritesNumbersAsPerlStrings(t *testing.T) {
	v := perlcompat.NewArray(perlcompat.Int(-17), perlcompat.Uint(18446744073709551615), perlcompat.Float(1e100),
		perlcompat.Float(0.1), perlcompat.Bool(true), perlcompat.Bool(false), nil)
	out, err := Freezer{}.Freeze(nil, v)
	want := "FrT;@1|@7|$3|-17$20|18446744073709551615$6|1e+100$3|0.1$1|1$0|_"
	if err != nil || string(out) != want {
		t.Errorf("got %q, %v\nwant %q", out, err, want)
	}
}

func TestFreezeBoundsDepthOfUnsharedNesting(t *testing.T) {
	var v perlcompat.Value = perlcompat.Undef{}
	for i := 0; i < 100; i++ {
		v = &perlcompat.Ref{Target: v}
	}
	if _, err := (Encoder{Limits: Limits{MaxDepth: 50}}).Freeze(nil, v); !errors.Is(err, ErrTooDeep) {
		t.Errorf("err %v, want ErrTooDeep", err)
	}
}
