package dumper

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Every frame of the real Perl kernels parses to what Perl's eval gave
// (expect.json "value"), without evaluating anything.
func TestThawMatchesPerlOnCaptures(t *testing.T) {
	for _, f := range loadFrames(t, "g3-freezer-ikc-freezer") {
		t.Run(f.Name, func(t *testing.T) {
			v, err := Freezer{}.Thaw(f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.Value, notation(v, 0), numbersByValue); diff != "" {
				t.Errorf("thawed value differs from Perl's (-perl +go):\n%s", diff)
			}
			params := v.(*perlcompat.Hash).Get("params").(*perlcompat.Hash)
			if params.Get("shared_a") != params.Get("shared_b") {
				t.Error("the fix-up did not make shared_a and shared_b the same *Array")
			}
		})
	}
}

// Our text for the captured values evals, in real Perl, to the same data;
// checked against Perl in TestPerlThawsWhatGoFreezes. Here: it parses back
// to the same description.
func TestFreezeOfCaptureValuesParsesBack(t *testing.T) {
	for _, f := range loadFrames(t, "g3-freezer-ikc-freezer") {
		v, err := Freezer{}.Thaw(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		text, err := Freezer{}.Freeze(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := Freezer{}.Thaw(text)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f.Name, err, text)
		}
		if a, b := describe(v, false), describe(v2, false); a != b {
			t.Errorf("%s: round trip differs:\n%s\n%s", f.Name, a, b)
		}
	}
}
