package dumper

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/kind"
)

// Decoder parses Data::Dumper text. The zero value is ready to use.
type Decoder struct {
	Limits Limits
	// AllowClass, when set, is asked about every class the text blesses
	// into; false makes Thaw fail with ErrBadBless.
	AllowClass func(class string) bool
}

// Thaw parses one frame and returns the value Perl's eval would leave in
// VarName. It never evaluates code: see the package doc.
func (d Decoder) Thaw(text []byte) (perlcompat.Value, error) {
	p := parser{src: text, lim: d.Limits.withDefaults(), allow: d.AllowClass}
	if len(text) > p.lim.MaxBytes {
		return nil, p.fail(0, ErrTooLarge, "%d bytes, limit %d", len(text), p.lim.MaxBytes)
	}
	return p.program()
}

var varName = []byte(VarName)

type parser struct {
	src   []byte
	pos   int
	lim   Limits
	allow func(string) bool
	elems int
	depth int

	root     perlcompat.Value
	assigned bool
	// svUndef is what every \undef refers to: Perl's one read-only undef
	// (PL_sv_undef), so two \undef are references to the same scalar.
	svUndef *perlcompat.Ref
	// index maps a hash to its keys (by characters) once a fix-up assigns
	// into it, so many fix-ups on one big hash stay linear.
	index map[*perlcompat.Hash]map[string]int
}

func (p *parser) fail(off int, err error, format string, args ...any) error {
	line, col := 1, 1
	for i := 0; i < off && i < len(p.src); i++ {
		if p.src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Column: col, Err: err, Detail: fmt.Sprintf(format, args...)}
}

func (p *parser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) eat(s string) bool {
	if bytes.HasPrefix(p.src[p.pos:], []byte(s)) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) expect(s string) error {
	p.ws()
	if p.eat(s) {
		return nil
	}
	if p.pos >= len(p.src) {
		return p.fail(p.pos, ErrSyntax, "expected %q, text ends", s)
	}
	return p.fail(p.pos, ErrSyntax, "expected %q, found %q", s, p.snippet())
}

func (p *parser) snippet() string {
	end := p.pos + 12
	if end > len(p.src) {
		end = len(p.src)
	}
	return string(p.src[p.pos:end])
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return p.fail(p.pos, ErrTooDeep, "deeper than %d", p.lim.MaxDepth)
	}
	return nil
}

func (p *parser) count() error {
	p.elems++
	if p.elems > p.lim.MaxElements {
		return p.fail(p.pos, ErrTooManyElements, "more than %d values", p.lim.MaxElements)
	}
	return nil
}

