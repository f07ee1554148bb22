package freezethaw

import (
	"fmt"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/kind"
)

// maxNumberDigits is how many digits FreezeThaw's thaw reads in a length
// or count: enough for 2**64 (its max_strlen_l on 64-bit Perl).
const maxNumberDigits = 20

// Decoder reads FreezeThaw frames. The zero value is ready to use.
type Decoder struct {
	Limits Limits
	// BytesOnly turns off the second reading that counts UTF-8 characters
	// (see the package doc): Thaw then fails exactly where Perl fails.
	BytesOnly bool
	// AllowClass, when set, is asked about every class a frame blesses
	// into; false makes Thaw fail with ErrBadClass.
	AllowClass func(class string) bool
}

// Thaw decodes one payload and returns the single value it carries.
func (d Decoder) Thaw(payload []byte) (perlcompat.Value, error) {
	lim := d.Limits.withDefaults()
	if len(payload) > lim.MaxBytes {
		return nil, &DecodeError{Offset: 0, Err: ErrTooLarge,
			Detail: fmt.Sprintf("payload of %d bytes, limit %d", len(payload), lim.MaxBytes)}
	}
	st := decodeState{buf: payload, lim: lim, allow: d.AllowClass}
	v, err := st.frame()
	if err == nil || d.BytesOnly || !needsCharMode(payload) {
		return v, err
	}
	st2 := decodeState{buf: payload, lim: lim, allow: d.AllowClass, chars: true}
	v2, err2 := st2.frame()
	if err2 == nil {
		return v2, nil
	}
	// Both failed: report the reading that got further, Perl's on a tie.
	if e1, ok := err.(*DecodeError); ok {
		if e2, ok := err2.(*DecodeError); ok && e2.Offset > e1.Offset {
			return nil, e2
		}
	}
	return nil, err
}

// needsCharMode reports whether a failed frame could have been written by
// a Perl whose frozen text was a character string: valid UTF-8 with at
// least one multi-byte sequence.
func needsCharMode(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return utf8.Valid(p)
		}
	}
	return false
}

type decodeState struct {
	buf   []byte
	pos   int
	chars bool // lengths count UTF-8 characters, not bytes
	lim   Limits
	allow func(string) bool
	elems int
	pkgs  map[uint64]string
	// shared holds the placeholders declared after "!", which "<N|" names.
	shared   []perlcompat.Value
	declared bool
}

func (s *decodeState) fail(off int, err error, format string, args ...any) error {
	return &DecodeError{Offset: off, Err: err, Detail: fmt.Sprintf(format, args...), CharMode: s.chars}
}

func (s *decodeState) frame() (perlcompat.Value, error) {
	if len(s.buf) >= len(Signature) && string(s.buf[:len(Signature)]) == Signature {
		s.pos = len(Signature)
	} // FreezeThaw's thaw goes on without the signature (it only warns).
	if s.pos < len(s.buf) && s.buf[s.pos] == '?' {
		return nil, s.fail(s.pos, ErrUnsupported, "safeFreeze lock: data only thawable in the Perl process that froze it")
	}
	if s.pos < len(s.buf) && s.buf[s.pos] == '!' {
		if err := s.sharedTable(); err != nil {
			return nil, err
		}
	}
	start := s.pos
	root, err := s.item(0)
	if err != nil {
		return nil, err
	}
	if s.pos != len(s.buf) {
		return nil, s.fail(s.pos, ErrTrailing, "%d bytes after the root item", len(s.buf)-s.pos)
	}
	arr, ok := root.(*perlcompat.Array)
	if !ok {
		return nil, s.fail(start, ErrSyntax, "root item is %s, FreezeThaw's thaw needs an array", kind.Of(root))
	}
	if len(arr.Elems) != 1 {
		return nil, s.fail(start, ErrNotOneValue, "root array holds %d values", len(arr.Elems))
	}
	return arr.Elems[0], nil
}

