package conformance

import (
	"encoding/hex"
	"errors"
	"strings"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// captureNotation renders v in the value notation of the capture fixtures
// (testdata/captures/README.md, "Value notation"), as values that
// encoding/json would produce: nil, string, int64/uint64/float64, []any,
// map[string]any.
//
//	undef                       nil
//	UTF8-flagged string         its characters
//	byte string, all ASCII      the string
//	byte string with a byte >= 0x80   {"$bytes": "<hex>"}
//	Int, Uint                   integer
//	Float                       number
//	Bool                        "1" or "" (Perl's immortals are strings first)
//	array ref                   array
//	hash ref                    object; a key starting with "$" gets one more
//	                            "$"; a byte key with a byte >= 0x80 is
//	                            "$bytes:<hex>"
//	scalar ref, ref to a ref    {"$ref": <target>}
//	blessed ref                 {"$blessed": "<class>", "$value": <unblessed>}
//
// Shared references are written out in full at every use; a cycle, which
// the notation can't express, is an error.
func captureNotation(v perlcompat.Value) (any, error) {
	return notation(v, map[any]bool{})
}

var errCycle = errors.New("captureNotation: the value contains a cycle")

func notation(v perlcompat.Value, path map[any]bool) (any, error) {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return nil, nil
	case perlcompat.Str:
		if x.UTF8 || isASCIIText(x.S) {
			return x.S, nil
		}
		return map[string]any{"$bytes": hex.EncodeToString([]byte(x.S))}, nil
	case perlcompat.Int:
		return int64(x), nil
	case perlcompat.Uint:
		return uint64(x), nil
	case perlcompat.Float:
		return float64(x), nil
	case perlcompat.Bool:
		if x {
			return "1", nil
		}
		return "", nil
	}
	if path[v] {
		return nil, errCycle
	}
	path[v] = true
	defer delete(path, v)
	var out any
	var class string
	switch x := v.(type) {
	case *perlcompat.Array:
		class = x.Class
		a := make([]any, len(x.Elems))
		for i, e := range x.Elems {
			n, err := notation(e, path)
			if err != nil {
				return nil, err
			}
			a[i] = n
		}
		out = a
	case *perlcompat.Hash:
		class = x.Class
		m := make(map[string]any, len(x.Entries))
		for _, e := range x.Entries {
			n, err := notation(e.Value, path)
			if err != nil {
				return nil, err
			}
			m[notationKey(e.Key)] = n
		}
		out = m
	case *perlcompat.Ref:
		class = x.Class
		n, err := notation(x.Target, path)
		if err != nil {
			return nil, err
		}
		out = map[string]any{"$ref": n}
	default:
		return nil, errors.New("captureNotation: unknown value type")
	}
	if class != "" {
		return map[string]any{"$blessed": class, "$value": out}, nil
	}
	return out, nil
}

func notationKey(k perlcompat.Str) string {
	if !k.UTF8 && !isASCIIText(k.S) {
		return "$bytes:" + hex.EncodeToString([]byte(k.S))
	}
	if strings.HasPrefix(k.S, "$") {
		return "$" + k.S
	}
	return k.S
}

func isASCIIText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
