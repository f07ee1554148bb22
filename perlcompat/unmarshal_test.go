package perlcompat

import (
	"errors"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// roundTrip marshals in, unmarshals into a fresh value of the same type
// and returns it.
func roundTrip[T any](t *testing.T, in T) T {
	t.Helper()
	v, err := FromGo(in)
	if err != nil {
		t.Fatalf("FromGo(%#v): %v", in, err)
	}
	var out T
	if err := Unmarshal(v, &out); err != nil {
		t.Fatalf("Unmarshal(%#v) into %T: %v", v, out, err)
	}
	return out
}

func checkRoundTrip[T any](t *testing.T, in T) {
	t.Helper()
	out := roundTrip(t, in)
	if diff := cmp.Diff(in, out, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreUnexported(Tagged{})); diff != "" {
		t.Errorf("round trip of %T (-in +out):\n%s", in, diff)
	}
}

type everything struct {
	B      bool
	I      int
	I8     int8
	I64    int64
	U      uint
	U64    uint64
	F32    float32
	F64    float64
	S      string
	Bytes  []byte
	Slice  []string
	Array  [3]int
	Map    map[string]int
	IntMap map[int]string
	Ptr    *int
	NilPtr *int
	PtrPtr **string
	Any    any
	Nested Inner
	Points []point
	When   time.Time
	Addr   netip.Addr
	Value  Value
	Hash   *Hash
	Tagged Tagged
}

func TestRoundTripManyTypes(t *testing.T) {
	i := 5
	s := "ss"
	ps := &s
	checkRoundTrip(t, everything{
		B: true, I: -1, I8: -128, I64: math.MinInt64, U: 7, U64: math.MaxUint64,
		F32: 1.5, F64: -2.5e-7, S: "café", Bytes: []byte{0, 0xff, 'a'},
		Slice: []string{"a", ""}, Array: [3]int{1, 2, 3},
		Map: map[string]int{"x": 1}, IntMap: map[int]string{-3: "m"},
		Ptr: &i, PtrPtr: &ps, Any: map[string]any{"k": []any{"v", int64(1)}},
		Nested: Inner{Shared: "sh", Deep: 9}, Points: []point{{1, 2}, {3, 4}},
		When:  time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
		Addr:  netip.MustParseAddr("192.0.2.1"),
		Value: NewArray(Str{S: "raw\xff"}, Bool(false)),
		Hash:  NewHash().Set("h", Float(0.5)),
		Tagged: Tagged{Inner: Inner{Deep: 1}, Extra: &Extra{More: "x"}, Name: "n",
			JSONOnly: "j", Both: "b", Dash: "d", Empty: "e", Shared: "s"},
	})
	checkRoundTrip(t, []any{nil, "x", int64(-1), 2.5, []any{}, map[string]any{}})
	checkRoundTrip(t, map[string][]int{"a": {1}, "b": nil})
	checkRoundTrip(t, "日本")
	checkRoundTrip(t, uint8(200))
}

func TestUnmarshalReadsPerlStringsAsNumbers(t *testing.T) {
	h := NewHash().
		Set("port", Str{S: "6667"}).
		Set("ratio", Str{S: " 2.5e-1 "}).
		Set("count", Float(3)).
		Set("flag", Str{S: "0.0"}).
		Set("off", Str{S: "0"}).
		Set("big", Str{S: "18446744073709551615"}).
		Set("name", Int(42)).
		Set("pi", Float(3.14))
	var got struct {
		Port  uint16
		Ratio float64
		Count int
		Flag  bool
		Off   bool
		Big   uint64
		Name  string
		Pi    string
	}
	if err := Unmarshal(h, &got); err != nil {
		t.Fatal(err)
	}
	if got.Port != 6667 || got.Ratio != 0.25 || got.Count != 3 || !got.Flag || got.Off ||
		got.Big != math.MaxUint64 || got.Name != "42" || got.Pi != "3.14" {
		t.Errorf("got %+v", got)
	}
}

func TestUnmarshalRangeErrorsDoNotWrapAround(t *testing.T) {
	cases := []struct {
		v   Value
		dst any
		err error
	}{
		{Int(300), new(uint8), ErrRange},
		{Int(-1), new(uint), ErrRange},
		{Str{S: "128"}, new(int8), ErrRange},
		{Str{S: "-129"}, new(int8), ErrRange},
		{Uint(math.MaxUint64), new(int64), ErrRange},
		{Float(1e40), new(float32), ErrRange},
		{Float(1.5), new(int), ErrNotInteger},
		{Str{S: "0x10"}, new(int), ErrNotNumber},
		{Str{S: "ten"}, new(float64), ErrNotNumber},
	}
	for _, c := range cases {
		err := Unmarshal(c.v, c.dst)
		var ute *UnmarshalTypeError
		if !errors.As(err, &ute) || !errors.Is(err, c.err) {
			t.Errorf("Unmarshal(%#v, %T) = %v, want UnmarshalTypeError wrapping %v", c.v, c.dst, err, c.err)
			continue
		}
		if ute.Type != reflect.TypeOf(c.dst).Elem() {
			t.Errorf("error type %v", ute.Type)
		}
		if !reflect.ValueOf(c.dst).Elem().IsZero() {
			t.Errorf("Unmarshal(%#v, %T) stored %v", c.v, c.dst, reflect.ValueOf(c.dst).Elem())
		}
	}
}

func TestUnmarshalTypeErrorNamesTheFieldAndGoesOn(t *testing.T) {
	h := NewHash().
		Set("servers", NewArray(NewHash().Set("port", Str{S: "80"}), NewHash().Set("port", NewHash()))).
		Set("name", Str{S: "after"})
	var got struct {
		Servers []struct{ Port int }
		Name    string
	}
	err := Unmarshal(h, &got)
	var ute *UnmarshalTypeError
	if !errors.As(err, &ute) {
		t.Fatalf("error = %v", err)
	}
	if ute.Field != "servers.1.port" || ute.Value != "HASH" || ute.Type != reflect.TypeFor[int]() {
		t.Errorf("error = %+v", ute)
	}
	if got.Name != "after" || got.Servers[0].Port != 80 {
		t.Errorf("decoding stopped at the error: %+v", got)
	}
	want := `perlcompat: cannot unmarshal HASH into Go value of type int at "servers.1.port": perlcompat: AsInt(HASH): reference is not a scalar`
	if err.Error() != want {
		t.Errorf("error text\n%s\nwant\n%s", err, want)
	}
}

func TestUnmarshalMatchesKeysExactlyThenIgnoringCase(t *testing.T) {
	h := NewHash().Set("NAME", Str{S: "upper"}).Set("user_id", Int(9)).Set("unknown", Int(1))
	var got struct {
		Name string
		ID   int `json:"user_id"`
	}
	if err := Unmarshal(h, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "upper" || got.ID != 9 {
		t.Errorf("got %+v", got)
	}
	var exact struct {
		Name  string `perl:"name"`
		Upper string `perl:"NAME"`
	}
	if err := Unmarshal(h, &exact); err != nil {
		t.Fatal(err)
	}
	if exact.Upper != "upper" || exact.Name != "" {
		t.Errorf("exact match not preferred: %+v", exact)
	}
}

func TestUnmarshalFillsEmbeddedStructsThroughNilPointers(t *testing.T) {
	h := NewHash().Set("more", Str{S: "m"}).Set("Deep", Int(3)).Set("shared", Str{S: "outer"})
	var got Tagged
	if err := Unmarshal(h, &got); err != nil {
		t.Fatal(err)
	}
	if got.Extra == nil || got.More != "m" || got.Deep != 3 || got.Shared != "outer" || got.Inner.Shared != "" {
		t.Errorf("got %+v", got)
	}
}

func TestUnmarshalUndefZeroes(t *testing.T) {
	n := 5
	got := struct {
		P *int
		I int
		S []int
		M map[string]int
		A any
		V Value
	}{&n, 1, []int{1}, map[string]int{"a": 1}, "x", Int(1)}
	h := NewHash().Set("P", Undef{}).Set("I", Undef{}).Set("S", Undef{}).Set("M", nil).Set("A", Undef{}).Set("V", nil)
	if err := Unmarshal(h, &got); err != nil {
		t.Fatal(err)
	}
	if got.P != nil || got.I != 0 || got.S != nil || got.M != nil || got.A != nil || got.V != (Undef{}) {
		t.Errorf("got %+v", got)
	}
}

func TestUnmarshalBytesKeepsByteStringsAndEncodesCharacters(t *testing.T) {
	var b []byte
	if err := Unmarshal(Str{S: "caf\xe9"}, &b); err != nil || string(b) != "caf\xe9" {
		t.Errorf("byte string -> %q, %v", b, err)
	}
	if err := Unmarshal(Str{S: "café", UTF8: true}, &b); err != nil || string(b) != "caf\xc3\xa9" {
		t.Errorf("character string -> %q, %v", b, err)
	}
	if err := Unmarshal(NewArray(Int(1), Str{S: "2"}), &b); err != nil || string(b) != "\x01\x02" {
		t.Errorf("array -> %q, %v", b, err)
	}
	var s string
	if err := Unmarshal(Str{S: "caf\xe9"}, &s); err != nil || s != "café" {
		t.Errorf("byte string into string -> %q, %v", s, err)
	}
}

func TestUnmarshalFollowsReferencesExceptIntoModelTypes(t *testing.T) {
	r := &Ref{Target: &Ref{Target: Str{S: "7"}}}
	var i int
	if err := Unmarshal(r, &i); err != nil || i != 7 {
		t.Errorf("ref of ref -> %d, %v", i, err)
	}
	var keep *Ref
	if err := Unmarshal(r, &keep); err != nil || keep != r {
		t.Errorf("*Ref destination got %v, %v", keep, err)
	}
	h := NewHash()
	var hp *Hash
	if err := Unmarshal(&Ref{Target: h}, &hp); err != nil || hp != h {
		t.Errorf("*Hash through a ref: %v, %v", hp, err)
	}
	var v Value
	if err := Unmarshal(r, &v); err != nil || v != Value(r) {
		t.Errorf("Value destination got %v, %v", v, err)
	}
	var st Str
	if err := Unmarshal(Int(5), &st); err != nil || st != (Str{S: "5"}) {
		t.Errorf("Str from Int = %#v, %v", st, err)
	}
	var in Int
	if err := Unmarshal(Str{S: "6"}, &in); err != nil || in != 6 {
		t.Errorf("Int from Str = %#v, %v", in, err)
	}
	var bad Int
	err := Unmarshal(Str{S: "x"}, &bad)
	var ute *UnmarshalTypeError
	if !errors.As(err, &ute) || ute.Type != reflect.TypeFor[Int]() {
		t.Errorf("Int from bad Str error = %v", err)
	}
	loop := &Ref{}
	loop.Target = loop
	if err := Unmarshal(loop, &i); !errors.Is(err, ErrTooDeep) {
		t.Errorf("ref loop error = %v", err)
	}
}

func TestUnmarshalSharedHashFillsOneGoPointer(t *testing.T) {
	leaf := NewHash().Set("Name", Str{S: "leaf"})
	root := NewHash().Set("Name", Str{S: "root"}).Set("Next", leaf).Set("Kids", NewArray(leaf, leaf))
	var got node
	if err := Unmarshal(root, &got); err != nil {
		t.Fatal(err)
	}
	if got.Next == nil || got.Next != got.Kids[0] || got.Kids[0] != got.Kids[1] || got.Next.Name != "leaf" {
		t.Errorf("sharing lost: %+v", got)
	}
}

func TestUnmarshalCycleBecomesGoPointerCycle(t *testing.T) {
	h := NewHash().Set("Name", Str{S: "self"})
	h.Set("Next", h)
	var top node
	if err := Unmarshal(h, &top); err != nil {
		t.Fatal(err)
	}
	if top.Next != &top {
		t.Fatalf("cycle not kept: Next = %p, want %p", top.Next, &top)
	}
	var p *node
	if err := Unmarshal(h, &p); err != nil {
		t.Fatal(err)
	}
	if p == nil || p.Next != p {
		t.Fatal("cycle through a pointer destination not kept")
	}
	// A cycle through a Go map type.
	type tree map[string]tree
	m := NewHash()
	m.Set("me", m)
	var tr tree
	if err := Unmarshal(m, &tr); err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(tr["me"]).Pointer() != reflect.ValueOf(tr).Pointer() {
		t.Fatal("map cycle not kept")
	}
	// And into any: cut, not looped.
	var a any
	if err := Unmarshal(h, &a); err != nil {
		t.Fatal(err)
	}
	if got := a.(map[string]any)["Next"]; got != nil {
		t.Errorf("cycle into any gave %v", got)
	}
}

func TestUnmarshalStopsAtMaxDepth(t *testing.T) {
	var deep Value = Int(1)
	for range MaxDepth + 5 {
		deep = NewArray(deep)
	}
	var a any
	if err := Unmarshal(deep, &a); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep into any error = %v, want ErrTooDeep", err) // ToGo would cut silently
	}
	type list struct{ L []list }
	var l list
	var h Value = NewHash()
	for range MaxDepth + 5 {
		h = NewHash().Set("L", NewArray(h))
	}
	if err := Unmarshal(h, &l); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep struct error = %v, want ErrTooDeep", err)
	}
}