// sharedTable reads "!<last>|", the placeholders, then their contents,
// which it copies into the placeholders (FreezeThaw's copyContents) so
// every "<N|" ends up pointing at the filled object.
func (s *decodeState) sharedTable() error {
	s.pos++
	numOff := s.pos
	last, err := s.number()
	if err != nil {
		return err
	}
	// Every placeholder and every content takes at least 2 bytes.
	if last >= uint64(s.lim.MaxElements) {
		return s.fail(numOff, ErrTooManyElements, "%d shared references declared, limit %d", last+1, s.lim.MaxElements)
	}
	if last >= uint64(len(s.buf)-s.pos)/4 {
		return s.fail(numOff, ErrTruncated, "%d shared references declared, %d bytes left", last+1, len(s.buf)-s.pos)
	}
	n := int(last) + 1
	s.declared = true
	s.shared = make([]perlcompat.Value, 0, n)
	for i := 0; i < n; i++ {
		off := s.pos
		if s.pos < len(s.buf) && s.buf[s.pos] == '{' {
			// Allocate: a class, then the empty object, unblessed for now.
			s.pos++
			if _, err := s.pkg(); err != nil {
				return err
			}
		}
		v, err := s.item(1)
		if err != nil {
			return err
		}
		switch v.(type) {
		case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
		default:
			return s.fail(off, ErrSyntax, "shared placeholder %d is %s, not a reference", i, kind.Of(v))
		}
		s.shared = append(s.shared, v)
	}
	for i := 0; i < n; i++ {
		off := s.pos
		class := ""
		blessed := false
		if s.pos < len(s.buf) && s.buf[s.pos] == '}' {
			// Instantiate: class, then the object's contents.
			s.pos++
			c, err := s.pkg()
			if err != nil {
				return err
			}
			class, blessed = c, true
		}
		v, err := s.item(1)
		if err != nil {
			return err
		}
		if blessed {
			if err := s.bless(off, v, class); err != nil {
				return err
			}
		}
		if err := copyContents(s.shared[i], v); err != nil {
			return s.fail(off, ErrSyntax, "shared reference %d: %v", i, err)
		}
	}
	return nil
}

// copyContents moves what from holds into to, as FreezeThaw::copyContents
// does, class included. A non-reference from is ignored, as Perl does.
func copyContents(to, from perlcompat.Value) error {
	switch f := from.(type) {
	case *perlcompat.Array:
		t, ok := to.(*perlcompat.Array)
		if !ok {
			return fmt.Errorf("contents are an array, placeholder is %s", kind.Of(to))
		}
		t.Elems, t.Class = f.Elems, f.Class
	case *perlcompat.Hash:
		t, ok := to.(*perlcompat.Hash)
		if !ok {
			return fmt.Errorf("contents are a hash, placeholder is %s", kind.Of(to))
		}
		t.Entries, t.Class = f.Entries, f.Class
	case *perlcompat.Ref:
		t, ok := to.(*perlcompat.Ref)
		if !ok {
			return fmt.Errorf("contents are a scalar reference, placeholder is %s", kind.Of(to))
		}
		t.Target, t.Class = f.Target, f.Class
	}
	return nil
}

// number reads "<digits>|" as FreezeThaw's thawNumber.
func (s *decodeState) number() (uint64, error) {
	start := s.pos
	var n uint64
	i := s.pos
	for i < len(s.buf) && s.buf[i] >= '0' && s.buf[i] <= '9' {
		if i-start >= maxNumberDigits {
			return 0, s.fail(start, ErrSyntax, "number longer than %d digits", maxNumberDigits)
		}
		d := uint64(s.buf[i] - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, s.fail(start, ErrSyntax, "number overflows 64 bits")
		}
		n = n*10 + d
		i++
	}
	if i == start {
		if i >= len(s.buf) {
			return 0, s.fail(i, ErrTruncated, "expected a number")
		}
		return 0, s.fail(i, ErrSyntax, "expected a digit, got %q", s.buf[i])
	}
	if i >= len(s.buf) {
		return 0, s.fail(i, ErrTruncated, "expected '|' after number")
	}
	if s.buf[i] != '|' {
		return 0, s.fail(i, ErrSyntax, "expected '|' after number, got %q", s.buf[i])
	}
	s.pos = i + 1
	return n, nil
}

