// Package kind names a Perl value's type for the decoders' error
// messages ("cannot bless a string"), in the words Perl's own would use.
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
