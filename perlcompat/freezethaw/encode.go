package freezethaw

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Encoder writes FreezeThaw frames. The zero value is ready to use.
//
// The output is what FreezeThaw::freeze($v) writes for the same data, byte
// for byte (hash keys sorted, the same shared-reference numbering), so
// frames can be compared with Perl's. Every scalar becomes a string:
// Int, Uint and Float in Perl's number format, Bool as "1" or "".
type Encoder struct {
	Limits Limits
}

// Freeze appends the frame for v, as FreezeThaw::freeze($v).
func (e Encoder) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	st := encodeState{lim: e.Limits.withDefaults(), count: map[any]int{}, addr: map[any]int{}}
	root := &perlcompat.Array{Elems: []perlcompat.Value{v}}
	if err := st.countPass(root, "$v", 0); err != nil {
		return dst, err
	}
	start := len(dst)
	st.buf = append(dst, Signature...)
	if len(st.multiple) > 0 {
		st.second = true
		st.buf = append(st.buf, '!')
		st.buf = strconv.AppendInt(st.buf, int64(len(st.multiple)-1), 10)
		st.buf = append(st.buf, '|')
		for _, m := range st.multiple {
			if c := class(m); c != "" {
				st.buf = append(st.buf, '{')
				st.pkg(c)
			}
			switch m.(type) {
			case *perlcompat.Array:
				st.buf = append(st.buf, "@0|"...)
			case *perlcompat.Hash:
				st.buf = append(st.buf, "%0|"...)
			case *perlcompat.Ref:
				st.buf = append(st.buf, `\_`...)
			}
		}
		for _, m := range st.multiple {
			if c := class(m); c != "" {
				st.buf = append(st.buf, '}')
				st.pkg(c)
			}
			st.contents(m)
		}
	}
	st.contents(root)
	if len(st.buf)-start > st.lim.MaxBytes {
		return dst, &EncodeError{Path: "$v", Err: ErrTooLarge,
			Detail: fmt.Sprintf("%d bytes, limit %d", len(st.buf)-start, st.lim.MaxBytes)}
	}
	return st.buf, nil
}

type encodeState struct {
	lim      Limits
	buf      []byte
	count    map[any]int // occurrences of each reference in the first pass
	addr     map[any]int // index of each shared reference in multiple
	multiple []perlcompat.Value
	second   bool
	pkgs     map[string]int
	bytes    int // running estimate of the output size, for MaxBytes
}

func class(v perlcompat.Value) string {
	switch x := v.(type) {
	case *perlcompat.Array:
		return x.Class
	case *perlcompat.Hash:
		return x.Class
	case *perlcompat.Ref:
		return x.Class
	}
	return ""
}

// isNilRef reports a typed nil pointer, which the encoder writes as undef.
func isNilRef(v perlcompat.Value) bool {
	switch x := v.(type) {
	case *perlcompat.Array:
		return x == nil
	case *perlcompat.Hash:
		return x == nil
	case *perlcompat.Ref:
		return x == nil
	}
	return false
}

