package protocol

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// FuzzDecodeRequest thaws arbitrary Storable bytes and decodes them as a
// request both ways (Decode, and DecodeIn with a reused store): neither
// may panic, both must agree, and whatever decodes must be usable as
// the gateway uses it (its target, arguments, hash form, and a reply).
func FuzzDecodeRequest(f *testing.F) {
	_, expects := fcapLoad(f)
	for _, exp := range expects {
		for _, fr := range exp.Frames {
			if fr.Value == nil {
				continue
			}
			v, err := fcapValue(fr.Value)
			if err != nil {
				continue
			}
			if b, err := storable.NFreeze(nil, v); err == nil {
				f.Add(b)
			}
		}
	}
	post := perlcompat.NewHash().Set("event", perlcompat.Text("poe://K/s/e")).Set("params", perlcompat.Int(1))
	b, _ := storable.NFreeze(nil, post)
	f.Add(b)
	var d1, d2 RequestDecoder
	var s RequestStore
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := storable.Thaw(data)
		if err != nil {
			return
		}
		r1, e1 := d1.Decode(v)
		r2, e2 := d2.DecodeIn(&s, v)
		if (r1 == nil) != (r2 == nil) || (e1 == nil) != (e2 == nil) || e1 != nil && e1.Error() != e2.Error() {
			t.Fatalf("Decode gave %v, %v; DecodeIn %v, %v", r1, e1, r2, e2)
		}
		if r1 == nil {
			return
		}
		// Both build their hash in the order received, so compare them
		// as they are: Storable allows cycles (a hash holding itself),
		// and go-cmp panics when a transformer such as sortedHash meets
		// its own output again inside it.
		if diff := cmp.Diff(r1.Value(), r2.Value(), equateNaNs); diff != "" {
			t.Fatalf("Decode and DecodeIn differ:\n%s", diff)
		}
		r2.Target()
		r2.Args()
		if r2.IsCall() {
			NewReply(r2, perlcompat.Int(1))
		}
		if _, err := storable.NFreeze(nil, r2.Value()); err != nil && e2 == nil {
			t.Fatalf("a request decoded without complaint does not freeze: %v", err)
		}
	})
}

// equateNaNs lets a NaN double (Storable can carry one) equal itself:
// cmp compares floats with ==, and NaN != NaN.
var equateNaNs = cmp.Comparer(func(a, b perlcompat.Float) bool {
	return a == b || a != a && b != b
})
