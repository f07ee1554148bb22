package dumper

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// FuzzThaw: Thaw never panics, and whatever it accepts freezes to text
// that parses back to what Perl's eval of that text gives (afterPerl):
// Data::Dumper writes a float as a quoted string, so even Perl gets a
// string back (a regression input, "$VAR1=0e0", is kept).
func FuzzThaw(f *testing.F) {
	for _, fr := range loadFrames(f, "g3-freezer-ikc-freezer") {
		f.Add(fr.Payload)
	}
	for _, s := range []string{
		VarName + ` = {'a' => [1],'b' => []};` + VarName + `->{'b'} = ` + VarName + `->{'a'};`,
		VarName + ` = \do{my $o};${` + VarName + `} = ` + VarName + `;`,
		VarName + ` = [bless( do{\(my $o = undef)}, 'S' ),do{my $o}];` + VarName + `->[1] = ` + VarName + `->[0];`,
		VarName + ` = {"k\x{263a}" => "\0\12\177\351",abc => -5,'x' => \\'deep'};`,
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
			t.Fatalf("cannot freeze what Thaw returned: %v", err)
		}
		v2, err := Decoder{Limits: Limits{MaxDepth: 200}}.Thaw(out)
		if err != nil {
			t.Fatalf("our own text does not parse: %v\n%s", err, out)
		}
		if a, b := describe(afterPerl(v, map[any]perlcompat.Value{}), false), describe(v2, false); a != b {
			t.Fatalf("round trip changed the value:\n%s\n%s\n%s", a, b, out)
		}
	})
}
