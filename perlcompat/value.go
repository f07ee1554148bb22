package perlcompat

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Value is one Perl value as it sits in a variable, an array slot or a hash
// value. Its dynamic type is one of:
//
//	Undef        undef
//	Str          a string scalar (bytes, or characters when UTF8 is set)
//	Int, Uint    an integer scalar with no string value (IV, UV)
//	Float        a floating-point scalar with no string value (NV)
//	Bool         Perl's immortal true/false (PL_sv_yes / PL_sv_no)
//	*Array       a reference to an array (blessed when Class is set)
//	*Hash        a reference to a hash (blessed when Class is set)
//	*Ref         a reference to a scalar, or to another reference
//
// A nil Value is treated as undef everywhere in this module.
//
// Arrays and hashes can only sit in a slot through a reference in Perl, so a
// slot holding *Array means "a reference to this array". Two slots holding
// the same *Array, *Hash or *Ref pointer are two references to the same
// thing (Perl's shared references); a container that reaches itself is a
// cycle. Freezers keep both.
type Value interface {
	perlValue()
}

// Undef is Perl's undef. Perl does not tell an undef hash value from a
// missing key when it tests truth, which is what IKC does.
type Undef struct{}

// Str is a string scalar. When UTF8 is false S is a byte string: each byte
// is one character (Latin-1), as Perl stores strings without its UTF8 flag.
// When UTF8 is true S holds the UTF-8 encoding of a character string and
// Perl's UTF8 flag is on. "é" as the byte E9 and "é" as UTF-8 characters
// are equal in Perl but freeze differently; Str keeps them apart.
//
// A numeric string ("42", "3.14") stays a Str: that is how Perl and
// Storable carry numbers that were ever used as strings. Use AsInt,
// AsFloat and friends to read it as a number.
type Str struct {
	S    string
	UTF8 bool
}

// Int is an integer scalar without a string value (Perl IV).
type Int int64

// Uint is an unsigned integer scalar above the int64 range (Perl UV).
type Uint uint64

// Float is a floating-point scalar without a string value (Perl NV).
// Storable's nfreeze never carries one (it sends floats as strings), but
// native freeze images, Sereal and JSON do.
type Float float64

// Bool is one of Perl's immortal booleans: true is "1" and 1, false is ""
// and 0. Storable carries them as SV_YES/SV_NO (and newer releases with
// their own opcodes).
type Bool bool

// Array is a Perl array, reached through a reference.
type Array struct {
	// Class is the package the array is blessed into, or "".
	Class string
	Elems []Value
}

// Hash is a Perl hash, reached through a reference. Entries keep the order
// in which they were decoded or set; Perl's own order is random, so nothing
// should depend on it.
type Hash struct {
	// Class is the package the hash is blessed into, or "".
	Class   string
	Entries []Entry
}

// Entry is one key/value pair of a Hash. The key is a Str because Perl hash
// keys are strings with the same byte/character distinction: a key is
// either bytes or characters (UTF8). Keys are compared by their characters,
// as Perl does, so Str{"caf\xe9", false} and Str{"café", true} are one key.
type Entry struct {
	Key   Str
	Value Value
}

// Ref is a reference to a scalar (Target is a scalar Value) or to another
// reference (Target is a *Ref, *Array or *Hash): \"x" is &Ref{Target: Str{S: "x"}},
// and \[1] is &Ref{Target: &Array{...}}. Class is set when the referenced
// scalar is blessed (bless \$x, 'C').
type Ref struct {
	Class  string
	Target Value
}

func (Undef) perlValue()  {}
func (Str) perlValue()    {}
func (Int) perlValue()    {}
func (Uint) perlValue()   {}
func (Float) perlValue()  {}
func (Bool) perlValue()   {}
func (*Array) perlValue() {}
func (*Hash) perlValue()  {}
func (*Ref) perlValue()   {}

// Bytes returns a byte-string scalar (Perl's UTF8 flag off).
func Bytes(b []byte) Str { return Str{S: string(b)} }

// Text returns a character-string scalar from Go text (UTF-8). The UTF8
// flag is set only when s has non-ASCII characters, as a Perl program that
// decodes its input would see it. Invalid UTF-8 makes a byte string.
func Text(s string) Str {
	if IsASCII(s) || !utf8.ValidString(s) {
		return Str{S: s}
	}
	return Str{S: s, UTF8: true}
}

// BoxStr returns *p as a Value that refers to *p rather than to a copy:
// converting a Str to a Value the ordinary way allocates the copy. *p must
// not change afterwards. It lets code that builds many strings (a decoder,
// a specifier's hash form) keep them in one allocation.
func BoxStr(p *Str) Value {
	var box Value = Str{} // the Str type word; a zero value needs no allocation
	(*[2]unsafe.Pointer)(unsafe.Pointer(&box))[1] = unsafe.Pointer(p)
	return box
}

// BoxInt is BoxStr for an Int.
func BoxInt(p *Int) Value {
	var box Value = Int(0) // Go boxes small integers without allocating
	(*[2]unsafe.Pointer)(unsafe.Pointer(&box))[1] = unsafe.Pointer(p)
	return box
}

