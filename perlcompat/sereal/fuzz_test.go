package sereal_test

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat/perl/perltest"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
)

// FuzzThaw feeds hostile documents to Thaw, seeded with the real Perl
// frames of the k1 capture and the documents of the unit tests. Thaw must
// not panic (the recover in Thaw is not allowed to fire: it would show as
// an "internal error"), and whatever it accepts must freeze and thaw back
// to the same value (testdata/fuzz/FuzzThaw holds the inputs that found
// a referenced FALSE, which protocol 3 writes as "").
func FuzzThaw(f *testing.F) {
	for _, fr := range perltest.CaptureFrames(f, "k1-freezer-sereal") {
		f.Add(fr.Payload)
	}
	for _, h := range []string{
		"3df3726c03004228aa01617a012903", "3df3726c03004228852903", "3df3726c03004228a8052903",
		"3df3726c030028aa016473656c662902", "3df3726c0300422c63466f6f282a002d03282b00",
		"3df3726c030042282a016361626301282a012f0502", "3df3726c0300422881282a01617a2e03",
		"3df3726c030042c02902", "3df3726c030028a82902", "3d73726c01004228aa01617a012908",
		"3df3726c0300433b3f3a39", "3df3726c03004328e26162282f032903", "3df3726c050028ab05252704636cc3a925290234",
	} {
		f.Add(unhex(f, h))
	}
	fr, err := sereal.New(sereal.Config{MaxDepth: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := fr.Thaw(doc)
		if err != nil {
			if containsInternal(err.Error()) {
				t.Fatalf("Thaw recovered from a panic: %v", err)
			}
			return
		}
		b, err := fr.Freeze(nil, v)
		if err != nil {
			t.Fatalf("cannot freeze what was thawed: %v", err)
		}
		back, err := fr.Thaw(b)
		if err != nil {
			t.Fatalf("cannot thaw our own freeze: %v\n%x", err, b)
		}
		// Protocol 3 writes a Bool behind a *Ref as 1 or "" (see Freeze).
		if d := perltest.Diff(perltest.Describe(boolsAsSent(v, 3)), perltest.Describe(back)); d != "" {
			t.Fatalf("freeze/thaw changed the value:\n%s", d)
		}
	})
}

func containsInternal(s string) bool {
	for i := 0; i+len("internal error") <= len(s); i++ {
		if s[i:i+len("internal error")] == "internal error" {
			return true
		}
	}
	return false
}