// str reads "$<len>|<chars>" at s.pos (which holds '$').
func (s *decodeState) str() (perlcompat.Str, error) {
	start := s.pos
	s.pos++
	n, err := s.number()
	if err != nil {
		return perlcompat.Str{}, err
	}
	rest := s.buf[s.pos:]
	if !s.chars {
		if n > uint64(len(rest)) {
			return perlcompat.Str{}, s.fail(start, ErrTruncated, "string of %d bytes, %d left", n, len(rest))
		}
		v := perlcompat.Str{S: string(rest[:n])}
		s.pos += int(n)
		return v, nil
	}
	if n > uint64(len(rest)) { // a character takes at least one byte
		return perlcompat.Str{}, s.fail(start, ErrTruncated, "string of %d characters, %d bytes left", n, len(rest))
	}
	end, wide := 0, false
	for k := uint64(0); k < n; k++ {
		if end >= len(rest) {
			return perlcompat.Str{}, s.fail(start, ErrTruncated, "string of %d characters, only %d left", n, k)
		}
		if rest[end] < utf8.RuneSelf {
			end++
			continue
		}
		_, size := utf8.DecodeRune(rest[end:])
		end += size
		wide = true
	}
	s.pos += end
	return perlcompat.Str{S: string(rest[:end]), UTF8: wide}, nil
}

// pkg reads a class after '>', '{' or '}': ">N|$<len>|Name" the first
// time, ")N|" after.
func (s *decodeState) pkg() (string, error) {
	off := s.pos
	if s.pos >= len(s.buf) {
		return "", s.fail(off, ErrTruncated, "expected a class")
	}
	key := s.buf[s.pos]
	if key != '>' && key != ')' {
		return "", s.fail(off, ErrSyntax, "expected '>' or ')' before a class number, got %q", key)
	}
	s.pos++
	id, err := s.number()
	if err != nil {
		return "", err
	}
	if key == ')' {
		name, ok := s.pkgs[id]
		if !ok {
			return "", s.fail(off, ErrBadClass, "class number %d not defined", id)
		}
		return name, nil
	}
	if s.pos >= len(s.buf) || s.buf[s.pos] != '$' {
		return "", s.fail(s.pos, ErrSyntax, "expected the class name as a string")
	}
	name, err := s.str()
	if err != nil {
		return "", err
	}
	if name.S == "" {
		return "", s.fail(off, ErrBadClass, "empty class name")
	}
	if s.allow != nil && !s.allow(name.Chars()) {
		return "", s.fail(off, ErrBadClass, "class %q not allowed", name.Chars())
	}
	if s.pkgs == nil {
		s.pkgs = make(map[uint64]string)
	}
	if len(s.pkgs) >= s.lim.MaxElements {
		return "", s.fail(off, ErrTooManyElements, "too many classes")
	}
	s.pkgs[id] = name.Chars()
	return name.Chars(), nil
}

func (s *decodeState) bless(off int, v perlcompat.Value, class string) error {
	switch x := v.(type) {
	case *perlcompat.Array:
		x.Class = class
	case *perlcompat.Hash:
		x.Class = class
	case *perlcompat.Ref:
		x.Class = class
	default:
		return s.fail(off, ErrBadClass, "cannot bless %s into %q", kind.Of(v), class)
	}
	return nil
}

