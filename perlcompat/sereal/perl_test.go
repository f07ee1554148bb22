package sereal_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
)

// Go freezes random values (byte and UTF-8 strings, integers, unsigned,
// floats, booleans, undef, nested and blessed arrays, hashes and scalar
// refs, shared refs and cycles); a real Perl kernel's
// POE::Filter::Reference->new('ikcgate::Sereal') thaws the stream, and
// Describe.pm reports what Perl holds: string or number from the scalar's
// flags, UTF8 flag, class, and sharing by address.
func TestPerlThawsWhatGoFreezes(t *testing.T) {
	perltest.Require(t)
	for _, version := range []int{3, 1, 2, 4, 5} {
		t.Run(fmt.Sprintf("protocol%d", version), func(t *testing.T) {
			f := newFreezer(t, sereal.Config{ProtocolVersion: version})
			g := &perltest.Gen{R: rand.New(rand.NewPCG(uint64(version), 7)), Blessed: true, Refs: true, Shared: true, Bools: true, Uints: true}
			n := 2000
			if version != 3 {
				n = 300
			}
			var sent []perlcompat.Value
			var payloads [][]byte
			for i := 0; i < n; i++ {
				v := g.Value()
				b, err := f.Freeze(nil, v)
				if err != nil {
					t.Fatal(err)
				}
				v = boolsAsSent(v, version)
				sent = append(sent, v)
				payloads = append(payloads, b)
			}
			out := perltest.Run(t, perltest.Frames(payloads), "thaw_stream.pl", "ikcgate::Sereal")
			got := perltest.JSONLines(t, out)
			if len(got) != len(sent) {
				t.Fatalf("Perl thawed %d frames, Go sent %d", len(got), len(sent))
			}
			for i := range sent {
				if d := perltest.Diff(perltest.Describe(sent[i]), got[i]); d != "" {
					t.Fatalf("frame %d: Perl holds something else than Go sent:\n%s\npayload %x", i, d, payloads[i])
				}
			}
		})
	}
}

// Perl freezes a few thousand random structures with ikcgate::Sereal (and,
// for every ninth, other Sereal::Encoder options: protocols 1, 2, 5, Snappy,
// zlib, dedupe_strings, canonical) and thaws them again; Go must thaw the
// same bytes to exactly what Perl got.
func TestGoThawsWhatPerlFreezes(t *testing.T) {
	perltest.Require(t)
	out := perltest.Run(t, nil, "gen.pl", "sereal", "42", "3000")
	f := newFreezer(t, sereal.Config{})
	hows := map[string]int{}
	for i, line := range perltest.JSONLines(t, out) {
		rec := line.(map[string]any)
		how := rec["how"].(string)
		hows[how]++
		b, err := hex.DecodeString(rec["hex"].(string))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Thaw(b)
		if err != nil {
			t.Fatalf("structure %d (%s): %v\n%x", i, how, err, b)
		}
		if d := perltest.Diff(rec["desc"], perltest.Describe(v)); d != "" {
			t.Fatalf("structure %d (%s): Go thawed something else than Perl:\n%s\n%x", i, how, d, b)
		}
	}
	for _, how := range []string{"adapter", "v1", "v2", "v5", "snappy", "zlib", "dedupe", "canonical"} {
		if hows[how] == 0 {
			t.Errorf("no %s documents checked (got %v)", how, hows)
		}
	}
}

// The adapter works as POE::Filter::Reference uses it, and under the
// class-method spelling too.
func TestPerlAdapterWorksWithFilterReference(t *testing.T) {
	perltest.Require(t)
	out := perltest.Run(t, nil, "adapters.pl")
	if !strings.Contains(string(out), "adapters ok") {
		t.Fatalf("adapters.pl: %s", out)
	}
}
