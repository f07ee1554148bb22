package json_test

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat/json"
	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
)

// FuzzThaw feeds hostile text to Thaw, seeded with the real Perl frames of
// the k2 capture. Thaw must not panic, and whatever it accepts must freeze
// (JSON can carry everything Thaw makes, bar +Inf from "1e400") and thaw
// back to the same value.
func FuzzThaw(f *testing.F) {
	for _, fr := range perltest.CaptureFrames(f, "k2-freezer-json") {
		f.Add(fr.Payload)
	}
	for _, s := range []string{`{"a":[1,2.5,"x",true,null,{}]}`, `"\ud83d\ude00"`, `-0`, `1e2`, `1.5e16`, `123456789012345678901`, `[[[[]]]]`} {
		f.Add([]byte(s))
	}
	fr, err := json.New(json.Config{MaxDepth: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := fr.Thaw(doc)
		if err != nil {
			return
		}
		b, err := fr.Freeze(nil, v)
		if err != nil {
			return // +Inf/-Inf from an out-of-range number
		}
		back, err := fr.Thaw(b)
		if err != nil {
			t.Fatalf("cannot thaw our own freeze %q: %v", b, err)
		}
		// What JSON keeps: "0.00" is the float 0, written 0 as Perl
		// prints it, which thaws as an integer.
		if d := perltest.Diff(perltest.Describe(normalize(v)), perltest.Describe(back)); d != "" {
			t.Fatalf("freeze/thaw of %q changed the value:\n%s", b, d)
		}
	})
}