// NewArray returns an unblessed array of the given elements.
func NewArray(elems ...Value) *Array { return &Array{Elems: elems} }

// NewHash returns an empty unblessed hash.
func NewHash() *Hash { return &Hash{} }

// Len is the number of entries.
func (h *Hash) Len() int {
	if h == nil {
		return 0
	}
	return len(h.Entries)
}

// Index returns the position of key in Entries, or -1.
func (h *Hash) Index(key Str) int {
	if h == nil {
		return -1
	}
	for i := range h.Entries {
		if SameKey(h.Entries[i].Key, key) {
			return i
		}
	}
	return -1
}

// Lookup returns the value stored under the text key name, and whether it
// is present.
func (h *Hash) Lookup(name string) (Value, bool) {
	i := h.Index(Text(name))
	if i < 0 {
		return nil, false
	}
	return h.Entries[i].Value, true
}

// Get returns the value stored under the text key name, or nil (undef).
func (h *Hash) Get(name string) Value {
	v, _ := h.Lookup(name)
	return v
}

// Set stores v under the text key name, replacing any value already there.
func (h *Hash) Set(name string, v Value) *Hash {
	h.SetKey(Text(name), v)
	return h
}

// SetKey stores v under key, replacing any value already there (the key
// keeps its first spelling, as in Perl).
func (h *Hash) SetKey(key Str, v Value) {
	if i := h.Index(key); i >= 0 {
		h.Entries[i].Value = v
		return
	}
	h.Entries = append(h.Entries, Entry{Key: key, Value: v})
}

// Delete removes the text key name.
func (h *Hash) Delete(name string) {
	if i := h.Index(Text(name)); i >= 0 {
		h.Entries = append(h.Entries[:i], h.Entries[i+1:]...)
	}
}

// Chars returns the characters of s as Go text: a byte string is read as
// Latin-1, a UTF8 string as UTF-8.
func (s Str) Chars() string {
	if s.UTF8 || IsASCII(s.S) {
		return s.S
	}
	r := make([]rune, len(s.S))
	for i := 0; i < len(s.S); i++ {
		r[i] = rune(s.S[i])
	}
	return string(r)
}

// Downgrade returns the Latin-1 bytes of s and true when every character
// fits in a byte (always, for a byte string), as Perl's utf8::downgrade.
func (s Str) Downgrade() (string, bool) {
	if !s.UTF8 || IsASCII(s.S) {
		return s.S, true
	}
	b := make([]byte, 0, len(s.S))
	for _, r := range s.S {
		if r > 0xFF {
			return "", false
		}
		b = append(b, byte(r))
	}
	return string(b), true
}

// SameKey reports whether a and b name the same Perl hash key, that is
// whether they hold the same characters whatever their UTF8 flags.
func SameKey(a, b Str) bool {
	if a.UTF8 == b.UTF8 {
		return a.S == b.S
	}
	if IsASCII(a.S) && IsASCII(b.S) {
		return a.S == b.S
	}
	x, ok1 := a.Downgrade()
	y, ok2 := b.Downgrade()
	return ok1 && ok2 && x == y
}

// IsASCII reports whether s has no byte of 0x80 or more. Every hash key
// and specifier part goes through it: it checks eight bytes at a time.
func IsASCII(s string) bool {
	i := 0
	if len(s) >= 8 {
		b := unsafe.Slice(unsafe.StringData(s), len(s))
		for ; i+8 <= len(b); i += 8 {
			if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// IsUndef reports whether v is undef (or nil).
func IsUndef(v Value) bool {
	switch v.(type) {
	case nil, Undef:
		return true
	}
	return false
}

// Truth reports whether Perl would find v true: not undef, "", "0", 0.
func Truth(v Value) bool {
	switch x := v.(type) {
	case nil, Undef:
		return false
	case Str:
		return x.S != "" && x.S != "0"
	case Int:
		return x != 0
	case Uint:
		return x != 0
	case Float:
		return x != 0
	case Bool:
		return bool(x)
	}
	return true // references are always true
}

// StringOf returns v as Perl would stringify a scalar: undef is "", numbers
// in Perl's own format, strings as their characters (Go text). References
// render like Perl's "HASH(0x...)" without an address. ok is false for
// references.
func StringOf(v Value) (s string, ok bool) {
	switch x := v.(type) {
	case nil, Undef:
		return "", true
	case Str:
		return x.Chars(), true
	case Int:
		return strconv.FormatInt(int64(x), 10), true
	case Uint:
		return strconv.FormatUint(uint64(x), 10), true
	case Float:
		return FormatFloat(float64(x)), true
	case Bool:
		if x {
			return "1", true
		}
		return "", true
	case *Array:
		return "ARRAY", false
	case *Hash:
		return "HASH", false
	case *Ref:
		return "SCALAR", false
	}
	return "", false
}

// FormatFloat formats f the way Perl stringifies a number (%.15g, with
// Perl's "Inf"/"NaN" spellings).
func FormatFloat(f float64) string {
	switch {
	case f != f:
		return "NaN"
	case f > 1.7976931348623157e308:
		return "Inf"
	case f < -1.7976931348623157e308:
		return "-Inf"
	}
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	// Go writes e+06 as e+06 already; Perl writes at least two exponent digits too.
	return s
}