func TestUnmarshalHonoursUnmarshalersAndTextUnmarshalers(t *testing.T) {
	h := NewHash().
		Set("p", NewArray(Int(1), Str{S: "2"})).
		Set("pp", NewArray(Int(3), Int(4))).
		Set("ip", Str{S: "::1"}).
		Set("when", Str{S: "2020-02-03T04:05:06Z"})
	var got struct {
		P    point      `perl:"p"`
		PP   *point     `perl:"pp"`
		IP   netip.Addr `perl:"ip"`
		When time.Time  `perl:"when"`
	}
	if err := Unmarshal(h, &got); err != nil {
		t.Fatal(err)
	}
	if got.P != (point{1, 2}) || got.PP == nil || *got.PP != (point{3, 4}) ||
		got.IP != netip.MustParseAddr("::1") || !got.When.Equal(time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Errorf("got %+v", got)
	}
	var p point
	if err := Unmarshal(Str{S: "nope"}, &p); err == nil || err.Error() != "point wants [x, y]" {
		t.Errorf("Unmarshaler error = %v", err)
	}
	var ip netip.Addr
	if err := Unmarshal(Str{S: "not an ip"}, &ip); err == nil {
		t.Error("bad TextUnmarshaler input accepted")
	}
	var keyed map[netip.Addr]int
	if err := Unmarshal(NewHash().Set("10.1.1.1", Str{S: "1"}), &keyed); err != nil || keyed[netip.MustParseAddr("10.1.1.1")] != 1 {
		t.Errorf("TextUnmarshaler keys: %v, %v", keyed, err)
	}
}