// countPass is FreezeThaw's first pass: it counts how often each reference
// occurs and lists the shared ones in the order of their second occurrence,
// which is the order FreezeThaw numbers them. It also checks everything
// the second pass will write, so that pass cannot fail.
func (s *encodeState) countPass(v perlcompat.Value, path string, depth int) error {
	if depth > s.lim.MaxDepth {
		return &EncodeError{Path: path, Err: ErrTooDeep, Detail: fmt.Sprintf("deeper than %d", s.lim.MaxDepth)}
	}
	if isNilRef(v) {
		return nil
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef, perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
		s.bytes += 24
	case perlcompat.Str:
		if err := checkText(x, path); err != nil {
			return err
		}
		s.bytes += len(x.S) + 22
	case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
		if n, seen := s.count[x]; seen {
			if _, ok := s.addr[x]; !ok {
				s.addr[x] = len(s.multiple)
				s.multiple = append(s.multiple, x)
			}
			s.count[x] = n + 1
			return nil
		}
		s.count[x] = 1
		if c := class(x); c != "" {
			if err := checkText(perlcompat.Str{S: c, UTF8: true}, path+" class"); err != nil {
				return err
			}
			s.bytes += len(c) + 48
		}
		s.bytes += 24
		if s.bytes > s.lim.MaxBytes {
			return &EncodeError{Path: path, Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", s.lim.MaxBytes)}
		}
		switch x := x.(type) {
		case *perlcompat.Array:
			for i, e := range x.Elems {
				if err := s.countPass(e, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
		case *perlcompat.Hash:
			for _, i := range sortedKeys(x) {
				ent := x.Entries[i]
				kp := path + "{" + strconv.Quote(ent.Key.Chars()) + "}"
				if err := checkText(ent.Key, kp+" key"); err != nil {
					return err
				}
				s.bytes += len(ent.Key.S) + 22
				if err := s.countPass(ent.Value, kp, depth+1); err != nil {
					return err
				}
			}
		case *perlcompat.Ref:
			return s.countPass(x.Target, "${"+path+"}", depth+1)
		}
	default:
		return &EncodeError{Path: path, Err: ErrUnsupportedValue, Detail: fmt.Sprintf("%T", v)}
	}
	if s.bytes > s.lim.MaxBytes {
		return &EncodeError{Path: path, Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", s.lim.MaxBytes)}
	}
	return nil
}

// checkText refuses character strings with non-ASCII characters: Perl's
// FreezeThaw would count them in characters while the wire carries their
// UTF-8 bytes, and the receiving Perl dies (capture g2b).
func checkText(s perlcompat.Str, path string) error {
	if !s.UTF8 {
		return nil
	}
	for i := 0; i < len(s.S); i++ {
		if s.S[i] >= 0x80 {
			return &EncodeError{Path: path, Err: ErrNonASCIIText,
				Detail: "encode the text to bytes (perlcompat.Str with UTF8 false) if the receiver expects bytes"}
		}
	}
	return nil
}

// sortedKeys returns the entry indexes in FreezeThaw's order: Perl's sort
// of the keys, which compares characters (here: ASCII or bytes).
func sortedKeys(h *perlcompat.Hash) []int {
	idx := make([]int, len(h.Entries))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return h.Entries[idx[a]].Key.S < h.Entries[idx[b]].Key.S })
	return idx
}

func (s *encodeState) str(b string) {
	s.buf = append(s.buf, '$')
	s.buf = strconv.AppendInt(s.buf, int64(len(b)), 10)
	s.buf = append(s.buf, '|')
	s.buf = append(s.buf, b...)
}

func (s *encodeState) pkg(c string) {
	if id, ok := s.pkgs[c]; ok {
		s.buf = append(s.buf, ')')
		s.buf = strconv.AppendInt(s.buf, int64(id), 10)
		s.buf = append(s.buf, '|')
		return
	}
	if s.pkgs == nil {
		s.pkgs = map[string]int{}
	}
	id := len(s.pkgs)
	s.pkgs[c] = id
	s.buf = append(s.buf, '>')
	s.buf = strconv.AppendInt(s.buf, int64(id), 10)
	s.buf = append(s.buf, '|')
	s.str(c)
}

// scalar writes one slot: FreezeThaw's freezeScalar.
func (s *encodeState) scalar(v perlcompat.Value) {
	if isNilRef(v) {
		s.buf = append(s.buf, '_')
		return
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		s.buf = append(s.buf, '_')
	case perlcompat.Str:
		s.str(x.S)
	case perlcompat.Int, perlcompat.Uint, perlcompat.Float, perlcompat.Bool:
		str, _ := perlcompat.StringOf(x)
		s.str(str)
	case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
		if s.second && s.count[x] > 1 {
			s.buf = append(s.buf, '<')
			s.buf = strconv.AppendInt(s.buf, int64(s.addr[x]), 10)
			s.buf = append(s.buf, '|')
			return
		}
		if c := class(x); c != "" {
			s.buf = append(s.buf, '>')
			s.pkg(c)
		}
		s.contents(x)
	}
}

// contents writes a container's own data, without the back-reference
// check or the class.
func (s *encodeState) contents(v perlcompat.Value) {
	switch x := v.(type) {
	case *perlcompat.Array:
		s.buf = append(s.buf, '@')
		s.buf = strconv.AppendInt(s.buf, int64(len(x.Elems)), 10)
		s.buf = append(s.buf, '|')
		for _, e := range x.Elems {
			s.scalar(e)
		}
	case *perlcompat.Hash:
		idx := sortedKeys(x)
		s.buf = append(s.buf, '%')
		s.buf = strconv.AppendInt(s.buf, int64(2*len(idx)), 10)
		s.buf = append(s.buf, '|')
		for _, i := range idx {
			s.str(x.Entries[i].Key.S)
		}
		for _, i := range idx {
			s.scalar(x.Entries[i].Value)
		}
	case *perlcompat.Ref:
		s.buf = append(s.buf, '\\')
		s.scalar(x.Target)
	}
}
