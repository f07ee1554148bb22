package dumper

import (
	"encoding/hex"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/freezertest"
)

// afterPerl is what a Perl peer holds after evaluating our text for v:
// bare integers are numbers, quoted numbers strings, Bool true is 1 and
// false ”, and "\x{..}" escapes below 0x100 give byte strings.
func afterPerl(v perlcompat.Value, seen map[any]perlcompat.Value) perlcompat.Value {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return perlcompat.Undef{}
	case perlcompat.Str:
		if d, ok := x.Downgrade(); ok {
			return perlcompat.Str{S: d}
		}
		return x
	case perlcompat.Int:
		if s := strconv.FormatInt(int64(x), 10); len(s) > 10 {
			return perlcompat.Str{S: s}
		}
		return x
	case perlcompat.Uint:
		if s := strconv.FormatUint(uint64(x), 10); len(s) > 10 {
			return perlcompat.Str{S: s}
		}
		return perlcompat.Int(x)
	case perlcompat.Float:
		return perlcompat.Str{S: perlcompat.FormatFloat(float64(x))}
	case perlcompat.Bool:
		if x {
			return perlcompat.Int(1)
		}
		return perlcompat.Str{}
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
			n.Entries = append(n.Entries, perlcompat.Entry{Key: e.Key, Value: afterPerl(e.Value, seen)})
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

// Go -> Perl: random requests written by Go are evaluated by real Perl the
// way POE::Component::IKC::Freezer::thaw does, and Perl's description of
// what it got (string vs number, UTF8 flag, classes, sharing, cycles)
// matches what Go sent.
func TestPerlThawsWhatGoFreezes(t *testing.T) {
	requirePerl(t, "Data::Dumper", "B", "Scalar::Util")
	g := newValueGen(rand.New(rand.NewPCG(3, 4)), true)
	freeze := func(v perlcompat.Value) ([]byte, error) { return Freezer{}.Freeze(nil, v) }
	want := func(v perlcompat.Value) string { return describe(afterPerl(v, map[any]perlcompat.Value{}), false) }
	freezertest.PerlThawsWhatGoFroze(t, g, 3000, freeze, want, filepath.Join("testdata", "dd_thaw.pl"))
}

// Perl -> Go: random structures dumped with IKC's Data::Dumper settings
// parse to exactly what Perl's eval of the same text gives.
func TestGoThawsWhatPerlFreezes(t *testing.T) {
	requirePerl(t, "Data::Dumper", "B", "Scalar::Util")
	lines := runPerl(t, nil, "dd_gen.pl", "11", "3000")
	shared, evalFail, mangled := 0, 0, 0
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[1] == "evalfail" {
			// Data::Dumper wrote text Perl itself cannot eval (a bug in its
			// fix-up paths): the Perl peer thaws undef; we must not invent
			// a value.
			evalFail++
			text, _ := hex.DecodeString(f[0])
			if v, err := (Freezer{}).Thaw(text); err == nil {
				t.Errorf("case %d: Perl cannot eval this text (%s) but Thaw returned %s\ntext %s", i, f[2], describe(v, false), text)
			}
			continue
		}
		if len(f) != 3 {
			t.Fatalf("line %d: %q", i, line)
		}
		text, err := hex.DecodeString(f[0])
		if err != nil {
			t.Fatal(err)
		}
		v, err := Freezer{}.Thaw(text)
		if err != nil && f[2] == "mangled" {
			// Data::Dumper corrupted its own fix-up paths and Perl evals
			// the garbage to something else than the data: refusing is right.
			mangled++
			continue
		}
		if err != nil {
			t.Errorf("case %d: %v\ntext %s", i, err, text)
			continue
		}
		if got := describe(v, false); got != f[1] {
			t.Errorf("case %d:\n go:   %s\n perl: %s\ntext %s", i, got, f[1], text)
		}
		if strings.Contains(f[1], "*") {
			shared++
		}
	}
	t.Logf("%d texts, %d with shared references, %d that Perl cannot eval, %d mangled by Data::Dumper and refused",
		len(lines), shared, evalFail, mangled)
	if len(lines) != 3000 || shared < 300 {
		t.Errorf("coverage: %d lines, %d with shared references", len(lines), shared)
	}
}