func TestUnmarshalMapKeysAreCheckedLikeValues(t *testing.T) {
	var m map[int8]bool
	err := Unmarshal(NewHash().Set("1", Int(1)).Set("999", Int(1)), &m)
	if !errors.Is(err, ErrRange) || len(m) != 1 || !m[1] {
		t.Errorf("map = %v, error = %v", m, err)
	}
	var bad map[float64]int
	var ute *UnmarshalTypeError
	if err := Unmarshal(NewHash(), &bad); !errors.As(err, &ute) {
		t.Errorf("float keys error = %v", err)
	}
}

func TestUnmarshalArrayKeepsWhatFits(t *testing.T) {
	a := [3]int{9, 9, 9}
	if err := Unmarshal(NewArray(Int(1), Int(2)), &a); err != nil || a != [3]int{1, 2, 0} {
		t.Errorf("short: %v, %v", a, err)
	}
	var b [1]string
	if err := Unmarshal(NewArray(Str{S: "x"}, Str{S: "y"}), &b); err != nil || b != [1]string{"x"} {
		t.Errorf("long: %v, %v", b, err)
	}
}

func TestUnmarshalRejectsBadDestinations(t *testing.T) {
	var ie *InvalidUnmarshalError
	var i int
	for _, dst := range []any{nil, i, (*int)(nil)} {
		if err := Unmarshal(Int(1), dst); !errors.As(err, &ie) {
			t.Errorf("Unmarshal into %#v: %v", dst, err)
		}
	}
	var ute *UnmarshalTypeError
	for _, c := range []struct {
		v   Value
		dst any
	}{
		{NewArray(), new(string)},
		{NewHash(), new([]int)},
		{Str{S: "x"}, new(struct{})},
		{Int(1), new(map[string]int)},
		{Int(1), new(chan int)},
		{NewHash(), new(bool)},
		{Int(1), new(error)},
		{&Hash{Class: "Foo"}, new(float64)},
	} {
		if err := Unmarshal(c.v, c.dst); !errors.As(err, &ute) {
			t.Errorf("Unmarshal(%#v, %T) = %v", c.v, c.dst, err)
		}
	}
	if ute.Value != "Foo=HASH" {
		t.Errorf("blessed kind = %q", ute.Value)
	}
}

