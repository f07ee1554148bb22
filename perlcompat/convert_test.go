package perlcompat

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToGoGivesPlainGoValues(t *testing.T) {
	in := NewHash().
		Set("undef", Undef{}).
		Set("bytes", Str{S: "caf\xe9"}).
		Set("chars", Str{S: "café", UTF8: true}).
		Set("int", Int(-1)).
		Set("uint", Uint(math.MaxUint64)).
		Set("float", Float(0.5)).
		Set("bool", Bool(true)).
		Set("list", &Array{Class: "Blessed", Elems: []Value{Str{S: "42"}, nil}}).
		Set("ref", &Ref{Target: &Ref{Target: Int(7)}})
	want := map[string]any{
		"undef": nil,
		"bytes": "café",
		"chars": "café",
		"int":   int64(-1),
		"uint":  uint64(math.MaxUint64),
		"float": 0.5,
		"bool":  true,
		"list":  []any{"42", nil},
		"ref":   int64(7),
	}
	if diff := cmp.Diff(want, ToGo(in)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if ToGo(nil) != nil || ToGo((*Hash)(nil)) != nil {
		t.Error("nil did not give nil")
	}
}

func TestToGoKeepsSharingButCutsCycles(t *testing.T) {
	shared := NewHash().Set("x", Int(1))
	got := ToGo(NewArray(shared, shared)).([]any)
	if reflect.ValueOf(got[0]).Pointer() != reflect.ValueOf(got[1]).Pointer() {
		t.Error("shared hash became two maps")
	}

	h := NewHash().Set("name", Str{S: "loop"})
	h.Set("self", NewArray(h, &Ref{Target: h}))
	r := &Ref{}
	r.Target = r
	h.Set("ref", r)
	m := ToGo(h).(map[string]any)
	want := map[string]any{"name": "loop", "self": []any{nil, nil}, "ref": nil}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The point of cutting: ordinary Go code can walk the result.
	if _, err := json.Marshal(m); err != nil {
		t.Errorf("json.Marshal of the view: %v", err)
	}
}

func TestToGoCutsBeyondMaxDepth(t *testing.T) {
	var v Value = Int(1)
	for range MaxDepth + 5 {
		v = NewArray(v)
	}
	depth := 0
	for g := ToGo(v); g != nil; depth++ {
		g = g.([]any)[0]
		if _, ok := g.(int64); ok {
			t.Fatal("reached the bottom past MaxDepth")
		}
	}
	if depth != MaxDepth+1 {
		t.Errorf("cut at depth %d, want %d", depth, MaxDepth+1)
	}
}
