package json

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Freeze appends the JSON text for v to dst as JSON::PP
// ->utf8->canonical->allow_nonref encodes it: compact, object keys sorted
// by character, strings as UTF-8 with only '"', '\\' and control
// characters escaped ("\u001f" in lower case), byte strings read as
// Latin-1. See the package documentation for what JSON cannot carry; those
// values give an *EncodeError wrapping ErrUnsupported or ErrTooDeep, and
// dst is returned unchanged.
func (f *Freezer) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	e := &encoder{buf: dst, maxDepth: f.maxDepth}
	if err := e.value(v, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

type encoder struct {
	buf      []byte
	maxDepth int
}

func unsupported(format string, a ...any) error {
	return &EncodeError{Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrUnsupported)}
}

func (e *encoder) value(v perlcompat.Value, depth int) error {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		e.buf = append(e.buf, "null"...)
	case perlcompat.Bool:
		e.bool(bool(x))
	case perlcompat.Int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case perlcompat.Uint:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case perlcompat.Float:
		return e.float(float64(x))
	case perlcompat.Str:
		return e.str(x)
	case *perlcompat.Array:
		if x.Class != "" {
			return unsupported("encountered object blessed into %q (JSON::PP dies without allow_blessed/convert_blessed)", x.Class)
		}
		if depth >= e.maxDepth {
			return &EncodeError{Err: fmt.Errorf("json text or perl structure exceeds maximum nesting level (a cycle?): %w", ErrTooDeep)}
		}
		e.buf = append(e.buf, '[')
		for i, el := range x.Elems {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case *perlcompat.Hash:
		if x.Class != "" {
			return unsupported("encountered object blessed into %q (JSON::PP dies without allow_blessed/convert_blessed)", x.Class)
		}
		if depth >= e.maxDepth {
			return &EncodeError{Err: fmt.Errorf("json text or perl structure exceeds maximum nesting level (a cycle?): %w", ErrTooDeep)}
		}
		// canonical: Perl's sort of the keys, by character.
		type kv struct {
			chars string
			v     perlcompat.Value
		}
		ents := make([]kv, len(x.Entries))
		for i, en := range x.Entries {
			ents[i] = kv{en.Key.Chars(), en.Value}
		}
		slices.SortStableFunc(ents, func(a, b kv) int { return strings.Compare(a.chars, b.chars) })
		e.buf = append(e.buf, '{')
		for i, en := range ents {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.text(en.chars)
			e.buf = append(e.buf, ':')
			if err := e.value(en.v, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	case *perlcompat.Ref:
		// JSON::PP: JSON::PP::Boolean objects and \1, \0 are booleans;
		// any other reference to a scalar dies.
		s, ok := perlcompat.StringOf(x.Target)
		if x.Class == "JSON::PP::Boolean" && ok {
			e.bool(perlcompat.Truth(x.Target))
			return nil
		}
		if x.Class != "" {
			return unsupported("encountered object blessed into %q (JSON::PP dies without allow_blessed/convert_blessed)", x.Class)
		}
		switch {
		case ok && !perlcompat.IsUndef(x.Target) && s == "1":
			e.bool(true)
		case ok && !perlcompat.IsUndef(x.Target) && s == "0":
			e.bool(false)
		default:
			return unsupported("cannot encode reference to scalar")
		}
	default:
		return &EncodeError{Err: fmt.Errorf("unknown value type %T", v)}
	}
	return nil
}

func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, "true"...)
	} else {
		e.buf = append(e.buf, "false"...)
	}
}

// float writes f as Perl stringifies it (%.15g), which is what JSON::PP
// writes, so frames are byte-identical to a Perl peer's; when those 15
// digits do not give f back, the shortest exact digits are written instead,
// in exponent form (Perl would lose the difference; the peer reads it
// exactly, as a float). Whole values beyond 2^53 are written in full with
// ".0", the one spelling JSON::PP reads back as a float.
func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return unsupported("number %v", f)
	}
	var s string
	switch {
	case f == math.Trunc(f) && math.Abs(f) > 1<<53 && math.Abs(f) < 1<<64:
		// Perl turns a whole value beyond 2^53 written with an
		// exponent into an integer ("1.5e16" is an IV), so it is
		// written out: "15000000000000000.0" is an NV.
		s = strconv.FormatFloat(f, 'f', -1, 64) + ".0"
	default:
		s = perlcompat.FormatFloat(f)
		if g, err := strconv.ParseFloat(s, 64); err != nil || g != f {
			// Shortest exact digits, with a "." so that JSON::PP
			// reads a float ($v/1.0).
			s = strconv.FormatFloat(f, 'e', -1, 64)
			if !strings.Contains(s, ".") {
				s = strings.Replace(s, "e", ".0e", 1)
			}
		}
	}
	e.buf = append(e.buf, s...)
	return nil
}

func (e *encoder) str(s perlcompat.Str) error {
	if s.UTF8 && !utf8.ValidString(s.S) {
		return &EncodeError{Err: fmt.Errorf("character string %q is not valid UTF-8", s.S)}
	}
	e.text(s.Chars())
	return nil
}

const hexDigits = "0123456789abcdef"

// text writes Go text (valid UTF-8) as a JSON string, escaping as JSON::PP.
func (e *encoder) text(s string) {
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		e.buf = append(e.buf, s[start:i]...)
		switch c {
		case '"', '\\':
			e.buf = append(e.buf, '\\', c)
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
		default:
			e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}