// item reads one item. depth counts the containers around it.
func (s *decodeState) item(depth int) (perlcompat.Value, error) {
	off := s.pos
	if depth > s.lim.MaxDepth {
		return nil, s.fail(off, ErrTooDeep, "deeper than %d", s.lim.MaxDepth)
	}
	if s.pos >= len(s.buf) {
		return nil, s.fail(off, ErrTruncated, "expected an item")
	}
	s.elems++
	if s.elems > s.lim.MaxElements {
		return nil, s.fail(off, ErrTooManyElements, "more than %d items", s.lim.MaxElements)
	}
	switch c := s.buf[s.pos]; c {
	case '$':
		v, err := s.str()
		if err != nil {
			return nil, err
		}
		return v, nil
	case '_':
		s.pos++
		return perlcompat.Undef{}, nil
	case '@', '%':
		s.pos++
		return s.container(off, c, depth)
	case '\\':
		s.pos++
		t, err := s.item(depth + 1)
		if err != nil {
			return nil, err
		}
		return &perlcompat.Ref{Target: t}, nil
	case '<':
		s.pos++
		n, err := s.number()
		if err != nil {
			return nil, err
		}
		if !s.declared {
			return nil, s.fail(off, ErrBadBackref, "<%d| in a frame without shared references", n)
		}
		if n >= uint64(len(s.shared)) {
			return nil, s.fail(off, ErrBadBackref, "<%d| but only %d shared references", n, len(s.shared))
		}
		return s.shared[n], nil
	case '>', '{':
		// '>' is a blessed object (Class->Thaw); '{' is Class->Allocate,
		// which by default gives the object unblessed.
		s.pos++
		class, err := s.pkg()
		if err != nil {
			return nil, err
		}
		v, err := s.item(depth + 1)
		if err != nil {
			return nil, err
		}
		if c == '>' {
			if err := s.bless(off, v, class); err != nil {
				return nil, err
			}
		}
		return v, nil
	case '}':
		return nil, s.fail(off, ErrSyntax, "'}' (instantiate) outside the shared-reference table")
	case '&':
		return nil, s.fail(off, ErrUnsupported, "code reference")
	case '*':
		return nil, s.fail(off, ErrUnsupported, "glob")
	case '/':
		return nil, s.fail(off, ErrUnsupported, "regexp")
	case '?':
		return nil, s.fail(off, ErrUnsupported, "saved data of safeFreeze")
	default:
		return nil, s.fail(off, ErrSyntax, "do not know how to thaw data with code %q", c)
	}
}

func (s *decodeState) container(off int, c byte, depth int) (perlcompat.Value, error) {
	n, err := s.number()
	if err != nil {
		return nil, err
	}
	// Each item takes at least one byte, so n is bounded by what is left.
	if n > uint64(len(s.buf)-s.pos) {
		return nil, s.fail(off, ErrTruncated, "%d items declared, %d bytes left", n, len(s.buf)-s.pos)
	}
	if n > uint64(s.lim.MaxElements-s.elems) {
		return nil, s.fail(off, ErrTooManyElements, "%d items declared, limit %d", n, s.lim.MaxElements)
	}
	if c == '%' && n%2 != 0 {
		return nil, s.fail(off, ErrSyntax, "hash with an odd number (%d) of keys and values", n)
	}
	items := make([]perlcompat.Value, 0, n)
	for i := uint64(0); i < n; i++ {
		v, err := s.item(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	if c == '@' {
		return &perlcompat.Array{Elems: items}, nil
	}
	half := len(items) / 2
	h := &perlcompat.Hash{Entries: make([]perlcompat.Entry, 0, half)}
	var index map[string]int // by characters, as Perl compares keys
	if half > 8 {
		index = make(map[string]int, half)
	}
	for i := 0; i < half; i++ {
		k, ok := items[i].(perlcompat.Str)
		if !ok {
			return nil, s.fail(off, ErrBadKey, "key %d is %s", i, kind.Of(items[i]))
		}
		val := items[half+i]
		if index != nil {
			ck := k.Chars()
			if j, dup := index[ck]; dup {
				h.Entries[j].Value = val
				continue
			}
			index[ck] = len(h.Entries)
			h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: val})
			continue
		}
		h.SetKey(k, val)
	}
	return h, nil
}
