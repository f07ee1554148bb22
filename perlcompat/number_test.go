package perlcompat

import (
	"errors"
	"math"
	"testing"
)

func TestAsIntReadsNumericStringsLikePerl(t *testing.T) {
	cases := []struct {
		in   Value
		want int64
	}{
		{Str{S: "42"}, 42},
		{Str{S: " 42"}, 42},
		{Str{S: "42\n"}, 42},
		{Str{S: "\t-7 "}, -7},
		{Str{S: "+5"}, 5},
		{Str{S: "007"}, 7}, // decimal, not octal, when a string is numified
		{Str{S: "1e3"}, 1000},
		{Str{S: "4.0"}, 4},
		{Str{S: "-0"}, 0},
		{Str{S: "0 but true"}, 0},
		{Str{S: "9007199254740993"}, 9007199254740993}, // exact, not via float64
		{Str{S: "-9223372036854775808"}, math.MinInt64},
		{Str{S: "12", UTF8: true}, 12},
		{Int(-3), -3},
		{Uint(5), 5},
		{Float(-2), -2},
		{Bool(true), 1},
		{Bool(false), 0},
		{Undef{}, 0},
		{nil, 0},
	}
	for _, c := range cases {
		got, err := AsInt(c.in)
		if err != nil || got != c.want {
			t.Errorf("AsInt(%#v) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestAsIntRefusesWhatPerlWouldWarnAbout(t *testing.T) {
	cases := []struct {
		in   Value
		want error
	}{
		{Str{S: "0x1A"}, ErrNotNumber},
		{Str{S: "abc"}, ErrNotNumber},
		{Str{S: ""}, ErrNotNumber},
		{Str{S: " "}, ErrNotNumber},
		{Str{S: "12abc"}, ErrNotNumber},
		{Str{S: "1_000"}, ErrNotNumber},
		{Str{S: "1e"}, ErrNotNumber},
		{Str{S: "."}, ErrNotNumber},
		{Str{S: "--1"}, ErrNotNumber},
		{Str{S: "3.14"}, ErrNotInteger},
		{Str{S: "NaN"}, ErrNotInteger},
		{Str{S: "Inf"}, ErrRange},
		{Str{S: "9223372036854775808"}, ErrRange},
		{Str{S: "1e19"}, ErrRange},
		{Float(2.5), ErrNotInteger},
		{Float(math.Inf(1)), ErrRange},
		{Float(9223372036854775808), ErrRange},
		{Uint(math.MaxUint64), ErrRange},
		{NewHash(), ErrReference},
		{&Ref{Target: Int(1)}, ErrReference},
	}
	for _, c := range cases {
		got, err := AsInt(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("AsInt(%#v) = %d, %v; want error %v", c.in, got, err, c.want)
		}
		var ce *ConvertError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("AsInt(%#v) error %T is not a *ConvertError", c.in, err)
		}
	}
}

func TestAsUintCoversTheTopHalfAndRefusesNegatives(t *testing.T) {
	if got, err := AsUint(Str{S: "18446744073709551615"}); err != nil || got != math.MaxUint64 {
		t.Errorf("AsUint(max) = %d, %v", got, err)
	}
	if got, err := AsUint(Str{S: "1e19"}); err != nil || got != 1e19 {
		t.Errorf("AsUint(1e19) = %d, %v", got, err)
	}
	if got, err := AsUint(Str{S: "-0"}); err != nil || got != 0 {
		t.Errorf("AsUint(-0) = %d, %v", got, err)
	}
	if got, err := AsUint(Uint(math.MaxUint64)); err != nil || got != math.MaxUint64 {
		t.Errorf("AsUint(Uint max) = %d, %v", got, err)
	}
	for _, v := range []Value{Str{S: "-1"}, Int(-1), Float(-1), Str{S: "18446744073709551616"}, Float(1 << 64)} {
		if _, err := AsUint(v); !errors.Is(err, ErrRange) {
			t.Errorf("AsUint(%#v) error = %v, want ErrRange", v, err)
		}
	}
}

func TestAsFloatReadsDecimalsExponentsAndInfinities(t *testing.T) {
	cases := []struct {
		in   Value
		want float64
	}{
		{Str{S: "3.14"}, 3.14},
		{Str{S: "1e+100"}, 1e100},
		{Str{S: "-2.5e-07"}, -2.5e-07},
		{Str{S: ".5"}, 0.5},
		{Str{S: "5."}, 5},
		{Str{S: " 1E3 "}, 1000},
		{Str{S: "Inf"}, math.Inf(1)},
		{Str{S: "-infinity"}, math.Inf(-1)},
		{Str{S: "1e999"}, math.Inf(1)}, // Perl overflows to Inf too
		{Int(-4), -4},
		{Uint(math.MaxUint64), math.MaxUint64},
		{Float(0.1), 0.1},
		{Bool(true), 1},
		{Undef{}, 0},
	}
	for _, c := range cases {
		got, err := AsFloat(c.in)
		if err != nil || got != c.want {
			t.Errorf("AsFloat(%#v) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if f, err := AsFloat(Str{S: "-NaN"}); err != nil || !math.IsNaN(f) {
		t.Errorf("AsFloat(-NaN) = %v, %v", f, err)
	}
	for _, s := range []string{"0x1A", "0x1p-2", "1_0", "infx", "", "e5", "1.2.3"} {
		if _, err := AsFloat(Str{S: s}); !errors.Is(err, ErrNotNumber) {
			t.Errorf("AsFloat(%q) error = %v, want ErrNotNumber", s, err)
		}
	}
}

func TestAsStringStringifiesScalarsAndRefusesReferences(t *testing.T) {
	cases := map[string]Value{
		"café":   Str{S: "caf\xe9"},
		"42":     Int(42),
		"0.1":    Float(0.1),
		"1e+100": Float(1e100),
		"1":      Bool(true),
		"":       Undef{},
	}
	for want, v := range cases {
		if got, err := AsString(v); err != nil || got != want {
			t.Errorf("AsString(%#v) = %q, %v; want %q", v, got, err, want)
		}
	}
	_, err := AsString(NewArray())
	if !errors.Is(err, ErrReference) {
		t.Fatalf("AsString(array) error = %v", err)
	}
	if got, want := err.Error(), "perlcompat: AsString(ARRAY): reference is not a scalar"; got != want {
		t.Errorf("error text %q, want %q", got, want)
	}
}

func TestAsBoolIsPerlTruth(t *testing.T) {
	for v, want := range map[Value]bool{
		Str{S: "0.0"}: true, Str{S: "00"}: true, Str{S: "0"}: false, Str{S: ""}: false,
		Int(0): false, Float(0.5): true, Undef{}: false, Bool(true): true,
	} {
		if AsBool(v) != want {
			t.Errorf("AsBool(%#v) = %v", v, !want)
		}
	}
}

func TestConvertErrorQuotesTheString(t *testing.T) {
	_, err := AsInt(Str{S: "0x1A"})
	if got, want := err.Error(), `perlcompat: AsInt("0x1A"): not a number`; got != want {
		t.Errorf("error text %q, want %q", got, want)
	}
}
