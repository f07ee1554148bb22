package perlcompat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSameKeyComparesCharactersNotFlags(t *testing.T) {
	cases := []struct {
		a, b Str
		want bool
	}{
		{Str{S: "abc"}, Str{S: "abc", UTF8: true}, true},
		{Str{S: "caf\xe9"}, Str{S: "café", UTF8: true}, true},
		{Str{S: "caf\xc3\xa9"}, Str{S: "café", UTF8: true}, false},
		{Str{S: "☺", UTF8: true}, Str{S: "\xe2\x98\xba"}, false},
		{Str{S: "a"}, Str{S: "b"}, false},
	}
	for _, c := range cases {
		if got := SameKey(c.a, c.b); got != c.want {
			t.Errorf("SameKey(%+v, %+v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestHashSetReplacesTheSameKeyWhateverItsFlag(t *testing.T) {
	h := NewHash()
	h.SetKey(Str{S: "caf\xe9"}, Int(1))
	h.Set("café", Int(2))
	want := []Entry{{Key: Str{S: "caf\xe9"}, Value: Int(2)}}
	if diff := cmp.Diff(want, h.Entries); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
}

func TestTextSetsTheUTF8FlagOnlyForNonASCII(t *testing.T) {
	if Text("abc").UTF8 || !Text("é").UTF8 || Text("\xff").UTF8 {
		t.Fatal("Text flags wrong")
	}
	if got := (Str{S: "caf\xe9"}).Chars(); got != "café" {
		t.Fatalf("Chars = %q", got)
	}
}

func TestFormatFloatMatchesPerl(t *testing.T) {
	for f, want := range map[float64]string{3.14159: "3.14159", 0.1: "0.1", 1e100: "1e+100", -2.5e-7: "-2.5e-07", 1.0: "1", 1e15: "1e+15"} {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestBoxStrIsTheSameValueAsAnOrdinaryConversion(t *testing.T) {
	strs := []Str{{S: "kernel"}, {S: "é", UTF8: true}, {}}
	for i := range strs {
		boxed := BoxStr(&strs[i])
		var plain Value = strs[i]
		if boxed != plain {
			t.Errorf("BoxStr(%#v) = %#v, not equal to the ordinary conversion", strs[i], boxed)
		}
		if s, ok := boxed.(Str); !ok || s != strs[i] {
			t.Errorf("BoxStr(%#v) asserts back as %#v, %v", strs[i], s, ok)
		}
		m := map[Value]int{plain: i}
		if m[boxed] != i {
			t.Errorf("BoxStr(%#v) is another map key than the ordinary conversion", strs[i])
		}
	}
}