func TestUnmarshalDecodesIntoAPointerHeldByAnInterface(t *testing.T) {
	var in Inner
	var dst any = &in
	if err := Unmarshal(NewHash().Set("Deep", Int(4)), &dst); err != nil || in.Deep != 4 {
		t.Errorf("got %+v, %v", in, err)
	}
}

// hostileValues are Values a broken or malicious peer could produce.
func hostileValues() []Value {
	selfArray := NewArray(nil)
	selfArray.Elems[0] = selfArray
	selfHash := NewHash()
	selfHash.Set("a", selfHash).Set("b", NewArray(selfHash, &Ref{Target: selfHash}))
	selfRef := &Ref{}
	selfRef.Target = selfRef
	mutualA, mutualB := NewHash(), NewHash()
	mutualA.Set("Next", mutualB)
	mutualB.Set("Next", mutualA)
	var deep Value = NewHash()
	for range MaxDepth + 3 {
		deep = NewHash().Set("Next", deep).Set("Kids", NewArray(deep))
	}
	return []Value{
		nil, Undef{}, (*Hash)(nil), (*Array)(nil), (*Ref)(nil),
		&Hash{Entries: []Entry{{Key: Str{S: "Next"}, Value: nil}, {Key: Str{S: "\xff"}, Value: (*Hash)(nil)}}},
		&Array{Elems: []Value{nil, (*Array)(nil), (*Ref)(nil), &Ref{Target: nil}}},
		Str{S: "\xff\xfe", UTF8: true}, Float(math.NaN()), Float(math.Inf(-1)), Uint(math.MaxUint64),
		selfArray, selfHash, selfRef, mutualA, deep,
	}
}

