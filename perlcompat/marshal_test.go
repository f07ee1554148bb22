package perlcompat

import (
	"errors"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustFromGo(t *testing.T, x any) Value {
	t.Helper()
	v, err := FromGo(x)
	if err != nil {
		t.Fatalf("FromGo(%#v): %v", x, err)
	}
	return v
}

func TestFromGoScalars(t *testing.T) {
	h := NewHash().Set("a", Int(1))
	when := time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)
	cases := []struct {
		in   any
		want Value
	}{
		{nil, Undef{}},
		{(*int)(nil), Undef{}},
		{[]int(nil), Undef{}},
		{map[string]int(nil), Undef{}},
		{(*Hash)(nil), Undef{}},
		{true, Str{S: "1"}},
		{false, Str{S: ""}},
		{int8(-8), Int(-8)},
		{int64(math.MinInt64), Int(math.MinInt64)},
		{uint16(65535), Int(65535)},
		{uint64(math.MaxInt64), Int(math.MaxInt64)},
		{uint64(math.MaxInt64 + 1), Uint(math.MaxInt64 + 1)},
		{float32(0.5), Float(0.5)},
		{3.25, Float(3.25)},
		{"abc", Str{S: "abc"}},
		{"café", Str{S: "café", UTF8: true}},
		{"caf\xe9", Str{S: "caf\xe9"}},
		{[]byte("caf\xc3\xa9"), Str{S: "caf\xc3\xa9"}},
		{[]byte{}, Str{}},
		{Str{S: "x", UTF8: true}, Str{S: "x", UTF8: true}},
		{Bool(true), Bool(true)},
		{Value(Int(3)), Int(3)},
		{h, h},
		{when, Str{S: "2024-05-06T07:08:09.0000005Z"}},
		{netip.MustParseAddr("10.0.0.1"), Str{S: "10.0.0.1"}},
		{[2]int{1, 2}, NewArray(Int(1), Int(2))},
	}
	for _, c := range cases {
		got := mustFromGo(t, c.in)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("FromGo(%#v) (-want +got):\n%s", c.in, diff)
		}
	}
	if got := mustFromGo(t, h); got != Value(h) {
		t.Error("FromGo(*Hash) made a copy")
	}
}

func TestFromGoRefusesUnrepresentableTypes(t *testing.T) {
	for _, x := range []any{make(chan int), func() {}, complex(1, 2), map[float64]int{1: 1}, []any{1, func() {}}} {
		_, err := FromGo(x)
		var ute *UnsupportedTypeError
		if !errors.As(err, &ute) {
			t.Errorf("FromGo(%T) error = %v, want *UnsupportedTypeError", x, err)
		}
	}
}

