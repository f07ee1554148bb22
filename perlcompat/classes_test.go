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
	// Past the 16 containers kept without a map: a long chain whose end
	// points back at its start, and one whose 30th link is refused.
	chain := func(n int, last Value) *Array {
		head := NewArray()
		cur := head
		for i := 1; i < n; i++ {
			next := NewArray()
			cur.Elems = append(cur.Elems, next)
			cur = next
		}
		if last == nil {
			last = head
		}
		cur.Elems = append(cur.Elems, last)
		return head
	}
	shared := NewHash().Set("k", Int(1))
	wide := NewArray()
	for i := 0; i < 100; i++ {
		wide.Elems = append(wide.Elems, shared, NewHash().Set("s", shared))
	}
	cases := []struct {
		name string
		v    Value
		ok   bool
	}{
		{"plain data", NewHash().Set("a", NewArray(Int(1))), true},
		{"allowed class with a cycle", cyc, true},
		{"refused class deep inside", deep, false},
		{"refused blessed array", &Array{Class: "IO::Handle"}, false},
		{"a 40-container cycle", chain(40, nil), true},
		{"refused class 30 containers down", chain(30, &Hash{Class: "Evil::Thing"}), false},
		{"one hash shared 200 times", wide, true},
	}
	for _, c := range cases {
		_, err := RestrictClasses(fakeFreezer{c.v}, allow).Thaw(nil)
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrClassNotAllowed) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}
