package perlcompat

import (
	"errors"
	"testing"
)

type fakeFreezer struct{ v Value }

func (f fakeFreezer) Name() string                               { return "Fake" }
func (f fakeFreezer) Freeze(dst []byte, v Value) ([]byte, error) { return dst, nil }
func (f fakeFreezer) Thaw([]byte) (Value, error)                 { return f.v, nil }

func TestRestrictClassesRefusesAnyBlessingOutsideTheAllowList(t *testing.T) {
	allow := func(c string) bool { return c == "My::Ok" }
	cyc := &Hash{Class: "My::Ok"}
	cyc.Set("self", cyc)
	deep := NewArray(NewHash().Set("x", &Ref{Class: "Evil::Thing", Target: Int(1)}))
	cases := []struct {
		name string
		v    Value
		ok   bool
	}{
		{"plain data", NewHash().Set("a", NewArray(Int(1))), true},
		{"allowed class with a cycle", cyc, true},
		{"refused class deep inside", deep, false},
		{"refused blessed array", &Array{Class: "IO::Handle"}, false},
	}
	for _, c := range cases {
		_, err := RestrictClasses(fakeFreezer{c.v}, allow).Thaw(nil)
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrClassNotAllowed) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}