func TestFromGoSortsMapKeys(t *testing.T) {
	got := mustFromGo(t, map[string]any{"b": 2, "a": []string{"x"}, "c": nil, "é": 1})
	want := &Hash{Entries: []Entry{
		{Key: Str{S: "a"}, Value: NewArray(Str{S: "x"})},
		{Key: Str{S: "b"}, Value: Int(2)},
		{Key: Str{S: "c"}, Value: Undef{}},
		{Key: Str{S: "é", UTF8: true}, Value: Int(1)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got = mustFromGo(t, map[int]bool{10: true, -1: false, 2: true})
	keys := []string{}
	for _, e := range got.(*Hash).Entries {
		keys = append(keys, e.Key.S)
	}
	if diff := cmp.Diff([]string{"-1", "10", "2"}, keys); diff != "" {
		t.Errorf("int keys sort as strings (-want +got):\n%s", diff)
	}
	got = mustFromGo(t, map[netip.Addr]int{netip.MustParseAddr("::1"): 1})
	if k := got.(*Hash).Entries[0].Key.S; k != "::1" {
		t.Errorf("TextMarshaler key = %q", k)
	}
}

type Inner struct {
	Shared string `perl:"shared"`
	Deep   int
}

type Tagged struct {
	Inner
	*Extra
	Name     string            `perl:"name"`
	JSONOnly string            `json:"json_only"`
	Both     string            `perl:"perl_wins" json:"json_loses"`
	Skip     string            `perl:"-"`
	Dash     string            `perl:"-,"`
	Empty    string            `perl:"empty,omitempty"`
	Zero     time.Time         `perl:"zero,omitzero"`
	NilMap   map[string]string `perl:",omitempty"`
	Shared   string            `perl:"shared"` // hides Inner.Shared
	private  int
}

type Extra struct {
	More string `perl:"more"`
}

func TestFromGoStructTagsAndEmbedding(t *testing.T) {
	got := mustFromGo(t, Tagged{
		Inner:    Inner{Shared: "inner", Deep: 2},
		Name:     "n",
		JSONOnly: "j",
		Both:     "b",
		Skip:     "s",
		Dash:     "d",
		Shared:   "outer",
		private:  1,
	})
	want := NewHash().
		Set("Deep", Int(2)).
		Set("name", Str{S: "n"}).
		Set("json_only", Str{S: "j"}).
		Set("perl_wins", Str{S: "b"}).
		Set("-", Str{S: "d"}).
		Set("shared", Str{S: "outer"})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got = mustFromGo(t, Tagged{Extra: &Extra{More: "m"}, Empty: "e", Zero: time.Unix(0, 0).UTC()})
	h := got.(*Hash)
	for k, want := range map[string]Value{"more": Str{S: "m"}, "empty": Str{S: "e"}, "zero": Str{S: "1970-01-01T00:00:00Z"}} {
		if diff := cmp.Diff(want, h.Get(k)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
}

func TestFromGoDropsFieldsThatTieAtTheSameDepth(t *testing.T) {
	type A struct{ X, Y int }
	type B struct {
		X int
		Y int `perl:"Y"`
	}
	type C struct {
		A
		B
	}
	h := mustFromGo(t, C{A{1, 2}, B{3, 4}}).(*Hash)
	if _, ok := h.Lookup("X"); ok {
		t.Error("ambiguous X was kept")
	}
	if got := h.Get("Y"); got != Int(4) {
		t.Errorf("tagged Y = %#v, want 4", got)
	}
}

type node struct {
	Name string
	Next *node
	Kids []*node
}

func TestFromGoKeepsSharedPointersShared(t *testing.T) {
	leaf := &node{Name: "leaf"}
	root := &node{Name: "root", Kids: []*node{leaf, leaf}, Next: leaf}
	h := mustFromGo(t, root).(*Hash)
	kids := h.Get("Kids").(*Array)
	if kids.Elems[0] != kids.Elems[1] || kids.Elems[0] != h.Get("Next") {
		t.Fatal("the same *node became different hashes")
	}

	s := []int{1, 2}
	m := map[string]int{"a": 1}
	a := mustFromGo(t, []any{s, s, m, m, s[:1]}).(*Array)
	if a.Elems[0] != a.Elems[1] || a.Elems[2] != a.Elems[3] {
		t.Error("the same slice or map became different containers")
	}
	if a.Elems[0] == a.Elems[4] {
		t.Error("a shorter sub-slice shared the whole slice's array")
	}

	// Distinct empty values must not collapse into one (Go may give them
	// all one address).
	type empty struct{}
	e1, e2 := &empty{}, &empty{}
	b := mustFromGo(t, []any{e1, e2, []int{}, []int{}}).(*Array)
	if b.Elems[0] == b.Elems[1] || b.Elems[2] == b.Elems[3] {
		t.Error("zero-sized values were shared")
	}
}

func TestFromGoTurnsPointerCyclesIntoPerlCycles(t *testing.T) {
	n := &node{Name: "self"}
	n.Next = n
	h := mustFromGo(t, n).(*Hash)
	if h.Get("Next") != Value(h) {
		t.Fatal("cycle not kept")
	}

	a, b := &node{Name: "a"}, &node{Name: "b"}
	a.Next, b.Next = b, a
	ha := mustFromGo(t, a).(*Hash)
	hb := ha.Get("Next").(*Hash)
	if hb.Get("Next") != Value(ha) {
		t.Fatal("two-node cycle not kept")
	}

	m := map[string]any{}
	m["me"] = m
	hm := mustFromGo(t, m).(*Hash)
	if hm.Get("me") != Value(hm) {
		t.Fatal("map cycle not kept")
	}

	s := make([]any, 1)
	s[0] = s
	as := mustFromGo(t, s).(*Array)
	if as.Elems[0] != Value(as) {
		t.Fatal("slice cycle not kept")
	}
}

func TestFromGoStopsAtMaxDepth(t *testing.T) {
	var deep any = 1
	for range MaxDepth + 5 {
		deep = []any{deep}
	}
	if _, err := FromGo(deep); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep slice error = %v, want ErrTooDeep", err)
	}
	// An interface pointing at itself can only be cut by the depth bound.
	var self any
	self = &self
	if _, err := FromGo(self); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("self-pointer error = %v, want ErrTooDeep", err)
	}
	var shallow any = 1
	for range 100 {
		shallow = []any{shallow}
	}
	if _, err := FromGo(shallow); err != nil {
		t.Fatalf("depth 100: %v", err)
	}
}

type point struct{ X, Y int }

func (p point) MarshalPerl() (Value, error) {
	return NewArray(Int(p.X), Int(p.Y)), nil
}

func (p *point) UnmarshalPerl(v Value) error {
	a, ok := v.(*Array)
	if !ok || len(a.Elems) != 2 {
		return errors.New("point wants [x, y]")
	}
	var err error
	if p.X, err = intOf(a.Elems[0]); err != nil {
		return err
	}
	p.Y, err = intOf(a.Elems[1])
	return err
}

func intOf(v Value) (int, error) {
	i, err := AsInt(v)
	return int(i), err
}

type failing struct{}

func (*failing) MarshalPerl() (Value, error) { return nil, errors.New("boom") }

type object struct {
	ID int `perl:"id"`
}

func (object) PerlClass() string { return "My::Object" }

type derived struct {
	object
	Name string `perl:"name"`
}

type blessedList []int

func (blessedList) PerlClass() string { return "My::List" }

func TestFromGoAsksMarshalersAndBlessesClassedTypes(t *testing.T) {
	got := mustFromGo(t, map[string]any{"p": point{1, 2}, "pp": &point{3, 4}})
	want := NewHash().Set("p", NewArray(Int(1), Int(2))).Set("pp", NewArray(Int(3), Int(4)))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	_, err := FromGo(struct{ F *failing }{&failing{}})
	var me *MarshalerError
	if !errors.As(err, &me) || me.Err.Error() != "boom" {
		t.Errorf("error = %v, want MarshalerError(boom)", err)
	}

	h := mustFromGo(t, &derived{object{7}, "d"}).(*Hash)
	if h.Class != "My::Object" || h.Get("id") != Int(7) || h.Get("name") != (Str{S: "d"}) {
		t.Errorf("blessed = %+v", h)
	}
	if a := mustFromGo(t, blessedList{1}).(*Array); a.Class != "My::List" {
		t.Errorf("blessed list class = %q", a.Class)
	}
}

func TestFromGoNeverPanicsOnOddValues(t *testing.T) {
	var nilIface error
	type withIface struct {
		E error
		F any
		P **int
	}
	p := new(int)
	for _, x := range []any{nilIface, withIface{}, withIface{P: &p}, reflect.Value{}, struct{ *Extra }{}} {
		if _, err := FromGo(x); err != nil {
			// reflect.Value has unexported fields only: an empty hash.
			t.Errorf("FromGo(%#v): %v", x, err)
		}
	}
}

func TestFromGoPassesValuesThroughAsTheyAre(t *testing.T) {
	h := NewHash().Set("k", Int(1))
	a := NewArray(Text("x"))
	r := &Ref{Target: Int(2)}
	for _, v := range []Value{Undef{}, Text("é"), Bytes([]byte{0xff}), Int(-3), Uint(1 << 63), Float(0.5), Bool(true), h, a, r} {
		got, err := FromGo(v)
		if err != nil || got != v {
			t.Errorf("FromGo(%#v) = %#v, %v; want the same value", v, got, err)
		}
	}
	// Nil pointers of the model types, and nil itself, are undef, as
	// Perl's undef is what a Go nil stands for.
	for _, x := range []any{nil, (*Hash)(nil), (*Array)(nil), (*Ref)(nil)} {
		if got, err := FromGo(x); err != nil || got != (Undef{}) {
			t.Errorf("FromGo(%#v) = %#v, %v; want undef", x, got, err)
		}
	}
}