// program: statements "path = expr;" until the end. The first must assign
// VarName itself.
func (p *parser) program() (perlcompat.Value, error) {
	p.ws()
	if p.pos >= len(p.src) {
		return nil, p.fail(p.pos, ErrNoAssignment, "empty text (Perl thaws it to undef)")
	}
	if p.peek() != '$' {
		return nil, p.fail(p.pos, ErrNoAssignment,
			"text starts with %q: Data::Dumper Terse output? Perl thaws it to undef", p.snippet())
	}
	for first := true; ; first = false {
		off := p.pos
		steps, err := p.path()
		if err != nil {
			return nil, err
		}
		if first && len(steps) != 0 {
			return nil, p.fail(off, ErrNoAssignment, "first statement must assign %s itself", VarName)
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		if p.eat("=") || p.eat("~") {
			return nil, p.fail(p.pos-2, ErrUnsupported, "only plain assignment is allowed")
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.assign(off, steps, v); err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.src) {
			break
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.src) {
			break
		}
		if p.peek() != '$' {
			return nil, p.fail(p.pos, ErrUnsupported, "only assignments to %s paths are allowed, found %q", VarName, p.snippet())
		}
	}
	if p.root == nil {
		return perlcompat.Undef{}, nil
	}
	return p.root, nil
}

// step is one accessor of a path: '{' key, '[' index, or '$' for ${...}.
type step struct {
	kind  byte
	key   perlcompat.Str
	index int
}

// path parses "$VAR1", "${ path }" and the accessors after them.
func (p *parser) path() ([]step, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.ws()
	off := p.pos
	if !p.eat("$") {
		return nil, p.fail(off, ErrSyntax, "expected a variable")
	}
	var steps []step
	switch {
	case p.peek() == '{':
		p.pos++
		inner, err := p.path()
		if err != nil {
			return nil, err
		}
		if err := p.expect("}"); err != nil {
			return nil, err
		}
		steps = append(inner, step{kind: '$'})
	case bytes.HasPrefix(p.src[off:], varName) && !isWord(p.at(off+len(varName))):
		p.pos = off + len(varName)
	default:
		end := p.pos
		for end < len(p.src) && (isWord(p.src[end]) || p.src[end] == ':') {
			end++
		}
		return nil, p.fail(off, ErrUnsupported, "unknown variable $%s (only %s)", p.src[p.pos:end], VarName)
	}
	for first := true; ; first = false {
		save := p.pos
		p.ws()
		arrow := p.eat("->")
		if arrow {
			p.ws()
		}
		c := p.peek()
		if (c != '{' && c != '[') || (first && !arrow) {
			if arrow {
				return nil, p.fail(p.pos, ErrUnsupported, "only ->{...} and ->[...] may follow ->")
			}
			p.pos = save
			return steps, nil
		}
		p.pos++
		p.ws()
		if c == '{' {
			k, err := p.key()
			if err != nil {
				return nil, err
			}
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			steps = append(steps, step{kind: '{', key: k})
			continue
		}
		ioff := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		digits := string(p.src[ioff:p.pos])
		n, err := strconv.Atoi(digits)
		if err != nil || (len(digits) > 1 && digits[0] == '0') {
			return nil, p.fail(ioff, ErrSyntax, "expected an array index (digits)")
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		steps = append(steps, step{kind: '[', index: n})
	}
}

func (p *parser) at(i int) byte {
	if i < len(p.src) {
		return p.src[i]
	}
	return 0
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// get evaluates a path as an rvalue, as Perl would at this point of the
// eval: through undef it gives undef (Perl autovivifies and finds
// nothing); through a value of the wrong type it fails, as Perl dies.
func (p *parser) get(off int, steps []step) (perlcompat.Value, error) {
	var cur perlcompat.Value = perlcompat.Undef{}
	if p.assigned {
		cur = p.root
	}
	for _, s := range steps {
		if perlcompat.IsUndef(cur) {
			return perlcompat.Undef{}, nil
		}
		var ok bool
		switch s.kind {
		case '{':
			var h *perlcompat.Hash
			if h, ok = cur.(*perlcompat.Hash); ok {
				cur = p.lookup(h, s.key)
			}
		case '[':
			var a *perlcompat.Array
			if a, ok = cur.(*perlcompat.Array); ok {
				cur = perlcompat.Value(perlcompat.Undef{})
				if s.index < len(a.Elems) {
					cur = a.Elems[s.index]
				}
			}
		case '$':
			var r *perlcompat.Ref
			if r, ok = cur.(*perlcompat.Ref); ok {
				cur = r.Target
			}
		}
		if !ok {
			return nil, p.fail(off, ErrBadPath, "%s is not a %s reference", kind.Of(cur), map[byte]string{'{': "HASH", '[': "ARRAY", '$': "SCALAR"}[s.kind])
		}
	}
	if cur == nil {
		cur = perlcompat.Undef{}
	}
	return cur, nil
}

func (p *parser) hashIndex(h *perlcompat.Hash) map[string]int {
	if p.index == nil {
		p.index = map[*perlcompat.Hash]map[string]int{}
	}
	idx, ok := p.index[h]
	if !ok {
		idx = make(map[string]int, len(h.Entries))
		for i, e := range h.Entries {
			idx[e.Key.Chars()] = i
		}
		p.index[h] = idx
	}
	return idx
}

func (p *parser) lookup(h *perlcompat.Hash, k perlcompat.Str) perlcompat.Value {
	if len(h.Entries) > 8 {
		if i, ok := p.hashIndex(h)[k.Chars()]; ok {
			return h.Entries[i].Value
		}
		return perlcompat.Undef{}
	}
	if i := h.Index(k); i >= 0 {
		return h.Entries[i].Value
	}
	return perlcompat.Undef{}
}

// assign stores v at the path. Data::Dumper's fix-ups only assign into
// containers the first statement built, so anything that would make Perl
// autovivify or grow an array is refused.
func (p *parser) assign(off int, steps []step, v perlcompat.Value) error {
	if len(steps) == 0 {
		p.root, p.assigned = v, true
		return nil
	}
	cont, err := p.get(off, steps[:len(steps)-1])
	if err != nil {
		return err
	}
	last := steps[len(steps)-1]
	switch c := cont.(type) {
	case *perlcompat.Hash:
		if last.kind == '{' {
			idx := p.hashIndex(c)
			if i, ok := idx[last.key.Chars()]; ok {
				c.Entries[i].Value = v
			} else {
				idx[last.key.Chars()] = len(c.Entries)
				c.Entries = append(c.Entries, perlcompat.Entry{Key: last.key, Value: v})
			}
			return nil
		}
	case *perlcompat.Array:
		if last.kind == '[' {
			if last.index >= len(c.Elems) {
				return p.fail(off, ErrBadPath, "assignment to index %d of a %d-element array", last.index, len(c.Elems))
			}
			c.Elems[last.index] = v
			return nil
		}
	case *perlcompat.Ref:
		if last.kind == '$' {
			if c == p.svUndef {
				return p.fail(off, ErrBadPath, "assignment to the read-only undef of \\undef")
			}
			c.Target = v
			return nil
		}
	}
	if perlcompat.IsUndef(cont) {
		return p.fail(off, ErrBadPath, "assignment through undef (Perl would autovivify)")
	}
	return p.fail(off, ErrBadPath, "cannot assign into %s with %q", kind.Of(cont), last.kind)
}

// expr parses and evaluates one value.
func (p *parser) expr() (perlcompat.Value, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.ws()
	off := p.pos
	if err := p.count(); err != nil {
		return nil, err
	}
	switch c := p.peek(); {
	case c == '\'':
		return p.single()
	case c == '"':
		return p.double()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '[':
		p.pos++
		a := &perlcompat.Array{}
		err := p.list(']', func() error {
			v, err := p.expr()
			a.Elems = append(a.Elems, v)
			return err
		})
		return a, err
	case c == '{':
		p.pos++
		h := &perlcompat.Hash{}
		var idx map[string]int
		err := p.list('}', func() error {
			k, err := p.key()
			if err != nil {
				return err
			}
			if err := p.expect("=>"); err != nil {
				return err
			}
			v, err := p.expr()
			if err != nil {
				return err
			}
			if idx == nil {
				idx = map[string]int{}
			}
			if i, dup := idx[k.Chars()]; dup {
				h.Entries[i].Value = v // Perl: the last value wins
				return nil
			}
			idx[k.Chars()] = len(h.Entries)
			h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: v})
			return nil
		})
		return h, err
	case c == '\\':
		p.pos++
		p.ws()
		if p.peek() == '$' {
			// \$VAR1->{...}: a reference to a scalar inside the data. Perl
			// aliases that scalar; perlcompat can only copy its value.
			poff := p.pos
			steps, err := p.path()
			if err != nil {
				return nil, err
			}
			v, err := p.get(poff, steps)
			if err != nil {
				return nil, err
			}
			return &perlcompat.Ref{Target: v}, nil
		}
		if p.peek() == '(' {
			return nil, p.fail(p.pos, ErrUnsupported, "reference to a list")
		}
		if p.eat("undef") {
			if isWord(p.peek()) {
				return nil, p.fail(off+1, ErrUnsupported, "bareword after \\undef")
			}
			if p.svUndef == nil {
				p.svUndef = &perlcompat.Ref{Target: perlcompat.Undef{}}
			}
			return p.svUndef, nil
		}
		t, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &perlcompat.Ref{Target: t}, nil
	case c == '$':
		steps, err := p.path()
		if err != nil {
			return nil, err
		}
		return p.get(off, steps)
	case isWord(c):
		end := p.pos
		for end < len(p.src) && isWord(p.src[end]) {
			end++
		}
		word := string(p.src[p.pos:end])
		switch word {
		case "undef":
			p.pos = end
			return perlcompat.Undef{}, nil
		case "bless":
			p.pos = end
			return p.bless()
		case "do":
			p.pos = end
			return p.doBlock()
		}
		if p.at(end) == ':' && p.at(end+1) == ':' || p.at(end) == '(' || p.at(end) == ' ' {
			return nil, p.fail(off, ErrUnsupported, "%q: function calls and code are not evaluated", word)
		}
		return nil, p.fail(off, ErrUnsupported, "bareword %q", word)
	case c == 0 && p.pos >= len(p.src):
		return nil, p.fail(off, ErrSyntax, "expected a value, text ends")
	}
	return nil, p.fail(off, ErrUnsupported, "%q is not part of Data::Dumper's output", p.snippet())
}

// list parses "item, item, ...close" (a trailing comma is allowed).
func (p *parser) list(close byte, item func() error) error {
	for {
		p.ws()
		if p.peek() == close {
			p.pos++
			return nil
		}
		if err := item(); err != nil {
			return err
		}
		p.ws()
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if p.peek() == close {
			p.pos++
			return nil
		}
		if p.pos >= len(p.src) {
			return p.fail(p.pos, ErrSyntax, "expected ',' or %q, text ends", close)
		}
		return p.fail(p.pos, ErrSyntax, "expected ',' or %q, found %q", close, p.snippet())
	}
}

// key parses a hash key: a quoted string, a bareword or an integer.
func (p *parser) key() (perlcompat.Str, error) {
	p.ws()
	off := p.pos
	switch c := p.peek(); {
	case c == '\'':
		return p.single()
	case c == '"':
		return p.double()
	case c == '-' || c >= '0' && c <= '9':
		v, err := p.number()
		if err != nil {
			return perlcompat.Str{}, err
		}
		if _, ok := v.(perlcompat.Int); !ok {
			return perlcompat.Str{}, p.fail(off, ErrUnsupported, "non-integer number as a hash key")
		}
		return perlcompat.Str{S: string(p.src[off:p.pos])}, nil
	case isWord(c):
		end := p.pos
		for end < len(p.src) && isWord(p.src[end]) {
			end++
		}
		p.pos = end
		return perlcompat.Str{S: string(p.src[off:end])}, nil
	}
	return perlcompat.Str{}, p.fail(off, ErrSyntax, "expected a hash key, found %q", p.snippet())
}

// number parses a bare Perl number. Leading zeros (octal in Perl), hex,
// underscores and other spellings are refused.
func (p *parser) number() (perlcompat.Value, error) {
	off := p.pos
	i := p.pos
	if p.at(i) == '-' {
		i++
	}
	ds := i
	for p.at(i) >= '0' && p.at(i) <= '9' {
		i++
	}
	if i == ds {
		return nil, p.fail(off, ErrSyntax, "expected digits")
	}
	if i-ds > 1 && p.src[ds] == '0' {
		return nil, p.fail(off, ErrUnsupported, "number with a leading zero (octal in Perl)")
	}
	isFloat := false
	if p.at(i) == '.' && p.at(i+1) >= '0' && p.at(i+1) <= '9' {
		isFloat = true
		i++
		for p.at(i) >= '0' && p.at(i) <= '9' {
			i++
		}
	}
	if c := p.at(i); c == 'e' || c == 'E' {
		j := i + 1
		if p.at(j) == '+' || p.at(j) == '-' {
			j++
		}
		if p.at(j) >= '0' && p.at(j) <= '9' {
			isFloat = true
			for i = j; p.at(i) >= '0' && p.at(i) <= '9'; i++ {
			}
		}
	}
	if c := p.at(i); isWord(c) || c == '.' {
		return nil, p.fail(off, ErrUnsupported, "number spelling %q", p.src[off:min(i+1, len(p.src))])
	}
	text := string(p.src[off:i])
	p.pos = i
	if !isFloat {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return perlcompat.Int(n), nil
		}
		if n, err := strconv.ParseUint(text, 10, 64); err == nil {
			return perlcompat.Uint(n), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return nil, p.fail(off, ErrSyntax, "bad number %q", text)
	}
	return perlcompat.Float(f), nil
}

// single parses '...': only \\ and \' are escapes; bytes are characters.
func (p *parser) single() (perlcompat.Str, error) {
	off := p.pos
	p.pos++
	// Fast path: no backslash before the closing quote.
	if end := bytes.IndexByte(p.src[p.pos:], '\''); end >= 0 && bytes.IndexByte(p.src[p.pos:p.pos+end], '\\') < 0 {
		s := string(p.src[p.pos : p.pos+end])
		p.pos += end + 1
		return perlcompat.Str{S: s}, nil
	}
	var b []byte
	for {
		if p.pos >= len(p.src) {
			return perlcompat.Str{}, p.fail(off, ErrSyntax, "unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '\'':
			p.pos++
			return perlcompat.Str{S: string(b)}, nil
		case c == '\\' && (p.at(p.pos+1) == '\\' || p.at(p.pos+1) == '\''):
			b = append(b, p.src[p.pos+1])
			p.pos += 2
		default:
			b = append(b, c)
			p.pos++
		}
	}
}

// double parses "..." with Perl's escapes. Unescaped $ and @ would
// interpolate variables: refused. The result is a byte string unless a
// character above 0xFF (or \N{U+...}) makes Perl upgrade it.
func (p *parser) double() (perlcompat.Str, error) {
	off := p.pos
	p.pos++
	var runes []rune
	force := false
	for {
		if p.pos >= len(p.src) {
			return perlcompat.Str{}, p.fail(off, ErrSyntax, "unterminated string")
		}
		c := p.src[p.pos]
		switch c {
		case '"':
			p.pos++
			return makeStr(runes, force), nil
		case '$', '@':
			return perlcompat.Str{}, p.fail(p.pos, ErrUnsupported, "interpolation of %q in a double-quoted string", c)
		case '\\':
			r, f, err := p.escape()
			if err != nil {
				return perlcompat.Str{}, err
			}
			force = force || f
			runes = append(runes, r)
		default:
			runes = append(runes, rune(c)) // source bytes are Latin-1 characters
			p.pos++
		}
	}
}

func makeStr(runes []rune, force bool) perlcompat.Str {
	wide := force
	for _, r := range runes {
		if r > 0xFF {
			wide = true
			break
		}
	}
	if wide {
		return perlcompat.Str{S: string(runes), UTF8: true}
	}
	b := make([]byte, len(runes))
	for i, r := range runes {
		b[i] = byte(r)
	}
	return perlcompat.Str{S: string(b)}
}

// escape reads one backslash escape of a double-quoted string.
func (p *parser) escape() (r rune, forceUTF8 bool, err error) {
	off := p.pos
	p.pos++ // the backslash
	if p.pos >= len(p.src) {
		return 0, false, p.fail(off, ErrSyntax, "unterminated string")
	}
	c := p.src[p.pos]
	p.pos++
	simple := map[byte]rune{'a': 7, 'b': 8, 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r', 'e': 27}
	if r, ok := simple[c]; ok {
		return r, false, nil
	}
	switch {
	case c == 'x':
		if p.peek() == '{' {
			return p.braced(off, 16)
		}
		n := 0
		var v rune
		for n < 2 && hexVal(p.peek()) >= 0 {
			v = v*16 + rune(hexVal(p.peek()))
			p.pos++
			n++
		}
		return v, false, nil
	case c == 'o' && p.peek() == '{':
		return p.braced(off, 8)
	case c >= '0' && c <= '7':
		v := rune(c - '0')
		for n := 1; n < 3 && p.peek() >= '0' && p.peek() <= '7'; n++ {
			v = v*8 + rune(p.peek()-'0')
			p.pos++
		}
		return v, false, nil
	case c == 'c':
		x := p.peek()
		if x < 0x20 || x > 0x7e {
			return 0, false, p.fail(off, ErrSyntax, `bad \c escape`)
		}
		p.pos++
		if x >= 'a' && x <= 'z' {
			x -= 32
		}
		return rune(x ^ 64), false, nil
	case c == 'N' && p.eat("{U+"):
		return p.bracedUnicode(off)
	case isWord(c) || c >= 0x80:
		return 0, false, p.fail(off, ErrUnsupported, `escape \%c`, c)
	}
	return rune(c), false, nil // \" \\ \$ \@ and other punctuation
}

// braced reads {digits} in the given base for \x{...} and \o{...}.
func (p *parser) braced(off, base int) (rune, bool, error) {
	p.pos++ // '{'
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '}' {
		p.pos++
	}
	if p.pos >= len(p.src) {
		return 0, false, p.fail(off, ErrSyntax, "unterminated escape")
	}
	digits := strings.TrimSpace(string(p.src[start:p.pos]))
	p.pos++
	if digits == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, false, p.fail(off, ErrUnsupported, "escape value %q (not a Unicode scalar value)", digits)
	}
	return rune(v), false, nil
}

// bracedUnicode reads the hex of \N{U+...}; p.pos is just after "U+".
func (p *parser) bracedUnicode(off int) (rune, bool, error) {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '}' {
		p.pos++
	}
	if p.pos >= len(p.src) {
		return 0, false, p.fail(off, ErrSyntax, "unterminated escape")
	}
	v, err := strconv.ParseUint(string(p.src[start:p.pos]), 16, 32)
	p.pos++
	if err != nil || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, false, p.fail(off, ErrUnsupported, `bad \N{U+...} escape`)
	}
	return rune(v), true, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// bless parses "( expr , 'Class' )" after the word bless.
func (p *parser) bless() (perlcompat.Value, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	off := p.pos
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(","); err != nil {
		return nil, err
	}
	p.ws()
	coff := p.pos
	var cls perlcompat.Str
	switch p.peek() {
	case '\'':
		cls, err = p.single()
	case '"':
		cls, err = p.double()
	default:
		return nil, p.fail(coff, ErrUnsupported, "class name must be a quoted string")
	}
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	name := cls.Chars()
	if name == "" {
		return nil, p.fail(coff, ErrBadBless, "empty class name")
	}
	if p.allow != nil && !p.allow(name) {
		return nil, p.fail(coff, ErrBadBless, "class %q not allowed", name)
	}
	switch x := v.(type) {
	case *perlcompat.Array:
		x.Class = name
	case *perlcompat.Hash:
		x.Class = name
	case *perlcompat.Ref:
		if x == p.svUndef {
			return nil, p.fail(off, ErrBadBless, "cannot bless a reference to the read-only undef")
		}
		x.Class = name
	default:
		return nil, p.fail(off, ErrBadBless, "cannot bless %s", kind.Of(v))
	}
	return v, nil
}

// doBlock parses the two do-blocks Data::Dumper writes: do{my $o} (a
// fresh undef scalar) and do{\(my $o = expr)} (a reference to one).
func (p *parser) doBlock() (perlcompat.Value, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	p.ws()
	if p.eat("\\") {
		if err := p.expect("("); err != nil {
			return nil, err
		}
		if err := p.myVar(); err != nil {
			return nil, err
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		if err := p.expect("}"); err != nil {
			return nil, err
		}
		return &perlcompat.Ref{Target: v}, nil
	}
	if err := p.myVar(); err != nil {
		return nil, err
	}
	if err := p.expect("}"); err != nil {
		return nil, err
	}
	return perlcompat.Undef{}, nil
}

// myVar parses "my $name".
func (p *parser) myVar() error {
	p.ws()
	off := p.pos
	if !p.eat("my") || !(p.peek() == ' ' || p.peek() == '\t' || p.peek() == '$') {
		return p.fail(off, ErrUnsupported, "only do{my $o} and do{\\(my $o = ...)} blocks are allowed")
	}
	p.ws()
	if !p.eat("$") || !isWord(p.peek()) || p.peek() >= '0' && p.peek() <= '9' {
		return p.fail(p.pos, ErrSyntax, "expected a variable name after my")
	}
	for isWord(p.peek()) {
		p.pos++
	}
	return nil
}
