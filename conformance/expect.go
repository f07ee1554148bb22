package conformance

import (
	"math"
	"strconv"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// expectedPerlView returns what a Perl 5.36 / Storable 3.26 program sees
// after thawing the nfreeze image of the Go value v. It is the one place
// where the tests encode the Go -> Perl mapping (PROTOCOL.md §4.2 "How
// Perl encodes a scalar" and §9 items 2-4, checked against real Perl):
//
//   - nil and Undef: undef.
//   - Str: unchanged, bytes and UTF8 flag alike (UTF-8 strings travel as
//     SX_UTF8STR/SX_LUTF8STR and come back flagged, byte strings as
//     SX_SCALAR/SX_LSCALAR and come back unflagged, even when ASCII).
//     The exception is the empty string: real Perl thaws an empty
//     SX_UTF8STR without the flag, so an empty Str arrives unflagged.
//     Hash keys likewise keep their characters and their flag (Perl keeps
//     a flagged ASCII key flagged: it stores it with HVhek_WASUTF8).
//   - Int: -2^31 .. 2^31-1 travel as SX_BYTE/SX_NETINT and arrive as
//     integers; anything wider is a decimal string ("1099511627776" for
//     2^40), so Perl sees a string (POK).
//   - Uint: the same, by value (18446744073709551615 arrives as a string).
//   - Float: Storable's rule for a number with no string value. An
//     integral value whose magnitude is below 2^53 is an integer (then as
//     Int above; -0.0 becomes the integer 0); every other value is the
//     string Perl prints for it, "%.15g" with Perl's spellings: 0.1 ->
//     "0.1", 1e100 -> "1e+100", 2^53 -> "9.00719925474099e+15", 1e16 ->
//     "1e+16", NaN -> "NaN", +Inf -> "Inf", -Inf -> "-Inf". (The 2^53 bound
//     is Perl's SvIV_please: an NV only gets a public IOK when it converts
//     to an IV exactly and fits in 53 bits; Storable 3.26 tests IOK.)
//   - Bool: Perl 5.36 booleans freeze as the strings "1" and "" (or
//     SX_SV_YES/SX_SV_NO, which thaw to PL_sv_yes/PL_sv_no and describe the
//     same way).
//   - *Array, *Hash, *Ref: the same shape, class and sharing (a pointer met
//     twice maps to one new pointer, so cycles and shared refs survive).
func expectedPerlView(v perlcompat.Value) perlcompat.Value {
	return expectedView(v, map[any]perlcompat.Value{})
}

func expectedView(v perlcompat.Value, memo map[any]perlcompat.Value) perlcompat.Value {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		return perlcompat.Undef{}
	case perlcompat.Str:
		if x.S == "" {
			// Storable 3.26 thaws an empty SX_UTF8STR/SX_LUTF8STR
			// (which its nfreeze writes for a flagged "") unflagged.
			return perlcompat.Str{}
		}
		return x
	case perlcompat.Int:
		return perlInt(int64(x))
	case perlcompat.Uint:
		if x <= math.MaxInt64 {
			return perlInt(int64(x))
		}
		return perlcompat.Str{S: strconv.FormatUint(uint64(x), 10)}
	case perlcompat.Float:
		return perlNumber(float64(x))
	case perlcompat.Bool:
		if x {
			return perlcompat.Str{S: "1"}
		}
		return perlcompat.Str{S: ""}
	case *perlcompat.Array:
		if m, ok := memo[x]; ok {
			return m
		}
		n := &perlcompat.Array{Class: x.Class, Elems: make([]perlcompat.Value, len(x.Elems))}
		memo[x] = n
		for i, e := range x.Elems {
			n.Elems[i] = expectedView(e, memo)
		}
		return n
	case *perlcompat.Hash:
		if m, ok := memo[x]; ok {
			return m
		}
		n := &perlcompat.Hash{Class: x.Class, Entries: make([]perlcompat.Entry, len(x.Entries))}
		memo[x] = n
		for i, e := range x.Entries {
			n.Entries[i] = perlcompat.Entry{Key: e.Key, Value: expectedView(e.Value, memo)}
		}
		return n
	case *perlcompat.Ref:
		if m, ok := memo[x]; ok {
			return m
		}
		n := &perlcompat.Ref{Class: x.Class}
		memo[x] = n
		n.Target = expectedView(x.Target, memo)
		return n
	}
	return v
}

// perlInt is how an integer arrives through nfreeze: SX_BYTE or SX_NETINT
// when it fits 32 bits, else a decimal string.
func perlInt(i int64) perlcompat.Value {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		return perlcompat.Int(i)
	}
	return perlcompat.Str{S: strconv.FormatInt(i, 10)}
}

// perlNumber is how Perl's nfreeze carries a number with no string value
// (an NV), see expectedPerlView.
func perlNumber(f float64) perlcompat.Value {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return perlInt(int64(f))
	}
	return perlcompat.Str{S: perlG15(f)}
}

// perlG15 is Perl's stringification of a non-integral NV: C's "%.15g",
// with "NaN", "Inf" and "-Inf".
func perlG15(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}
