package dumper

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Encoder writes Data::Dumper text in the style of
// POE::Component::IKC::Freezer (Purity=1, Indent=0). The zero value is
// ready to use.
//
// The first occurrence of a reference is written in place; later ones are
// do{my $o} placeholders plus a fix-up statement after the data, as
// Data::Dumper's Purity mode does, so shared references and cycles survive
// Perl's eval. Scalars follow Data::Dumper's XS rules: integers of up to
// 10 characters bare (Perl numbers), longer ones and floats quoted (Perl
// strings, as Data::Dumper does for 64-bit safety), byte strings in single
// quotes, character strings with non-ASCII characters in double quotes
// with \x{...} escapes, Bool as 1 or ”.
type Encoder struct {
	Limits Limits
}

type encodeState struct {
	lim    Limits
	buf    []byte
	fixups []byte
	seen   map[any]string // path of each reference's first occurrence
}

// Freeze appends the text for v.
func (e Encoder) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	st := encodeState{lim: e.Limits.withDefaults(), buf: dst, seen: map[any]string{}}
	st.buf = append(st.buf, VarName...)
	st.buf = append(st.buf, " = "...)
	if err := st.value(v, VarName, 0); err != nil {
		return dst, err
	}
	st.buf = append(st.buf, ';')
	st.buf = append(st.buf, st.fixups...)
	if len(st.buf)-len(dst) > st.lim.MaxBytes {
		return dst, &EncodeError{Path: "$VAR1", Err: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(st.buf)-len(dst), st.lim.MaxBytes)}
	}
	return st.buf, nil
}

func (s *encodeState) tooLarge(path string) error {
	if len(s.buf)+len(s.fixups) > s.lim.MaxBytes+len(VarName)+8 {
		return &EncodeError{Path: path, Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", s.lim.MaxBytes)}
	}
	return nil
}

func (s *encodeState) value(v perlcompat.Value, path string, depth int) error {
	if depth > s.lim.MaxDepth {
		return &EncodeError{Path: path, Err: ErrTooDeep, Detail: fmt.Sprintf("deeper than %d", s.lim.MaxDepth)}
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		s.buf = append(s.buf, "undef"...)
	case perlcompat.Str:
		var err error
		if s.buf, err = appendQuoted(s.buf, x, path); err != nil {
			return err
		}
	case perlcompat.Int:
		s.number(strconv.FormatInt(int64(x), 10))
	case perlcompat.Uint:
		s.number(strconv.FormatUint(uint64(x), 10))
	case perlcompat.Float:
		s.buf, _ = appendQuoted(s.buf, perlcompat.Str{S: perlcompat.FormatFloat(float64(x))}, path)
	case perlcompat.Bool:
		if x {
			s.buf = append(s.buf, '1')
		} else {
			s.buf = append(s.buf, "''"...)
		}
	case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
		if isNilRef(x) {
			s.buf = append(s.buf, "undef"...)
			return nil
		}
		if first, ok := s.seen[x]; ok {
			s.buf = append(s.buf, "do{my $o}"...)
			s.fixups = append(s.fixups, path...)
			s.fixups = append(s.fixups, " = "...)
			s.fixups = append(s.fixups, first...)
			s.fixups = append(s.fixups, ';')
			return s.tooLarge(path)
		}
		s.seen[x] = path
		if err := s.tooLarge(path); err != nil {
			return err
		}
		return s.container(x, path, depth)
	default:
		return &EncodeError{Path: path, Err: ErrUnsupportedValue, Detail: fmt.Sprintf("%T", v)}
	}
	return nil
}

func (s *encodeState) container(v perlcompat.Value, path string, depth int) error {
	class := ""
	switch x := v.(type) {
	case *perlcompat.Array:
		class = x.Class
	case *perlcompat.Hash:
		class = x.Class
	case *perlcompat.Ref:
		class = x.Class
	}
	if class != "" {
		s.buf = append(s.buf, "bless( "...)
	}
	switch x := v.(type) {
	case *perlcompat.Array:
		s.buf = append(s.buf, '[')
		for i, e := range x.Elems {
			if i > 0 {
				s.buf = append(s.buf, ',')
			}
			if err := s.value(e, path+"->["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, ']')
	case *perlcompat.Hash:
		s.buf = append(s.buf, '{')
		for i, e := range x.Entries {
			if i > 0 {
				s.buf = append(s.buf, ',')
			}
			key, err := appendQuoted(nil, e.Key, path+" key")
			if err != nil {
				return err
			}
			s.buf = append(s.buf, key...)
			s.buf = append(s.buf, " => "...)
			if err := s.value(e.Value, path+"->{"+string(key)+"}", depth+1); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, '}')
	case *perlcompat.Ref:
		// \EXPR; blessed ones as do{\(my $o = EXPR)} so that the referent
		// is a fresh variable Perl can bless (and a fix-up can fill).
		if class != "" {
			s.buf = append(s.buf, `do{\(my $o = `...)
		} else if perlcompat.IsUndef(x.Target) {
			// Not \undef: in Perl every \undef is the same read-only scalar.
			s.buf = append(s.buf, `\do{my $o}`...)
			return nil
		} else {
			s.buf = append(s.buf, '\\')
		}
		if err := s.value(x.Target, "${"+path+"}", depth+1); err != nil {
			return err
		}
		if class != "" {
			s.buf = append(s.buf, ")}"...)
		}
	}
	if class != "" {
		s.buf = append(s.buf, ", "...)
		var err error
		if s.buf, err = appendQuoted(s.buf, perlcompat.Text(class), path+" class"); err != nil {
			return err
		}
		s.buf = append(s.buf, " )"...)
	}
	return nil
}

// number writes an integer bare when Data::Dumper would (10 characters at
// most), else quoted.
func (s *encodeState) number(t string) {
	if len(t) <= 10 {
		s.buf = append(s.buf, t...)
		return
	}
	s.buf = append(s.buf, '\'')
	s.buf = append(s.buf, t...)
	s.buf = append(s.buf, '\'')
}

// appendQuoted writes a Perl string literal that evals to the same
// characters: single quotes unless the string holds non-ASCII characters,
// then double quotes with \x{...} escapes.
func appendQuoted(b []byte, s perlcompat.Str, path string) ([]byte, error) {
	if !s.UTF8 || perlcompat.IsASCII(s.S) {
		b = append(b, '\'')
		for i := 0; i < len(s.S); i++ {
			if c := s.S[i]; c == '\\' || c == '\'' {
				b = append(b, '\\')
			}
			b = append(b, s.S[i])
		}
		return append(b, '\''), nil
	}
	if !utf8.ValidString(s.S) {
		return b, &EncodeError{Path: path, Err: ErrInvalidUTF8}
	}
	b = append(b, '"')
	for _, r := range s.S {
		switch {
		case r == '\\' || r == '"' || r == '$' || r == '@':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r >= 0x7f:
			b = append(b, `\x{`...)
			b = strconv.AppendInt(b, int64(r), 16)
			b = append(b, '}')
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"'), nil
}

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
