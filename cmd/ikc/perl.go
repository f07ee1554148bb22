package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// formatPerlValue prints v as a Perl literal on one line, the way
// Data::Dumper does with Indent=0 and Sortkeys=1 (without "$VAR1 = "):
//
//	undef                    undef
//	'text'                   a string of printable ASCII
//	"caf\N{U+E9} \x{263a}"   a character string (Perl's UTF8 flag on):
//	                         \x{...} for characters above 0xFF, \N{U+..}
//	                         for 0x80-0xFF (which keeps the flag when Perl
//	                         evaluates it)
//	"caf\xe9"                a byte string: \xNN for bytes >= 0x80
//	42, 1.5, 1.0             IV, UV and NV numbers; an NV always has a "."
//	                         or an exponent; Inf is 9**9**9, NaN -sin(9**9**9)
//	'42'                     a string that looks like a number stays quoted
//	!!1, !!0                 Perl's immortal true and false
//	[1,'x']                  an array reference
//	{'a' => 1,'b' => 2}      a hash reference, keys sorted
//	\'x', \\'x', \[1]        references to scalars and references
//	bless( {...}, 'C' )      a blessed reference; a blessed scalar reference
//	                         is bless( do{\(my $o = 'x')}, 'C' )
//
// Control characters and '"', '\', '$', '@' are escaped in double-quoted
// strings. Shared references print in full at every use; a reference back
// to a value that contains it prints as the Perl expression reaching it
// from the top, $VAR1 (as Data::Dumper does).
func formatPerlValue(v perlcompat.Value) string {
	p := perlPrinter{path: map[any]string{}}
	p.value(v, "$VAR1")
	return p.b.String()
}

type perlPrinter struct {
	b    strings.Builder
	path map[any]string // containers being printed -> the expression reaching them
}

func (p *perlPrinter) value(v perlcompat.Value, at string) {
	b := &p.b
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		b.WriteString("undef")
		return
	case perlcompat.Str:
		b.WriteString(perlString(x))
		return
	case perlcompat.Int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
		return
	case perlcompat.Uint:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
		return
	case perlcompat.Float:
		b.WriteString(perlFloat(float64(x)))
		return
	case perlcompat.Bool:
		if x {
			b.WriteString("!!1")
		} else {
			b.WriteString("!!0")
		}
		return
	}
	if expr, ok := p.path[v]; ok {
		b.WriteString(expr)
		return
	}
	p.path[v] = at
	defer delete(p.path, v)
	switch x := v.(type) {
	case *perlcompat.Array:
		p.bless(x.Class, func() {
			b.WriteByte('[')
			for i, e := range x.Elems {
				if i > 0 {
					b.WriteByte(',')
				}
				p.value(e, at+"->["+strconv.Itoa(i)+"]")
			}
			b.WriteByte(']')
		})
	case *perlcompat.Hash:
		entries := append([]perlcompat.Entry(nil), x.Entries...)
		sort.SliceStable(entries, func(i, j int) bool {
			a, c := entries[i].Key, entries[j].Key
			if a.Chars() != c.Chars() {
				return a.Chars() < c.Chars()
			}
			return !a.UTF8 && c.UTF8
		})
		p.bless(x.Class, func() {
			b.WriteByte('{')
			for i, e := range entries {
				if i > 0 {
					b.WriteByte(',')
				}
				k := perlString(e.Key)
				b.WriteString(k)
				b.WriteString(" => ")
				p.value(e.Value, at+"->{"+k+"}")
			}
			b.WriteByte('}')
		})
	case *perlcompat.Ref:
		if x.Class != "" {
			// Data::Dumper's spelling of a blessed scalar reference.
			b.WriteString(`bless( do{\(my $o = `)
			p.value(x.Target, "${"+at+"}")
			b.WriteString(")}, ")
			b.WriteString(perlString(perlcompat.Text(x.Class)))
			b.WriteString(" )")
			return
		}
		b.WriteByte('\\')
		p.value(x.Target, "${"+at+"}")
	default:
		fmt.Fprintf(b, "undef  # unknown value %T", v)
	}
}

func (p *perlPrinter) bless(class string, body func()) {
	if class == "" {
		body()
		return
	}
	p.b.WriteString("bless( ")
	body()
	p.b.WriteString(", ")
	p.b.WriteString(perlString(perlcompat.Text(class)))
	p.b.WriteString(" )")
}

// perlString quotes s: single quotes for printable ASCII, double quotes
// with escapes otherwise.
func perlString(s perlcompat.Str) string {
	plain := true
	for i := 0; i < len(s.S); i++ {
		if c := s.S[i]; c < 0x20 || c > 0x7e {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s.S) + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	esc := func(r rune) {
		switch r {
		case '"', '\\', '$', '@':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case '\a':
			b.WriteString(`\a`)
		case 0x1b:
			b.WriteString(`\e`)
		default:
			switch {
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x80:
				b.WriteRune(r)
			case !s.UTF8:
				fmt.Fprintf(&b, `\x%02x`, r) // a byte
			case r <= 0xff:
				fmt.Fprintf(&b, `\N{U+%02X}`, r) // a character; "\x{e9}" would be a byte in Perl
			default:
				fmt.Fprintf(&b, `\x{%x}`, r)
			}
		}
	}
	if s.UTF8 {
		for i := 0; i < len(s.S); {
			r, size := utf8.DecodeRuneInString(s.S[i:])
			i += size
			esc(r) // invalid UTF-8 becomes U+FFFD
		}
	} else {
		for i := 0; i < len(s.S); i++ {
			esc(rune(s.S[i]))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// perlFloat writes an NV so that Perl reads it back as the same NV.
func perlFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "-sin(9**9**9)"
	case math.IsInf(f, 1):
		return "9**9**9"
	case math.IsInf(f, -1):
		return "-9**9**9"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
