package sereal_test

import (
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
)

func newFreezer(t testing.TB, cfg sereal.Config) *sereal.Freezer {
	t.Helper()
	f, err := sereal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestThawCaptureFramesMatchWhatPerlDecoded(t *testing.T) {
	f := newFreezer(t, sereal.Config{Name: "IKCFixture::SerealFreezer"})
	for _, fr := range perltest.CaptureFrames(t, "k1-freezer-sereal") {
		v, err := f.Thaw(fr.Payload)
		if err != nil {
			t.Fatalf("%s frame %d: %v", fr.Dir, fr.Index, err)
		}
		if _, ok := v.(*perlcompat.Hash); !ok {
			t.Fatalf("%s frame %d: root is %T, want *Hash (the request)", fr.Dir, fr.Index, v)
		}
		if d := cmp.Diff(fr.Value, perltest.Notation(v), perltest.NumbersByValue); d != "" {
			t.Errorf("%s frame %d differs from the Perl decoder (-perl +go):\n%s", fr.Dir, fr.Index, d)
		}
	}
}

func TestThawCaptureKeepsFlagsClassesAndSharing(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	fr := perltest.CaptureFrames(t, "k1-freezer-sereal")[0]
	v, err := f.Thaw(fr.Payload)
	if err != nil {
		t.Fatal(err)
	}
	p := v.(*perlcompat.Hash).Get("params").(*perlcompat.Hash)
	if s := p.Get("bytes").(perlcompat.Str); s.UTF8 || s.S != "\x00\x01\x7f\x80\xfe\xff" {
		t.Errorf("bytes = %#v, want the 6 raw bytes without UTF8 flag", s)
	}
	if s, ok := p.Get("ascii").(perlcompat.Str); !ok || s.UTF8 {
		t.Errorf("ascii = %#v, want a byte string", p.Get("ascii"))
	}
	if _, ok := p.Get("float").(perlcompat.Float); !ok {
		t.Errorf("float = %#v, want Float", p.Get("float"))
	}
	if _, ok := p.Get("big_int").(perlcompat.Int); !ok {
		t.Errorf("big_int = %#v, want Int", p.Get("big_int"))
	}
	if c := p.Get("blessed_array").(*perlcompat.Array).Class; c != "IKCFixture::List" {
		t.Errorf("blessed_array class %q", c)
	}
	if c := p.Get("blessed_scalar").(*perlcompat.Ref).Class; c != "IKCFixture::Scalar" {
		t.Errorf("blessed_scalar class %q", c)
	}
	// "the same array ref under two keys" must come back as one pointer.
	var arrays = map[*perlcompat.Array][]string{}
	for _, e := range p.Entries {
		if a, ok := e.Value.(*perlcompat.Array); ok {
			arrays[a] = append(arrays[a], e.Key.S)
		}
	}
	shared := false
	for _, keys := range arrays {
		shared = shared || len(keys) == 2
	}
	if !shared {
		t.Errorf("no array is shared by two keys: %v", arrays)
	}
}

// Documents written by Sereal::Encoder 5.003 (Perl 5.36), by hand-picked
// options, and what they mean.
func TestThawReadsWhatPerlsEncoderWrites(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	for _, tc := range []struct {
		name, hex string
		check     func(t *testing.T, v perlcompat.Value)
	}{
		{"[$h,$h] shares the hash", "3df3726c03004228aa01617a012903", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0] != a.Elems[1] || a.Elems[0].(*perlcompat.Hash).Get("z") != perlcompat.Int(1) {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"[\\$x,\\$x] shares the scalar ref", "3df3726c03004228852903", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			r := a.Elems[0].(*perlcompat.Ref)
			if a.Elems[1] != perlcompat.Value(r) || r.Target != perlcompat.Int(5) {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"[\\$r,\\$r] with $r=\\$x", "3df3726c03004228a8052903", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			r := a.Elems[0].(*perlcompat.Ref)
			if a.Elems[1] != perlcompat.Value(r) || r.Target.(*perlcompat.Ref).Target != perlcompat.Int(5) {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"$c->{self}=$c cycle", "3df3726c030028aa016473656c662902", func(t *testing.T, v perlcompat.Value) {
			h := v.(*perlcompat.Hash)
			if h.Get("self") != perlcompat.Value(h) {
				t.Errorf("self is %#v", h.Get("self"))
			}
		}},
		{"OBJECT then OBJECTV", "3df3726c0300422c63466f6f282a002d03282b00", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0].(*perlcompat.Hash).Class != "Foo" || a.Elems[1].(*perlcompat.Array).Class != "Foo" {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"repeated key as COPY", "3df3726c030042282a016361626301282a012f0502", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[1].(*perlcompat.Hash).Get("abc") != perlcompat.Int(2) {
				t.Errorf("got %#v", a.Elems[1])
			}
		}},
		{"FLOAT, DOUBLE, 1 and '' for Perl booleans, undef", "3df3726c030046220000003f239a9999999999b93f237dc39425ad49b254016025", func(t *testing.T, v perlcompat.Value) {
			want := []perlcompat.Value{perlcompat.Float(0.5), perlcompat.Float(0.1), perlcompat.Float(1e100), perlcompat.Int(1), perlcompat.Str{}, perlcompat.Undef{}}
			if d := cmp.Diff(want, v.(*perlcompat.Array).Elems); d != "" {
				t.Error(d)
			}
		}},
		{"integer edges", "3df3726c0300460f201010212120ffffffffffffffffff0121ffffffffffffffffff01", func(t *testing.T, v perlcompat.Value) {
			want := []perlcompat.Value{perlcompat.Int(15), perlcompat.Int(16), perlcompat.Int(-16), perlcompat.Int(-17), perlcompat.Uint(math.MaxUint64), perlcompat.Int(math.MinInt64)}
			if d := cmp.Diff(want, v.(*perlcompat.Array).Elems); d != "" {
				t.Error(d)
			}
		}},
		{"ALIAS of a hash value referenced earlier", "3df3726c0300422881282a01617a2e03", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0].(*perlcompat.Ref).Target != perlcompat.Int(1) || a.Elems[1].(*perlcompat.Hash).Get("z") != perlcompat.Int(1) {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"tracked ARRAYREF_0 then REFP is a ref to the ref", "3df3726c030042c02902", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[1].(*perlcompat.Ref).Target != a.Elems[0] {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"$x=\\\\$x cycle through a scalar", "3df3726c030028a82902", func(t *testing.T, v perlcompat.Value) {
			r := v.(*perlcompat.Ref)
			if r.Target.(*perlcompat.Ref).Target != perlcompat.Value(r) {
				t.Errorf("got %#v", r)
			}
		}},
		{"COPY of a tracked scalar re-tracks its offset, as Sereal::Decoder does", "3df3726c03004328e26162282f032903", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0] == a.Elems[1] || a.Elems[2] != a.Elems[1] {
				t.Errorf("REFP after COPY must share the copy (Perl: refaddr of [2] == [1] != [0]): %#v", a.Elems)
			}
		}},
		{"protocol 1 (offsets from the document start)", "3d73726c01004228aa01617a012908", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0] != a.Elems[1] {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"protocol 2", "3d73726c02004328aa01617a01290301", func(t *testing.T, v perlcompat.Value) {
			a := v.(*perlcompat.Array)
			if a.Elems[0] != a.Elems[1] || a.Elems[2] != perlcompat.Int(1) {
				t.Errorf("got %#v", a.Elems)
			}
		}},
		{"protocol 5 HASHREF_1", "3df3726c050051616101", func(t *testing.T, v perlcompat.Value) {
			if v.(*perlcompat.Hash).Get("a") != perlcompat.Int(1) {
				t.Errorf("got %#v", v)
			}
		}},
		{"TRUE, FALSE, CANONICAL_UNDEF, PAD", "3df3726c0300433b3f3a39", func(t *testing.T, v perlcompat.Value) {
			want := []perlcompat.Value{perlcompat.Bool(true), perlcompat.Bool(false), perlcompat.Undef{}}
			if d := cmp.Diff(want, v.(*perlcompat.Array).Elems); d != "" {
				t.Error(d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.Thaw(unhex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, v)
		})
	}
}

func TestThawKeepsStringFlags(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	// [ STR_UTF8 "é", SHORT_BINARY "\xe9" ]
	v, err := f.Thaw(unhex(t, "3df3726c0300422702c3a961e9"))
	if err != nil {
		t.Fatal(err)
	}
	want := []perlcompat.Value{perlcompat.Str{S: "é", UTF8: true}, perlcompat.Str{S: "\xe9"}}
	if d := cmp.Diff(want, v.(*perlcompat.Array).Elems); d != "" {
		t.Error(d)
	}
}

func TestThawRejectsMalformedAndHostileDocuments(t *testing.T) {
	f := newFreezer(t, sereal.Config{MaxDepth: 10})
	for _, tc := range []struct {
		name, hex string
		is        error // wrapped error, when one says it
	}{
		{"empty", "", sereal.ErrTruncated},
		{"not Sereal", "050b03000000", nil},
		{"UTF-8 encoded magic", "3dc3b3726c0300", nil},
		{"old magic with v3", "3d73726c030001", nil},
		{"new magic with v2", "3df3726c020001", nil},
		{"version 6", "3df3726c060001", sereal.ErrUnsupported},
		{"zstd body", "3df3726c440001", sereal.ErrUnsupported},
		{"header suffix past the end", "3df3726c0305", sereal.ErrTruncated},
		{"no body", "3df3726c0300", sereal.ErrTruncated},
		{"array count larger than the document", "3df3726c030028 2b ffffffff0f", sereal.ErrTruncated},
		{"hash count larger than the document", "3df3726c030028 2a 05 6161 01", sereal.ErrTruncated},
		{"string longer than the document", "3df3726c030026 ff7f 61", sereal.ErrTruncated},
		{"varint over 64 bits", "3df3726c030020 ffffffffffffffffff7f", nil},
		{"bare hash at the root (Perl: Bizarre copy)", "3df3726c03002a00", nil},
		{"bare array in an array", "3df3726c0300412b00", nil},
		{"REFP forward", "3df3726c0300412905", nil},
		{"REFP to itself", "3df3726c03002902", nil},
		{"REFP to an untracked item", "3df3726c030042012902", nil},
		{"ALIAS to a container", "3df3726c03004228ab002e03", nil},
		{"COPY of an array", "3df3726c03004228ab002f03", nil},
		{"COPY of a COPY", "3df3726c03004361612f022f04", nil},
		{"OBJECTV naming no class", "3df3726c0300422c63414243402d0440", nil},
		{"OBJECT of a non-reference", "3df3726c03002c634142430 1", nil},
		{"OBJECT with a numeric class", "3df3726c03002c0140", nil},
		{"WEAKEN of a number", "3df3726c03003001", nil},
		{"REGEXP", "3df3726c0300316161 60", sereal.ErrUnsupported},
		{"OBJECT_FREEZE", "3df3726c030032616140", sereal.ErrUnsupported},
		{"reserved tag", "3df3726c030036", nil},
		{"invalid UTF-8 in STR_UTF8", "3df3726c03002702c328", nil},
		{"duplicate key", "3df3726c030052 6161 01 6161 02", nil},
		{"duplicate key, bytes vs UTF-8 spelling", "3df3726c030052 63636ce9 01 2704636cc3a9 02", nil},
		{"trailing garbage", "3df3726c03000101", nil},
		{"too deep", "3df3726c0300" + strings.Repeat("28", 20) + "01", sereal.ErrTooDeep},
		{"too deep arrays", "3df3726c0300" + strings.Repeat("41", 20) + "40", sereal.ErrTooDeep},
		{"snappy claiming 1 GiB", "3df3726c2300 05 8080808004", nil},
		{"zlib claiming 1 GiB", "3df3726c3300 8080808004 02 7801", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.Thaw(unhex(t, tc.hex))
			if err == nil {
				t.Fatalf("thawed %#v, want an error", v)
			}
			var de *sereal.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %v is %T, want *DecodeError", err, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestThawBoundsAllocationsByDocumentSize(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	// 2000 COPY tags of one 60 000-byte string: Perl builds 120 MB here;
	// we share the one string.
	doc := unhex(t, "3df3726c0300 28 2b d10f 26 e0d403") // REFN ARRAY 2001, BINARY 60000
	doc = append(doc, strings.Repeat("x", 60000)...)
	for i := 0; i < 2000; i++ {
		doc = append(doc, 0x2f, 0x05) // COPY of the BINARY at body offset 5
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := f.Thaw(doc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 50 {
		t.Errorf("%v allocations: COPY results are not shared", allocs)
	}
}

func TestFreezeThawRoundTripKeepsEverything(t *testing.T) {
	for version := 1; version <= 5; version++ {
		f := newFreezer(t, sereal.Config{ProtocolVersion: version})
		g := &perltest.Gen{R: rand.New(rand.NewPCG(uint64(version), 1)), Blessed: true, Refs: true, Shared: true, Bools: true, Uints: true}
		for i := 0; i < 500; i++ {
			v := g.Value()
			b, err := f.Freeze(nil, v)
			if err != nil {
				t.Fatalf("v%d: freeze: %v", version, err)
			}
			got, err := f.Thaw(b)
			if err != nil {
				t.Fatalf("v%d: thaw of our own document: %v\n%x", version, err, b)
			}
			want := perltest.Describe(boolsAsSent(v, version))
			if d := perltest.Diff(want, perltest.Describe(got)); d != "" {
				t.Fatalf("v%d: round trip differs (-sent +got):\n%s", version, d)
			}
		}
	}
}

// boolsAsSent returns v with each Bool replaced by what protocol version
// carries for it: protocols 1 and 2 have no booleans (true is 1, false
// ""), and 3 and 4 write a Bool that a *Ref points at the same way.
func boolsAsSent(v perlcompat.Value, version int) perlcompat.Value {
	seen := map[perlcompat.Value]bool{}
	var fix func(v perlcompat.Value, referenced bool) perlcompat.Value
	fix = func(v perlcompat.Value, referenced bool) perlcompat.Value {
		switch x := v.(type) {
		case perlcompat.Bool:
			if version >= 5 || version >= 3 && !referenced {
				return x
			}
			if x {
				return perlcompat.Int(1)
			}
			return perlcompat.Str{}
		case *perlcompat.Array:
			if !seen[x] {
				seen[x] = true
				for i := range x.Elems {
					x.Elems[i] = fix(x.Elems[i], false)
				}
			}
		case *perlcompat.Hash:
			if !seen[x] {
				seen[x] = true
				for i := range x.Entries {
					x.Entries[i].Value = fix(x.Entries[i].Value, false)
				}
			}
		case *perlcompat.Ref:
			if !seen[x] {
				seen[x] = true
				x.Target = fix(x.Target, true)
			}
		}
		return v
	}
	return fix(v, false)
}

func TestFreezeWritesTheHeaderOfTheConfiguredProtocol(t *testing.T) {
	for _, tc := range []struct {
		version int
		want    string
	}{{0, "3df3726c0300"}, {1, "3d73726c0100"}, {2, "3d73726c0200"}, {3, "3df3726c0300"}, {5, "3df3726c0500"}} {
		f := newFreezer(t, sereal.Config{ProtocolVersion: tc.version})
		b, err := f.Freeze([]byte("keep"), perlcompat.NewHash())
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != "6b656570"+tc.want+"50" {
			t.Errorf("v%d: %s, want %s50 after the existing bytes", tc.version, got, tc.want)
		}
	}
	if _, err := sereal.New(sereal.Config{ProtocolVersion: 6}); err == nil {
		t.Error("protocol 6 accepted")
	}
}

func TestFreezeSharesPointersAndSurvivesCycles(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	h := perlcompat.NewHash().Set("z", perlcompat.Int(1))
	b, err := f.Freeze(nil, perlcompat.NewArray(h, h))
	if err != nil {
		t.Fatal(err)
	}
	// What Sereal::Encoder writes for [$h,$h]: REFN, tracked HASH, REFP.
	if got := hex.EncodeToString(b); got != "3df3726c03004228aa01617a012903" {
		t.Errorf("got %s", got)
	}
	c := perlcompat.NewHash()
	c.Set("self", c)
	b, err = f.Freeze(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != "3df3726c030028aa016473656c662902" {
		t.Errorf("cycle: got %s", got)
	}

	first, err := f.Freeze(nil, perlcompat.NewHash().Set("name", perlcompat.Int(1)))
	if err != nil {
		t.Fatal(err)
	}

	// Past the encoder's first table of containers: 500 hashes each
	// met twice, 500 met once, and refs to a shared array, all in one
	// message. Thawed, each shared one is one value again.
	shared := make([]*perlcompat.Hash, 500)
	a := perlcompat.NewArray(perlcompat.Int(7))
	var elems []perlcompat.Value
	for i := range shared {
		shared[i] = perlcompat.NewHash().Set("n", perlcompat.Int(int64(i)))
		elems = append(elems, shared[i], perlcompat.NewHash().Set("once", perlcompat.Int(int64(i))), &perlcompat.Ref{Target: a})
	}
	for i := range shared {
		elems = append(elems, shared[i])
	}
	b, err = f.Freeze(nil, perlcompat.NewArray(elems...))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Thaw(b)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(*perlcompat.Array).Elems
	if len(got) != 2000 {
		t.Fatalf("%d elements back, want 2000", len(got))
	}
	for i := range shared {
		first, again := got[3*i].(*perlcompat.Hash), got[1500+i].(*perlcompat.Hash)
		if first != again {
			t.Fatalf("hash %d came back as two values", i)
		}
		if n, _ := perlcompat.AsInt(first.Get("n")); n != int64(i) {
			t.Fatalf("hash %d holds n=%d", i, n)
		}
		if r := got[3*i+2].(*perlcompat.Ref); r.Target != got[2].(*perlcompat.Ref).Target {
			t.Fatalf("ref %d points at another array", i)
		}
	}
	if got[1] == got[4] {
		t.Fatal("two hashes met once came back as one")
	}

	// Encoders are reused: one that grew its table for the big message
	// must encode small ones as a fresh one does (a stale table once
	// made the next message hang).
	for i := 0; i < 50; i++ {
		if i%10 == 0 {
			if _, err := f.Freeze(nil, perlcompat.NewArray(elems...)); err != nil {
				t.Fatal(err)
			}
		}
		b, err := f.Freeze(nil, perlcompat.NewArray(h, h))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != "3df3726c03004228aa01617a012903" {
			t.Fatalf("after a big message, [$h,$h] encodes as %s", got)
		}
		b, err = f.Freeze(nil, perlcompat.NewHash().Set("name", perlcompat.Int(1)))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != hex.EncodeToString(first) {
			t.Fatalf("after a big message, {name=>1} encodes as %s, first as %x", got, first)
		}
	}
}

func TestFreezeForgetsTheLastMessagesSharingAndKeys(t *testing.T) {
	f := newFreezer(t, sereal.Config{MaxDepth: 8})
	h := perlcompat.NewHash().Set("name", perlcompat.Int(1))
	shared := perlcompat.NewArray(h, h, perlcompat.Str{S: "caf\xc3\xa9", UTF8: true})
	unshared := perlcompat.NewArray(perlcompat.NewHash().Set("name", perlcompat.Int(1)), perlcompat.NewHash().Set("name", perlcompat.Int(1)))
	var deep perlcompat.Value = h // shared with shared, and too deep
	for range 10 {
		deep = perlcompat.NewArray(deep, h)
	}
	freeze := func(v perlcompat.Value) string {
		t.Helper()
		b, err := f.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	wantShared, wantUnshared := freeze(shared), freeze(unshared)
	// Encoders are pooled: whatever one message left must not change the
	// next one's bytes, a failed message included.
	for i := range 20 {
		if i%3 == 0 {
			if _, err := f.Freeze(nil, deep); !errors.Is(err, sereal.ErrTooDeep) {
				t.Fatalf("deep: err = %v", err)
			}
		}
		if got := freeze(unshared); got != wantUnshared {
			t.Fatalf("round %d, unshared after shared: %s, want %s", i, got, wantUnshared)
		}
		if got := freeze(shared); got != wantShared {
			t.Fatalf("round %d, shared after unshared: %s, want %s", i, got, wantShared)
		}
	}
	if v, err := f.Thaw(unhex(t, wantShared)); err != nil {
		t.Fatal(err)
	} else if a := v.(*perlcompat.Array); a.Elems[0] != a.Elems[1] {
		t.Error("the shared hash thawed as two")
	}
}

func TestFreezeRejectsInvalidUTF8AndTooDeep(t *testing.T) {
	f := newFreezer(t, sereal.Config{MaxDepth: 5})
	if _, err := f.Freeze(nil, perlcompat.NewArray(perlcompat.Str{S: "\xff", UTF8: true})); err == nil {
		t.Error("invalid UTF-8 character string frozen")
	}
	var v perlcompat.Value = perlcompat.Int(1)
	for i := 0; i < 10; i++ {
		v = perlcompat.NewArray(v)
	}
	_, err := f.Freeze(nil, v)
	if !errors.Is(err, sereal.ErrTooDeep) {
		t.Errorf("err = %v, want ErrTooDeep", err)
	}
	var ee *sereal.EncodeError
	if !errors.As(err, &ee) {
		t.Errorf("err is %T, want *EncodeError", err)
	}
}

func TestNameIsConfigurable(t *testing.T) {
	if n := newFreezer(t, sereal.Config{}).Name(); n != "ikcgate::Sereal" {
		t.Errorf("default name %q", n)
	}
	if n := newFreezer(t, sereal.Config{Name: "IKCFixture::SerealFreezer"}).Name(); n != "IKCFixture::SerealFreezer" {
		t.Errorf("name %q", n)
	}
}

// TestRestrictClassesAsksSerealWhileItDecodes: a restricted Sereal
// freezer checks each class as its OBJECT is read, in document order
// (the walk of the result would start from the last), and refuses.
func TestRestrictClassesAsksSerealWhileItDecodes(t *testing.T) {
	f := newFreezer(t, sereal.Config{})
	doc, err := f.Freeze(nil, perlcompat.NewArray(
		&perlcompat.Hash{Class: "Foo"}, &perlcompat.Hash{Class: "Foo"}, &perlcompat.Hash{Class: "Bar"}))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	allow := func(c string) bool { asked = append(asked, c); return c == "Foo" }
	_, err = perlcompat.RestrictClasses(f, allow).Thaw(doc)
	if !errors.Is(err, perlcompat.ErrClassNotAllowed) || !strings.Contains(err.Error(), `"Bar"`) {
		t.Fatalf("err = %v", err)
	}
	if len(asked) == 0 || asked[0] != "Foo" || asked[len(asked)-1] != "Bar" {
		t.Errorf("asked about %q, want Foo first and Bar last (document order)", asked)
	}
	if v, err := perlcompat.RestrictClasses(f.ForChannel(), func(string) bool { return true }).Thaw(doc); err != nil || v == nil {
		t.Errorf("every class allowed, per-channel copy: %v, %v", v, err)
	}
}
