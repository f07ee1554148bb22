package freezethaw

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/freezertest"
)

// afterPerl is what a Perl peer holds after thawing v: FreezeThaw carries
// every scalar as a string, so numbers and booleans become byte strings of
// their Perl spelling. Structure, classes and sharing are kept.
func afterPerl(v perlcompat.Value, seen map[any]perlcompat.Value) perlcompat.Value {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return perlcompat.Undef{}
	case perlcompat.Str:
		return perlcompat.Str{S: x.S} // ASCII only when UTF8 (Freeze refuses the rest)
	case perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
		s, _ := perlcompat.StringOf(x)
		return perlcompat.Str{S: s}
	case *perlcompat.Array:
		if n, ok := seen[x]; ok {
			return n
		}
		n := &perlcompat.Array{Class: x.Class}
		seen[x] = n
		for _, e := range x.Elems {
			n.Elems = append(n.Elems, afterPerl(e, seen))
		}
		return n
	case *perlcompat.Hash:
		if n, ok := seen[x]; ok {
			return n
		}
		n := &perlcompat.Hash{Class: x.Class}
		seen[x] = n
		for _, e := range x.Entries {
			n.Entries = append(n.Entries, perlcompat.Entry{Key: perlcompat.Str{S: e.Key.S}, Value: afterPerl(e.Value, seen)})
		}
		return n
	case *perlcompat.Ref:
		if n, ok := seen[x]; ok {
			return n
		}
		n := &perlcompat.Ref{Class: x.Class}
		seen[x] = n
		n.Target = afterPerl(x.Target, seen)
		return n
	}
	return v
}

// Go -> Perl: random requests frozen by Go are thawed by FreezeThaw::thaw,
// and what Perl got (strings and their UTF8 flag, classes, sharing,
// cycles, described by freezertest's describe.pl) is what Go sent.
func TestPerlThawsWhatGoFreezes(t *testing.T) {
	requirePerl(t, "FreezeThaw", "B", "Scalar::Util")
	g := newValueGen(rand.New(rand.NewPCG(1, 2)), false)
	freeze := func(v perlcompat.Value) ([]byte, error) { return Freezer{}.Freeze(nil, v) }
	want := func(v perlcompat.Value) string { return describe(afterPerl(v, map[any]perlcompat.Value{}), false) }
	freezertest.PerlThawsWhatGoFroze(t, g, 3000, freeze, want, filepath.Join("testdata", "ft_thaw.pl"))
}

// Perl -> Go: random structures frozen by FreezeThaw::freeze decode to
// what FreezeThaw::thaw itself gives; re-freezing gives Perl's bytes; and
// frames Perl cannot thaw (character strings) decode to the original
// characters.
func TestGoThawsWhatPerlFreezes(t *testing.T) {
	requirePerl(t, "FreezeThaw", "B", "Scalar::Util")
	lines := runPerl(t, nil, "ft_gen.pl", "7", "3000")
	var ok, recovered int
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			t.Fatalf("line %d: %q", i, line)
		}
		frame, err := hex.DecodeString(f[1])
		if err != nil {
			t.Fatal(err)
		}
		v, err := Freezer{}.Thaw(frame)
		if err != nil {
			t.Errorf("case %d (perl %s): %v\nframe %q", i, f[0], err, frame)
			continue
		}
		switch f[0] {
		case "ok":
			ok++
			if got := describe(v, false); got != f[2] {
				t.Errorf("case %d:\n go:   %s\n perl: %s", i, got, f[2])
				continue
			}
			again, err := Freezer{}.Freeze(nil, v)
			if err != nil {
				t.Errorf("case %d: re-freeze: %v", i, err)
			} else if !bytes.Equal(again, frame) && !hasWideText(v) {
				t.Errorf("case %d: re-frozen frame differs:\n go:   %q\n perl: %q", i, again, frame)
			}
		case "fail":
			recovered++
			if got := describe(v, true); got != f[2] {
				t.Errorf("case %d (Perl: %s):\n go:   %s\n perl original: %s", i, f[3], got, f[2])
			}
		}
	}
	t.Logf("%d frames Perl thaws, %d only Go reads (character strings)", ok, recovered)
	if ok < 2000 || recovered < 100 {
		t.Errorf("generator coverage too low: %d ok, %d recovered", ok, recovered)
	}
}

func hasWideText(v perlcompat.Value) bool {
	return strings.Contains(describe(v, false), "c:")
}
