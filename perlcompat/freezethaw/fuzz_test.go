package freezethaw

import (
	"testing"
)

// FuzzThaw: Thaw never panics, and whatever it accepts re-freezes (when it
// has no wide text) to a frame that thaws to the same description.
func FuzzThaw(f *testing.F) {
	for _, sc := range []string{"g2-freezer-freezethaw", "g2b-freezer-freezethaw-utf8-crash"} {
		for _, fr := range loadFrames(f, sc) {
			f.Add(fr.Payload)
		}
	}
	for _, s := range []string{
		"FrT;!0|%0|%2|$4|self<0|@1|@2|<0|<0|",
		"FrT;!0|{>0|$1|C%0|})0|%2|$1|n$1|1@1|@2|<0|<0|",
		"FrT;@1|>>0|$1|C\\$1|x",
		"FrT;@1|$3|caf\xc3\xa9",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := Decoder{Limits: Limits{MaxElements: 1 << 14, MaxDepth: 64}}
		v, err := dec.Thaw(b)
		if err != nil {
			return
		}
		out, err := Freezer{}.Freeze(nil, v)
		if err != nil {
			return // wide text from the character reading, refused on purpose
		}
		v2, err := dec.Thaw(out)
		if err != nil {
			t.Fatalf("re-frozen frame %q does not thaw: %v", out, err)
		}
		if a, b := describe(v, false), describe(v2, false); a != b {
			t.Fatalf("round trip changed the value:\n%s\n%s", a, b)
		}
	})
}
