package conformance

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Describe renders v in the conformance description notation, the same text
// conformance/perl/describe.pm writes for the Perl data v stands for. Two
// values with equal descriptions are indistinguishable to a Perl program
// that looks at flags, bytes, blessing and reference identity.
//
// v is described as the content of one slot (a variable, an array element,
// a hash value); a thawed structure is a reference and is passed as is.
// One node per line, indented one space per nesting level:
//
//	undef                      undef (nil and Undef)
//	str "<bytes>"              a scalar with a string value, UTF8 flag off
//	utf8 "<bytes>"             a string with the UTF8 flag on; <bytes> are
//	                           Perl's internal UTF-8 bytes
//	int <decimal>              an integer with no string value (IV)
//	uint <decimal>             an unsigned integer above the IV range (UV)
//	num <16 hex digits>        a float with no string or integer value: its
//	                           IEEE 754 bits, big-endian
//	ref #<id> [bless "<class>" ]ARRAY <n>   then the n elements, one level deeper
//	ref #<id> [bless "<class>" ]HASH <n>    then for each key, sorted by its
//	                           characters: `key str|utf8 "<bytes>"` one level
//	                           deeper and the value two levels deeper
//	ref #<id> [bless "<class>" ]SCALAR      then the referenced scalar
//	ref #<id> [bless "<class>" ]REF         then the referenced reference
//	ref @<id>                  a referent described earlier (a shared
//	                           reference or a cycle)
//
// Inside quotes, printable ASCII other than '"' and '\' stands for itself
// and every other byte is \xNN. A string longer than 64 bytes is written
// `str|utf8 ~<length> md5:<hex> "<first 16 bytes>"...` to keep descriptions
// of large payloads small. Referent ids count *Array, *Hash and *Ref
// pointers (Perl: arrays, hashes and referenced scalars) in the order they
// are first met, depth first, from 0.
//
// How the Go model maps onto Perl's flags: Str is a string (POK), Int and
// a Uint that fits an IV are int (IOK), a larger Uint is uint (IOK+IVisUV),
// Float is num (NOK only). Bool is Perl's immortal PL_sv_yes/PL_sv_no,
// which are strings first: "1" and "". A *Ref whose Target is a *Ref,
// *Array or *Hash is a REF, otherwise a SCALAR. Perl's describe gives a ref
// to an immortal (\undef, which all share one address) a fresh id every
// time, as the Go model has no way to say "the same immortal".
func Describe(v perlcompat.Value) string {
	d := describer{ids: map[any]int{}}
	d.slot(v, 0)
	return d.b.String()
}

type describer struct {
	b    strings.Builder
	ids  map[any]int
	next int
}

func (d *describer) line(depth int, s string) {
	for i := 0; i < depth; i++ {
		d.b.WriteByte(' ')
	}
	d.b.WriteString(s)
	d.b.WriteByte('\n')
}

func (d *describer) slot(v perlcompat.Value, depth int) {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		d.line(depth, "undef")
	case perlcompat.Str:
		d.line(depth, strNode(x))
	case perlcompat.Int:
		d.line(depth, "int "+strconv.FormatInt(int64(x), 10))
	case perlcompat.Uint:
		if x <= math.MaxInt64 {
			d.line(depth, "int "+strconv.FormatUint(uint64(x), 10))
		} else {
			d.line(depth, "uint "+strconv.FormatUint(uint64(x), 10))
		}
	case perlcompat.Float:
		d.line(depth, fmt.Sprintf("num %016x", math.Float64bits(float64(x))))
	case perlcompat.Bool:
		if x {
			d.line(depth, `str "1"`)
		} else {
			d.line(depth, `str ""`)
		}
	case *perlcompat.Array:
		if d.seen(x, depth) {
			return
		}
		d.line(depth, d.head(x, x.Class)+"ARRAY "+strconv.Itoa(len(x.Elems)))
		for _, e := range x.Elems {
			d.slot(e, depth+1)
		}
	case *perlcompat.Hash:
		if d.seen(x, depth) {
			return
		}
		d.line(depth, d.head(x, x.Class)+"HASH "+strconv.Itoa(len(x.Entries)))
		ents := make([]perlcompat.Entry, len(x.Entries))
		copy(ents, x.Entries)
		keys := make([]string, len(ents))
		for i := range ents {
			keys[i] = ents[i].Key.Chars()
		}
		idx := make([]int, len(ents))
		for i := range idx {
			idx[i] = i
		}
		// Go compares strings bytewise, which on UTF-8 is code point
		// order: Perl's sort of the same keys.
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		for _, i := range idx {
			d.line(depth+1, "key "+strNode(ents[i].Key))
			d.slot(ents[i].Value, depth+2)
		}
	case *perlcompat.Ref:
		if d.seen(x, depth) {
			return
		}
		kind := "SCALAR"
		switch x.Target.(type) {
		case *perlcompat.Ref, *perlcompat.Array, *perlcompat.Hash:
			kind = "REF"
		}
		d.line(depth, d.head(x, x.Class)+kind)
		d.slot(x.Target, depth+1)
	default:
		d.line(depth, fmt.Sprintf("unknown %T", v))
	}
}

// seen writes a back-reference and reports true when p was met before;
// otherwise it gives p the next id.
func (d *describer) seen(p any, depth int) bool {
	if id, ok := d.ids[p]; ok {
		d.line(depth, "ref @"+strconv.Itoa(id))
		return true
	}
	d.ids[p] = d.next
	d.next++
	return false
}

func (d *describer) head(p any, class string) string {
	h := "ref #" + strconv.Itoa(d.ids[p]) + " "
	if class != "" {
		h += "bless " + quoteBytes(class) + " "
	}
	return h
}

// strNode describes a string scalar or a hash key. A UTF8 Str holds Perl's
// internal UTF-8 bytes, so its bytes are written unchanged.
func strNode(s perlcompat.Str) string {
	kind := "str "
	if s.UTF8 {
		kind = "utf8 "
	}
	return kind + strBody(s.S)
}

func strBody(s string) string {
	if len(s) <= 64 {
		return quoteBytes(s)
	}
	sum := md5.Sum([]byte(s))
	return "~" + strconv.Itoa(len(s)) + " md5:" + hex.EncodeToString(sum[:]) + " " + quoteBytes(s[:16]) + "..."
}

const hexDigits = "0123456789abcdef"

func quoteBytes(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	b.WriteByte('"')
	return b.String()
}