func TestNothingPanicsOnHostileValues(t *testing.T) {
	dsts := []func() any{
		func() any { return new(any) },
		func() any { return new(Value) },
		func() any { return new(node) },
		func() any { return new(*node) },
		func() any { return new([]any) },
		func() any { return new([]*node) },
		func() any { return new(map[string]any) },
		func() any { return new(map[int]node) },
		func() any { return new([2]Value) },
		func() any { return new(everything) },
		func() any { return new(string) },
		func() any { return new([]byte) },
		func() any { return new(float32) },
		func() any { return new(*Hash) },
		func() any { return new(Str) },
		func() any { return new(point) },
	}
	for i, v := range hostileValues() {
		for j, mk := range dsts {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("value %d into %T: panic %v", i, mk(), r)
					}
				}()
				_ = Unmarshal(v, mk())
				_ = ToGo(v)
				_, _ = AsInt(v)
				_, _ = AsUint(v)
				_, _ = AsFloat(v)
				_, _ = AsString(v)
				if j == 0 {
					got, err := FromGo(v)
					want := normalize(v) // a nil *Hash is undef
					if f, ok := v.(Float); ok && f != f {
						return // NaN is never equal to itself
					}
					if err != nil || got != want {
						t.Errorf("FromGo(value %d) = %v, %v; want %v", i, got, err, want)
					}
				}
			}()
		}
	}
}

func FuzzNumericStringsAgree(f *testing.F) {
	for _, s := range []string{"42", " 42", "3.14", "1e+100", "-2.5e-07", "0x1A", "0 but true", "-0", "inf", "+NaN", "1e", "9223372036854775807", "\v7\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := Str{S: s}
		fl, ferr := AsFloat(v)
		i, ierr := AsInt(v)
		u, uerr := AsUint(v)
		if ferr != nil && (ierr == nil || uerr == nil) {
			t.Fatalf("%q: AsFloat failed (%v) but an integer conversion did not", s, ferr)
		}
		if ierr == nil && i > -1<<53 && i < 1<<53 && float64(i) != fl {
			t.Fatalf("%q: AsInt %d disagrees with AsFloat %v", s, i, fl)
		}
		if uerr == nil && u < 1<<53 && float64(u) != fl {
			t.Fatalf("%q: AsUint %d disagrees with AsFloat %v", s, u, fl)
		}
		if ierr == nil && uerr == nil && i >= 0 && uint64(i) != u {
			t.Fatalf("%q: AsInt %d disagrees with AsUint %d", s, i, u)
		}
	})
}
