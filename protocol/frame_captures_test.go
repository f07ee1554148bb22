package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Helpers reading the real-Perl recordings in conformance/testdata/captures
// (see the README there). Names start with fcap to stay clear of other
// tests in this package.

const fcapDir = "../conformance/testdata/captures"

type fcapIndex struct {
	Scenarios []struct {
		Name  string            `json:"name"`
		Files map[string]string `json:"files"`
	} `json:"scenarios"`
}

type fcapExpect struct {
	Scenario string            `json:"scenario"`
	RawLines []fcapLine        `json:"negotiation_lines"`
	Frames   []fcapFrame       `json:"frames"`
	FrameCnt map[string]int    `json:"frame_count"`
	Trailing []json.RawMessage `json:"trailing"`
}

type fcapLine struct {
	Dir        string `json:"dir"`
	Line       string `json:"line"`
	Offset     int    `json:"offset"`
	Terminator string `json:"terminator_hex"`
}

type fcapFrame struct {
	Dir           string          `json:"dir"`
	Index         int             `json:"index"`
	Offset        int             `json:"offset"`
	HeaderLength  int             `json:"header_length"`
	PayloadLength int             `json:"payload_length"`
	Freezer       string          `json:"freezer"`
	Value         json.RawMessage `json:"value"`
	ThawError     string          `json:"thaw_error"`
}

// fcapStream is one direction of one capture: the whole byte stream, where
// its frame phase starts, and the frames expect.json found there.
type fcapStream struct {
	Name   string // scenario/dir
	Bytes  []byte
	Start  int // first byte of the frame phase
	Frames []fcapFrame
}

func fcapLoad(t testing.TB) (streams []fcapStream, expects []fcapExpect) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fcapDir, "index.json"))
	if err != nil {
		t.Fatalf("reading capture index: %v", err)
	}
	var idx fcapIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(idx.Scenarios) == 0 {
		t.Fatal("index.json lists no scenarios")
	}
	for _, sc := range idx.Scenarios {
		raw, err := os.ReadFile(filepath.Join(fcapDir, sc.Files["expect"]))
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		var exp fcapExpect
		if err := json.Unmarshal(raw, &exp); err != nil {
			t.Fatalf("%s expect: %v", sc.Name, err)
		}
		expects = append(expects, exp)
		for _, dir := range []string{"c2s", "s2c"} {
			b, err := os.ReadFile(filepath.Join(fcapDir, sc.Files[dir]))
			if err != nil {
				t.Fatalf("%s: %v", sc.Name, err)
			}
			st := fcapStream{Name: sc.Name + "/" + dir, Bytes: b}
			// The frame phase starts after the last negotiation line.
			for _, l := range exp.RawLines {
				if l.Dir == dir {
					st.Start = l.Offset + len(l.Line) + len(l.Terminator)/2
				}
			}
			for _, f := range exp.Frames {
				if f.Dir == dir {
					st.Frames = append(st.Frames, f)
				}
			}
			sort.Slice(st.Frames, func(i, j int) bool { return st.Frames[i].Index < st.Frames[j].Index })
			if len(st.Frames) > 0 && st.Frames[0].Offset != st.Start {
				t.Fatalf("%s: frames[0].offset %d, but negotiation ends at %d", st.Name, st.Frames[0].Offset, st.Start)
			}
			if len(st.Frames) != exp.FrameCnt[dir] {
				t.Fatalf("%s: %d frames listed, frame_count says %d", st.Name, len(st.Frames), exp.FrameCnt[dir])
			}
			streams = append(streams, st)
		}
	}
	return streams, expects
}

// fcapValue turns the captures' JSON value notation (README "Value
// notation") into a perlcompat.Value.
func fcapValue(raw json.RawMessage) (perlcompat.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	return fcapConvert(x)
}

