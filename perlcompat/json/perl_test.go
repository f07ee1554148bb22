package json_test

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
)

// Go freezes random values JSON can carry (byte and UTF-8 strings,
// integers, unsigned, floats, booleans, undef, nested arrays and hashes);
// a real Perl kernel's POE::Filter::Reference->new('ikcgate::JSON') thaws
// the stream, and what Perl holds (flags included) must be what Go's own
// Thaw makes of the same bytes, which the round-trip test ties to what Go
// sent.
func TestPerlThawsWhatGoFreezes(t *testing.T) {
	perltest.Require(t)
	f := newFreezer(t, jsonConfig())
	g := &perltest.Gen{R: rand.New(rand.NewPCG(9, 9)), Bools: true, Uints: true}
	var expect []perlcompat.Value
	var payloads [][]byte
	for i := 0; i < 2000; i++ {
		v := g.Value()
		b, err := f.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := f.Thaw(b)
		if err != nil {
			t.Fatal(err)
		}
		expect = append(expect, back)
		payloads = append(payloads, b)
	}
	got := perltest.JSONLines(t, perltest.Run(t, perltest.Frames(payloads), "thaw_stream.pl", "ikcgate::JSON", "1"))
	if len(got) != len(expect) {
		t.Fatalf("Perl thawed %d frames, Go sent %d", len(got), len(expect))
	}
	for i := range expect {
		if d := perltest.Diff(perltest.Describe(expect[i]), got[i]); d != "" {
			t.Fatalf("frame %d %s: Perl holds something else:\n%s", i, payloads[i], d)
		}
	}
}

// Perl freezes a few thousand random structures with ikcgate::JSON and
// thaws them again; Go must thaw the same bytes to exactly what Perl got,
// and freeze that value to the very bytes Perl freezes its thawed copy to
// (canonical JSON::PP; the original bytes can differ: Perl's NV 1e15 is
// written 1e+15 and thaws as the integer 1000000000000000).
func TestGoThawsWhatPerlFreezes(t *testing.T) {
	perltest.Require(t)
	f := newFreezer(t, jsonConfig())
	for i, line := range perltest.JSONLines(t, perltest.Run(t, nil, "gen.pl", "json", "42", "3000")) {
		rec := line.(map[string]any)
		b, err := hex.DecodeString(rec["hex"].(string))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Thaw(b)
		if err != nil {
			t.Fatalf("structure %d: %v\n%s", i, err, b)
		}
		if d := perltest.Diff(rec["desc"], perltest.Describe(v)); d != "" {
			t.Fatalf("structure %d %s: Go thawed something else than Perl:\n%s", i, b, d)
		}
		again, err := f.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := hex.DecodeString(rec["again"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(want) {
			t.Fatalf("structure %d: Go re-freezes\n%s\nPerl re-freezes\n%s", i, again, want)
		}
	}
}
