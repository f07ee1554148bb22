// Package kind names a Perl value's type for the Data::Dumper and
// FreezeThaw decoders' error messages ("cannot bless a string"). The
// conversions in package perlcompat name types as Perl's ref() does
// ("HASH", "Class=ARRAY") instead: their errors speak of what a Go value
// cannot hold, these of what a text says.
package kind

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Of names v's type: "undef", "a string", "a number", "an array", "a
// hash", "a scalar reference", or the Go type of anything else.
func Of(v perlcompat.Value) string {
	switch v.(type) {
	case nil, perlcompat.Undef:
		return "undef"
	case perlcompat.Str:
		return "a string"
	case perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
		return "a number"
	case *perlcompat.Array:
		return "an array"
	case *perlcompat.Hash:
		return "a hash"
	case *perlcompat.Ref:
		return "a scalar reference"
	}
	return fmt.Sprintf("%T", v)
}