func fcapConvert(x any) (perlcompat.Value, error) {
	switch v := x.(type) {
	case nil:
		return perlcompat.Undef{}, nil
	case string:
		return perlcompat.Text(v), nil
	case bool:
		return perlcompat.Bool(v), nil
	case json.Number:
		s := v.String()
		if !strings.ContainsAny(s, ".eE") {
			n, ok := new(big.Int).SetString(s, 10)
			if !ok {
				return nil, fmt.Errorf("bad integer %s", s)
			}
			if n.IsInt64() {
				return perlcompat.Int(n.Int64()), nil
			}
			if n.IsUint64() {
				return perlcompat.Uint(n.Uint64()), nil
			}
			return nil, fmt.Errorf("integer %s out of range", s)
		}
		f, err := v.Float64()
		return perlcompat.Float(f), err
	case []any:
		a := &perlcompat.Array{Elems: make([]perlcompat.Value, 0, len(v))}
		for _, e := range v {
			ev, err := fcapConvert(e)
			if err != nil {
				return nil, err
			}
			a.Elems = append(a.Elems, ev)
		}
		return a, nil
	case map[string]any:
		if h, ok := v["$bytes"]; ok && len(v) == 1 {
			b, err := hex.DecodeString(h.(string))
			return perlcompat.Bytes(b), err
		}
		if t, ok := v["$ref"]; ok && len(v) == 1 {
			tv, err := fcapConvert(t)
			return &perlcompat.Ref{Target: tv}, err
		}
		if c, ok := v["$blessed"]; ok && len(v) == 2 {
			inner, err := fcapConvert(v["$value"])
			if err != nil {
				return nil, err
			}
			switch in := inner.(type) {
			case *perlcompat.Hash:
				in.Class = c.(string)
			case *perlcompat.Array:
				in.Class = c.(string)
			case *perlcompat.Ref:
				in.Class = c.(string)
			default:
				return nil, fmt.Errorf("blessed non-reference %T", inner)
			}
			return inner, nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h := &perlcompat.Hash{}
		for _, k := range keys {
			ev, err := fcapConvert(v[k])
			if err != nil {
				return nil, err
			}
			var key perlcompat.Str
			switch {
			case strings.HasPrefix(k, "$bytes:"):
				b, err := hex.DecodeString(k[len("$bytes:"):])
				if err != nil {
					return nil, err
				}
				key = perlcompat.Bytes(b)
			case strings.HasPrefix(k, "$"):
				key = perlcompat.Text(k[1:])
			default:
				key = perlcompat.Text(k)
			}
			h.Entries = append(h.Entries, perlcompat.Entry{Key: key, Value: ev})
		}
		return h, nil
	}
	return nil, fmt.Errorf("unexpected JSON %T", x)
}

func TestCaptureValueNotation(t *testing.T) {
	v, err := fcapValue(json.RawMessage(`{"a": [1, -2, 18446744073709551615, 1.5, null, "x", "caf\u00e9"],
		"b": {"$bytes": "e9ff"}, "c": {"$ref": {"$ref": "deep"}},
		"d": {"$blessed": "K", "$value": [1]}, "$$k": 1, "$bytes:e9": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*perlcompat.Hash)
	a := h.Get("a").(*perlcompat.Array)
	want := []perlcompat.Value{perlcompat.Int(1), perlcompat.Int(-2), perlcompat.Uint(1<<64 - 1), perlcompat.Float(1.5),
		perlcompat.Undef{}, perlcompat.Str{S: "x"}, perlcompat.Str{S: "café", UTF8: true}}
	for i := range want {
		if a.Elems[i] != want[i] {
			t.Errorf("a[%d] = %#v, want %#v", i, a.Elems[i], want[i])
		}
	}
	if got := h.Get("b"); got != perlcompat.Bytes([]byte{0xe9, 0xff}) {
		t.Errorf("b = %#v", got)
	}
	if r := h.Get("c").(*perlcompat.Ref); r.Target.(*perlcompat.Ref).Target != (perlcompat.Str{S: "deep"}) {
		t.Errorf("c = %#v", r)
	}
	if d := h.Get("d").(*perlcompat.Array); d.Class != "K" {
		t.Errorf("d class %q", d.Class)
	}
	if h.Get("$k") != perlcompat.Int(1) {
		t.Errorf("$$k not unescaped")
	}
	if h.Index(perlcompat.Bytes([]byte{0xe9})) < 0 {
		t.Errorf("$bytes: key missing")
	}
}
