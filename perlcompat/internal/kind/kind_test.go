package kind

import (
	"testing"

	"github.com/ikcgate/ikcgate/perlcompat"
)

func TestOfNamesEachKindOfValue(t *testing.T) {
	for _, c := range []struct {
		v    perlcompat.Value
		want string
	}{
		{nil, "undef"},
		{perlcompat.Undef{}, "undef"},
		{perlcompat.Text("x"), "a string"},
		{perlcompat.Int(1), "a number"},
		{perlcompat.Uint(1), "a number"},
		{perlcompat.Float(1.5), "a number"},
		{&perlcompat.Array{}, "an array"},
		{&perlcompat.Hash{}, "a hash"},
		{&perlcompat.Ref{}, "a scalar reference"},
	} {
		if got := Of(c.v); got != c.want {
			t.Errorf("Of(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
