package perlcompat

import (
	"errors"
	"math"
	"strconv"
)

// Reasons a scalar does not convert, wrapped in a *ConvertError so callers
// can test them with errors.Is.
var (
	// ErrNotNumber: a string Perl would numify only with a "isn't numeric"
	// warning ("abc", "", "0x1A", "12abc").
	ErrNotNumber = errors.New("not a number")
	// ErrNotInteger: a number with a fractional part (or NaN) asked for as
	// an integer. Perl's int() would truncate; these functions refuse so
	// that data is never silently lost.
	ErrNotInteger = errors.New("not an integer")
	// ErrRange: a number outside the Go type's range.
	ErrRange = errors.New("value out of range")
	// ErrReference: a reference asked for as a number or string. Perl
	// would give its address ("HASH(0x...)"), which means nothing here.
	ErrReference = errors.New("reference is not a scalar")
)

// ConvertError reports a Perl value that cannot be read as the Go type a
// conversion asked for.
type ConvertError struct {
	Func  string // the conversion: "AsInt", "AsUint", "AsFloat", "AsString"
	Value string // the value as Perl would show it: `"abc"`, 3.5, HASH
	Err   error  // ErrNotNumber, ErrNotInteger, ErrRange or ErrReference
}

func (e *ConvertError) Error() string {
	return "perlcompat: " + e.Func + "(" + e.Value + "): " + e.Err.Error()
}

func (e *ConvertError) Unwrap() error { return e.Err }

func convErr(fn string, v Value, err error) error {
	s, ok := StringOf(v)
	if _, isStr := v.(Str); isStr {
		s = strconv.Quote(s)
	} else if !ok {
		s = kindOf(v)
	}
	return &ConvertError{Func: fn, Value: s, Err: err}
}

// AsInt reads v as an int64 the way Perl numifies a scalar, but strictly:
//
//   - undef is 0 and a Bool is 1 or 0, as in Perl;
//   - Int, Uint and Float must hold an integral value in range;
//   - a Str must be a well-formed decimal number: optional surrounding
//     whitespace, a sign, digits with an optional fraction and exponent
//     ("42", " 42", "-7", "1e3", "4.0"), or Perl's "0 but true". Hex
//     ("0x1A"), trailing junk ("12abc") and "" are ErrNotNumber where
//     Perl would warn and read a prefix. Integer strings convert exactly,
//     without going through a float.
//
// A reference is ErrReference; a nil *Hash, *Array or *Ref is undef.
func AsInt(v Value) (int64, error) {
	v = normalize(v)
	switch x := v.(type) {
	case nil, Undef:
		return 0, nil
	case Bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case Int:
		return int64(x), nil
	case Uint:
		if x > math.MaxInt64 {
			return 0, convErr("AsInt", v, ErrRange)
		}
		return int64(x), nil
	case Float:
		return floatToInt("AsInt", v, float64(x))
	case Str:
		n, ok := parseNumber(x.S)
		switch {
		case !ok:
			return 0, convErr("AsInt", v, ErrNotNumber)
		case n.integer:
			i, err := strconv.ParseInt(n.text, 10, 64)
			if err != nil {
				return 0, convErr("AsInt", v, ErrRange)
			}
			return i, nil
		}
		return floatToInt("AsInt", v, n.float())
	}
	return 0, convErr("AsInt", v, ErrReference)
}

// AsUint reads v as a uint64 under the same rules as AsInt; negative
// numbers are ErrRange.
func AsUint(v Value) (uint64, error) {
	v = normalize(v)
	switch x := v.(type) {
	case nil, Undef:
		return 0, nil
	case Bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case Int:
		if x < 0 {
			return 0, convErr("AsUint", v, ErrRange)
		}
		return uint64(x), nil
	case Uint:
		return uint64(x), nil
	case Float:
		return floatToUint("AsUint", v, float64(x))
	case Str:
		n, ok := parseNumber(x.S)
		switch {
		case !ok:
			return 0, convErr("AsUint", v, ErrNotNumber)
		case n.integer:
			if n.text[0] == '-' {
				// "-0" is zero; any other negative integer is out of range.
				if i, err := strconv.ParseInt(n.text, 10, 64); err == nil && i == 0 {
					return 0, nil
				}
				return 0, convErr("AsUint", v, ErrRange)
			}
			u, err := strconv.ParseUint(trimPlus(n.text), 10, 64)
			if err != nil {
				return 0, convErr("AsUint", v, ErrRange)
			}
			return u, nil
		}
		return floatToUint("AsUint", v, n.float())
	}
	return 0, convErr("AsUint", v, ErrReference)
}

