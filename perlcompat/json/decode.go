package json

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// maxIntSize is JSON::PP's $max_intsize on a 64-bit Perl: the longest
// integer literal (sign included) it turns into a number; longer ones stay
// strings.
const maxIntSize = 20

// Thaw decodes one JSON text as JSON::PP->utf8->allow_nonref->decode does:
// the payload must be valid UTF-8, with only JSON whitespace around one
// value. Errors follow JSON::PP's: malformed UTF-8, lone surrogate
// escapes, control characters in strings, leading zeros, trailing commas
// and garbage after the value are all rejected. An object with a repeated
// key keeps the last value (Perl's hash assignment).
func (f *Freezer) Thaw(payload []byte) (perlcompat.Value, error) {
	d := &decoder{s: payload, maxDepth: f.maxDepth}
	if !utf8.Valid(payload) {
		off := 0
		for off < len(payload) {
			r, n := utf8.DecodeRune(payload[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &SyntaxError{Offset: off, Err: errors.New("malformed UTF-8 character in JSON string")}
	}
	d.ws()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos != len(d.s) {
		return nil, d.errf("garbage after JSON object")
	}
	return v, nil
}

type decoder struct {
	s        []byte
	pos      int
	depth    int
	maxDepth int
}

func (d *decoder) errf(format string, a ...any) error {
	return &SyntaxError{Offset: d.pos, Err: fmt.Errorf(format, a...)}
}

func (d *decoder) ws() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value() (perlcompat.Value, error) {
	if d.pos >= len(d.s) {
		return nil, d.errf("malformed JSON string, neither array, object, number, string or atom")
	}
	switch c := d.s[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return d.atom("true", perlcompat.Bool(true))
	case c == 'f':
		return d.atom("false", perlcompat.Bool(false))
	case c == 'n':
		return d.atom("null", perlcompat.Undef{})
	}
	return nil, d.errf("malformed JSON string, neither array, object, number, string or atom")
}

func (d *decoder) atom(word string, v perlcompat.Value) (perlcompat.Value, error) {
	if !strings.HasPrefix(string(d.s[d.pos:min(len(d.s), d.pos+len(word))]), word) {
		return nil, d.errf("'%s' expected", word)
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.errf("json text or perl structure exceeds maximum nesting level (max_depth set too low?): %w", ErrTooDeep)
	}
	return nil
}

func (d *decoder) array() (perlcompat.Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // [
	a := &perlcompat.Array{}
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		d.ws()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a.Elems = append(a.Elems, v)
		d.ws()
		if d.pos >= len(d.s) {
			return nil, d.errf(", or ] expected while parsing array")
		}
		switch d.s[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.errf(", or ] expected while parsing array")
		}
	}
}

func (d *decoder) object() (perlcompat.Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // {
	h := &perlcompat.Hash{}
	var index map[string]int // keys are Go text here, so one spelling per key
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
		return h, nil
	}
	for {
		d.ws()
		if d.pos >= len(d.s) || d.s[d.pos] != '"' {
			return nil, d.errf("unexpected end of string while parsing JSON string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.pos >= len(d.s) || d.s[d.pos] != ':' {
			return nil, d.errf("':' expected")
		}
		d.pos++
		d.ws()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		key := k.(perlcompat.Str)
		if index == nil {
			index = make(map[string]int)
		}
		if i, dup := index[key.S]; dup {
			h.Entries[i].Value = v // last one wins, as in a Perl hash
		} else {
			index[key.S] = len(h.Entries)
			h.Entries = append(h.Entries, perlcompat.Entry{Key: key, Value: v})
		}
		d.ws()
		if d.pos >= len(d.s) {
			return nil, d.errf(", or } expected while parsing object/hash")
		}
		switch d.s[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return h, nil
		default:
			return nil, d.errf(", or } expected while parsing object/hash")
		}
	}
}

// str reads a string; the result has the UTF8 flag when it holds any
// non-ASCII character, as JSON::PP's decode gives it.
func (d *decoder) str() (perlcompat.Value, error) {
	d.pos++ // "
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.s) {
		c := d.s[d.pos]
		if c == '"' {
			s := string(d.s[start:d.pos])
			d.pos++
			return perlcompat.Text(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	b := append([]byte(nil), d.s[start:d.pos]...)
	for {
		if d.pos >= len(d.s) {
			return nil, d.errf("unexpected end of string while parsing JSON string")
		}
		c := d.s[d.pos]
		switch {
		case c == '"':
			d.pos++
			return perlcompat.Text(string(b)), nil
		case c < 0x20:
			return nil, d.errf("invalid character encountered while parsing JSON string")
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.s) {
			return nil, d.errf("unexpected end of string while parsing JSON string")
		}
		esc := d.s[d.pos]
		d.pos++
		switch esc {
		case '"', '\\', '/':
			b = append(b, esc)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return nil, err
			}
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00:
				if d.pos+1 >= len(d.s) || d.s[d.pos] != '\\' || d.s[d.pos+1] != 'u' {
					return nil, d.errf("missing low surrogate character in surrogate pair")
				}
				d.pos += 2
				lo, err := d.hex4()
				if err != nil {
					return nil, err
				}
				if lo < 0xdc00 || lo > 0xdfff {
					return nil, d.errf("missing low surrogate character in surrogate pair")
				}
				r = utf16.DecodeRune(r, lo)
			case utf16.IsSurrogate(r):
				return nil, d.errf("missing high surrogate character in surrogate pair")
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, d.errf("illegal backslash escape sequence in string")
		}
	}
}

func (d *decoder) hex4() (rune, error) {
	if d.pos+4 > len(d.s) {
		return 0, d.errf("unexpected end of string while parsing JSON string")
	}
	n, err := strconv.ParseUint(string(d.s[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, d.errf("malformed \\u escape")
	}
	d.pos += 4
	return rune(n), nil
}

// number reads a JSON number and types it as JSON::PP does: "." makes a
// float ($v/1.0); otherwise Perl's 0+$v, which is an integer when the value
// is whole and fits IV or UV, else a float; literals longer than
// maxIntSize without "." or exponent stay strings.
func (d *decoder) number() (perlcompat.Value, error) {
	start := d.pos
	if d.s[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.s) && d.s[d.pos] >= '0' && d.s[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	intStart := d.pos
	if digits() == 0 {
		return nil, d.errf("malformed number (no digits after initial minus)")
	}
	if d.s[intStart] == '0' && d.pos-intStart > 1 {
		return nil, d.errf("malformed number (leading zero must not be followed by another digit)")
	}
	isDec, isExp := false, false
	if d.pos < len(d.s) && d.s[d.pos] == '.' {
		d.pos++
		isDec = true
		if digits() == 0 {
			return nil, d.errf("malformed number (no digits after decimal point)")
		}
	}
	if d.pos < len(d.s) && (d.s[d.pos] == 'e' || d.s[d.pos] == 'E') {
		d.pos++
		isExp = true
		if d.pos < len(d.s) && (d.s[d.pos] == '+' || d.s[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errf("malformed number (no digits after exp sign)")
		}
	}
	lit := string(d.s[start:d.pos])
	if !isDec && !isExp {
		if len(lit) > maxIntSize {
			return perlcompat.Str{S: lit}, nil
		}
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return perlcompat.Int(i), nil
		}
		if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return perlcompat.Uint(u), nil
		}
		// Out of IV and UV range: Perl's 0+$v is a float.
		fv, _ := strconv.ParseFloat(lit, 64)
		return perlcompat.Float(fv), nil
	}
	fv, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.errf("malformed number")
	}
	// Perl's 0+"1e2" is the integer 100 (exponent, no "."); and even
	// $v/1.0 is an integer for "1.5e16": with an exponent, a whole value
	// beyond 2^53 (where doubles stop holding every integer) comes out of
	// Perl's numeric conversion as an IV or UV.
	if fv == math.Trunc(fv) && (!isDec || isExp && math.Abs(fv) > 1<<53) {
		if fv >= -9223372036854775808 && fv < 9223372036854775808 {
			return perlcompat.Int(int64(fv)), nil
		}
		if fv >= 0 && fv < 18446744073709551616 {
			return perlcompat.Uint(uint64(fv)), nil
		}
	}
	return perlcompat.Float(fv), nil
}