// AsFloat reads v as a float64 the way Perl numifies it. A Str must be
// well formed as for AsInt; it may also be Perl's "Inf", "Infinity" or
// "NaN" (any case, optionally signed). A decimal too large for a float64
// is ±Inf, as in Perl, not an error.
func AsFloat(v Value) (float64, error) {
	v = normalize(v)
	switch x := v.(type) {
	case nil, Undef:
		return 0, nil
	case Bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case Int:
		return float64(x), nil
	case Uint:
		return float64(x), nil
	case Float:
		return float64(x), nil
	case Str:
		n, ok := parseNumber(x.S)
		if !ok {
			return 0, convErr("AsFloat", v, ErrNotNumber)
		}
		return n.float(), nil
	}
	return 0, convErr("AsFloat", v, ErrReference)
}

// AsString returns the characters of v as Go text, as Perl stringifies a
// scalar (see StringOf): undef is "", numbers in Perl's format, a byte
// string decoded as Latin-1. A reference is ErrReference.
func AsString(v Value) (string, error) {
	v = normalize(v)
	s, ok := StringOf(v)
	if !ok {
		return "", convErr("AsString", v, ErrReference)
	}
	return s, nil
}

// AsBool reports Perl's truth of v (see Truth): undef, "", "0" and 0 are
// false; everything else, "0.0" and references included, is true.
func AsBool(v Value) bool { return Truth(v) }

func floatToInt(fn string, v Value, f float64) (int64, error) {
	switch {
	case f != f || f != math.Trunc(f):
		return 0, convErr(fn, v, ErrNotInteger)
	case f < -(1<<63) || f >= 1<<63:
		return 0, convErr(fn, v, ErrRange)
	}
	return int64(f), nil
}

func floatToUint(fn string, v Value, f float64) (uint64, error) {
	switch {
	case f != f || f != math.Trunc(f):
		return 0, convErr(fn, v, ErrNotInteger)
	case f < 0 || f >= 1<<64:
		return 0, convErr(fn, v, ErrRange)
	}
	return uint64(f), nil
}

// number is a string Perl accepts as a number without warning.
type number struct {
	text    string // trimmed, Go-parseable: "-42", "3.5e7", "+inf", "nan"
	integer bool   // only a sign and digits
}

func (n number) float() float64 {
	// Any syntax error was ruled out by parseNumber; ErrRange means ±Inf
	// or an underflow to zero, which is Perl's answer too.
	f, _ := strconv.ParseFloat(n.text, 64)
	return f
}

// parseNumber recognises what Perl's grok_number accepts without a
// warning: optional leading and trailing whitespace, an optional sign, and
// decimal digits with an optional fraction and exponent, or Inf/Infinity/
// NaN. "0 but true" is Perl's documented warning-free zero.
func parseNumber(s string) (number, bool) {
	if s == "0 but true" {
		return number{text: "0", integer: true}, true
	}
	i, j := 0, len(s)
	for i < j && isPerlSpace(s[i]) {
		i++
	}
	for j > i && isPerlSpace(s[j-1]) {
		j--
	}
	t := s[i:j]
	p := 0
	if p < len(t) && (t[p] == '+' || t[p] == '-') {
		p++
	}
	switch lower(t[p:]) {
	case "inf", "infinity":
		return number{text: t}, true
	case "nan":
		return number{text: "nan"}, true // strconv takes no sign on NaN
	}
	digits := 0
	for p < len(t) && isDigit(t[p]) {
		p++
		digits++
	}
	integer := true
	if p < len(t) && t[p] == '.' {
		integer = false
		p++
		for p < len(t) && isDigit(t[p]) {
			p++
			digits++
		}
	}
	if digits == 0 {
		return number{}, false
	}
	if p < len(t) && (t[p] == 'e' || t[p] == 'E') {
		integer = false
		p++
		if p < len(t) && (t[p] == '+' || t[p] == '-') {
			p++
		}
		e := p
		for p < len(t) && isDigit(t[p]) {
			p++
		}
		if p == e {
			return number{}, false
		}
	}
	if p != len(t) {
		return number{}, false
	}
	return number{text: t, integer: integer}, true
}

func isPerlSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimPlus(s string) string {
	if s != "" && s[0] == '+' {
		return s[1:]
	}
	return s
}

// lower folds ASCII letters, enough to match inf/nan spellings.
func lower(s string) string {
	if len(s) > 8 {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// kindOf names v's Perl type the way ref() and error messages do: "undef",
// "string", "integer", "float", "boolean", "ARRAY", "HASH", "SCALAR" or
// "REF", with "Class=" in front for a blessed reference.
func kindOf(v Value) string {
	switch x := normalize(v).(type) {
	case nil, Undef:
		return "undef"
	case Str:
		return "string"
	case Int, Uint:
		return "integer"
	case Float:
		return "float"
	case Bool:
		return "boolean"
	case *Array:
		return blessedKind(x.Class, "ARRAY")
	case *Hash:
		return blessedKind(x.Class, "HASH")
	case *Ref:
		switch x.Target.(type) {
		case *Ref, *Array, *Hash:
			return blessedKind(x.Class, "REF")
		}
		return blessedKind(x.Class, "SCALAR")
	}
	return "unknown"
}

func blessedKind(class, kind string) string {
	if class == "" {
		return kind
	}
	return class + "=" + kind
}
