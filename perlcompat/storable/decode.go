package storable

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/slab"
)

// Decoder thaws Storable images. The zero value is ready to use with
// DefaultLimits.
type Decoder struct {
	// Limits bound nesting and element counts; zero fields are defaults.
	Limits Limits
	// AllowClass, when set, is asked once per class name the image
	// blesses into; returning false fails the thaw with
	// ErrClassNotAllowed. Nil allows every class. (Perl's Storable
	// blesses into any class, and loads nothing; Go objects are only data,
	// so this is a policy hook, not a safety requirement.)
	AllowClass func(class string) bool
}

// Thaw decodes one Storable image with DefaultLimits. See Decoder.Thaw.
func Thaw(img []byte) (perlcompat.Value, error) {
	var d Decoder
	return d.Thaw(img)
}

// Thaw decodes one Storable image, nfreeze (network order) or native
// freeze, with or without the "pst0" file magic, and returns a reference
// to its root item, as Perl's thaw does: a root hash or array comes back
// as *Hash or *Array, any other root as *Ref whose Target is the root
// (a scalar, or for a root reference the value that reference holds).
//
// Mapping of items to values:
//   - SX_SCALAR/SX_LSCALAR give byte Str, SX_UTF8STR/SX_LUTF8STR UTF8 Str,
//     vstrings their string value (the v-string magic is dropped).
//   - SX_BYTE, SX_NETINT and native SX_INTEGER give Int; native SX_DOUBLE
//     gives Float. Network-order images never hold the native opcodes; if
//     one does, it is read as x86-64 Perl would (8 bytes, little-endian).
//   - SX_UNDEF, SX_SV_UNDEF and SX_SVUNDEF_ELEM give Undef; SX_SV_YES/NO
//     and the newer SX_BOOLEAN_TRUE/FALSE (which Storable 3.26 rejects)
//     give Bool.
//   - SX_REF, SX_OVERLOAD, SX_WEAKREF and SX_WEAKOVERLOAD are all plain
//     references: weakness and the overload marker are not kept.
//   - SX_REGEXP gives its pattern as Perl stringifies it, "(?^flags:pat)",
//     as a byte string (Storable 3.26 itself loses the pattern's UTF8 flag),
//     in a reference blessed into the image's class ("Regexp").
//   - Blessing goes to the referent: Array.Class, Hash.Class, or Ref.Class
//     for a blessed scalar. A blessed scalar that sits directly in a slot,
//     not behind a reference, loses its class.
//   - SX_OBJECT to an array, hash or reference gives the same pointer as
//     the first occurrence (shared references and cycles survive). To a
//     plain scalar it gives a copy: Perl would alias the two slots.
//   - Duplicate hash keys: the later value wins, the key keeps its first
//     place and spelling. Placeholder keys of restricted hashes are
//     dropped; restricted and locked flags are accepted and not kept.
//
// Strings in the result are slices of one copy of img taken at the start.
// Bytes after the root item are ignored, as Perl's thaw ignores them.
//
// Hooks (SX_HOOK), tied containers, code refs and SX_LOBJECT fail with
// ErrUnsupportedOpcode; other bytes fail with ErrUnknownOpcode. Every
// error is a *DecodeError naming the opcode and offset.
func (d *Decoder) Thaw(img []byte) (perlcompat.Value, error) {
	if err := d.Limits.Validate(); err != nil {
		return nil, err
	}
	if len(img) > math.MaxInt32 { // tags are 32-bit, as in Storable
		return nil, &DecodeError{Header: true, Err: fmt.Errorf("%w: image of %d bytes", ErrTooLarge, len(img))}
	}
	st := decodeState{
		lim:   d.Limits.withDefaults(),
		allow: d.AllowClass,
	}
	st.slab, st.src = slab.NewFor(img)
	if err := st.header(); err != nil {
		return nil, err
	}
	if st.pos >= len(st.src) {
		return nil, &DecodeError{Offset: st.pos, Header: true, Err: fmt.Errorf("%w: no root item", ErrTruncated)}
	}
	// Items average several bytes; start the tag table near that.
	t, v, err := st.item(1, 0)
	if err != nil {
		return nil, err
	}
	return st.ref(t, v), nil
}

// tagTable holds every item's entry by tag. It grows in chunks that are
// never copied: a big image costs what it uses, a small one nothing past
// the first chunk, which lives in the decoder. Entries hold no pointers,
// so the collector never scans the table and filling it needs no write
// barriers: a message of many small items has one entry per item.
type tagTable struct {
	n      int
	chunks [][]entry // full-length chunks after chunk0
	chunk0 [64]entry
}

const tagChunk = 4096

func (t *tagTable) add(e entry) int32 {
	i := t.n
	t.n++
	if i < len(t.chunk0) {
		t.chunk0[i] = e
		return int32(i)
	}
	j := i - len(t.chunk0)
	if j/tagChunk == len(t.chunks) {
		t.chunks = append(t.chunks, make([]entry, tagChunk))
	}
	t.chunks[j/tagChunk][j%tagChunk] = e
	return int32(i)
}

func (t *tagTable) at(i int32) *entry {
	if int(i) < len(t.chunk0) {
		return &t.chunk0[i]
	}
	j := int(i) - len(t.chunk0)
	return &t.chunks[j/tagChunk][j%tagChunk]
}

// objTable is a tagTable of values: what back-references must find as
// the same pointer. Growing it by append copied and dropped every
// smaller array on the way.
type objTable struct {
	n      int
	chunks [][]perlcompat.Value
	chunk0 [16]perlcompat.Value
}

const objChunk = 1024

func (t *objTable) add(v perlcompat.Value) int32 {
	i := t.n
	t.n++
	if i < len(t.chunk0) {
		t.chunk0[i] = v
		return int32(i)
	}
	j := i - len(t.chunk0)
	if j/objChunk == len(t.chunks) {
		t.chunks = append(t.chunks, make([]perlcompat.Value, objChunk))
	}
	t.chunks[j/objChunk][j%objChunk] = v
	return int32(i)
}

func (t *objTable) at(i int32) perlcompat.Value {
	if int(i) < len(t.chunk0) {
		return t.chunk0[i]
	}
	j := int(i) - len(t.chunk0)
	return t.chunks[j/objChunk][j%objChunk]
}

// Item kinds in the tag table.
const (
	kindScalar    = iota // re-decoded from off when referenced again
	kindContainer        // *Array or *Hash in objs
	kindRef              // reference item; its *Ref, once made, in objs
)

// entry is one tagged item in 8 bytes and no pointers. What a
// back-reference must find as the same pointer lives in decodeState.objs;
// a scalar is decoded again from its offset (back-references to scalars
// are rare, and keeping every scalar's value here made the table the
// biggest thing the collector scanned).
type entry struct {
	// a is a scalar's opcode offset in src, 1 + a container's index in
	// objs, or a reference item's referent tag.
	a int32
	// kc is kind<<30 | class, where class is 1 + index in classes of a
	// blessed scalar or reference item (0 none); containers carry their
	// class themselves.
	kc uint32
}

func mkEntry(kind uint32, a, class int32) entry { return entry{a: a, kc: kind<<30 | uint32(class)} }

func (e entry) kind() uint32 { return e.kc >> 30 }
func (e entry) class() int32 { return int32(e.kc & (1<<30 - 1)) }

type decodeState struct {
	src       string
	pos       int
	bigEndian bool // U32 lengths: network order or big-endian native
	nativeBE  bool // SX_INTEGER / SX_DOUBLE byte order
	ivSize    int
	nvSize    int
	lim       Limits
	allow     func(string) bool
	tags      tagTable
	objs      objTable        // containers and the *Refs made so far
	memo      map[int32]int32 // tag of a scalar or reference item: 1 + index in objs of the *Ref to it
	classes   []string

	slab slab.Slab // values, containers and their slices
}

// byteVals holds SX_BYTE values boxed once.
var byteVals = func() (t [256]perlcompat.Value) {
	for i := range t {
		t[i] = perlcompat.Int(i - 128)
	}
	return t
}()

var (
	undefVal perlcompat.Value = perlcompat.Undef{}
	trueVal  perlcompat.Value = perlcompat.Bool(true)
	falseVal perlcompat.Value = perlcompat.Bool(false)
)

func (d *decodeState) headerErr(off int, err error) error {
	return &DecodeError{Offset: off, Header: true, Err: err}
}

// header reads the magic: optional "pst0", then (major<<1 | netorder) and
// minor, and for native images the byte order string and type sizes.
func (d *decodeState) header() error {
	if len(d.src) >= 4 && d.src[:4] == "pst0" {
		d.pos = 4
	}
	if len(d.src)-d.pos < 2 {
		return d.headerErr(d.pos, fmt.Errorf("%w: %d header bytes", ErrTruncated, len(d.src)-d.pos))
	}
	b := d.src[d.pos]
	if major := b >> 1; major != 2 {
		return d.headerErr(d.pos, fmt.Errorf("%w: binary major %d (byte 0x%02x), want 2", ErrBadHeader, major, b))
	}
	minor := d.src[d.pos+1]
	d.pos += 2
	if b&1 == 1 {
		d.bigEndian = true
		d.ivSize, d.nvSize = 8, 8
		return nil
	}
	// Native: len, byte order string, sizeof(int), sizeof(long),
	// sizeof(char *), and from minor 2 on sizeof(NV).
	off := d.pos
	if d.pos >= len(d.src) {
		return d.headerErr(off, fmt.Errorf("%w: missing byte order", ErrTruncated))
	}
	n := int(d.src[d.pos])
	d.pos++
	need := n + 3
	if minor >= 2 {
		need++
	}
	if len(d.src)-d.pos < need {
		return d.headerErr(off, fmt.Errorf("%w: native header", ErrTruncated))
	}
	switch order := d.src[d.pos : d.pos+n]; order {
	case "1234", "12345678":
	case "4321", "87654321":
		d.bigEndian, d.nativeBE = true, true
	default:
		return d.headerErr(off, fmt.Errorf("%w: byte order %q", ErrBadHeader, order))
	}
	d.ivSize = n
	d.pos += n
	if intSize := d.src[d.pos]; intSize != 4 {
		return d.headerErr(d.pos, fmt.Errorf("%w: sizeof(int) %d, want 4", ErrBadHeader, intSize))
	}
	d.pos += 3
	d.nvSize = 8
	if minor >= 2 {
		d.nvSize = int(d.src[d.pos])
		d.pos++
	}
	return nil
}

func (d *decodeState) fail(off int, op byte, err error) error {
	return &DecodeError{Offset: off, Op: op, Err: err}
}

func (d *decodeState) truncated(off int, op byte, what string) error {
	return d.fail(off, op, fmt.Errorf("%w: %s", ErrTruncated, what))
}

func (d *decodeState) u32() (uint32, bool) {
	if len(d.src)-d.pos < 4 {
		return 0, false
	}
	s := d.src[d.pos : d.pos+4]
	d.pos += 4
	if d.bigEndian {
		return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]), true
	}
	return uint32(s[3])<<24 | uint32(s[2])<<16 | uint32(s[1])<<8 | uint32(s[0]), true
}

// str takes n bytes as a substring of the image.
func (d *decodeState) str(n uint64) (string, bool) {
	if uint64(len(d.src)-d.pos) < n {
		return "", false
	}
	s := d.src[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, true
}

// shortLen reads a Storable "1 byte, or 0x80 then U32" length or index.
func (d *decodeState) shortLen() (uint32, bool) {
	if d.pos >= len(d.src) {
		return 0, false
	}
	b := d.src[d.pos]
	d.pos++
	if b&0x80 == 0 {
		return uint32(b), true
	}
	return d.u32()
}

// object records v, which back-references must see as the same pointer,
// and returns its entry.obj.
func (d *decodeState) object(v perlcompat.Value) int32 {
	return d.objs.add(v) + 1
}

// scalar registers a scalar item that starts at off and returns its tag
// with v, its value.
func (d *decodeState) scalar(v perlcompat.Value, off int, class int32) (int32, perlcompat.Value, error) {
	return d.tags.add(mkEntry(kindScalar, int32(off), class)), v, nil
}

func (d *decodeState) className(class int32) string {
	if class == 0 {
		return ""
	}
	return d.classes[class-1]
}

// slot is the value of tagged item t as it sits in an array element or a
// hash value: a scalar as is, an array or hash as a reference to it, and a
// reference item as what it references. item returns the same for the
// item it decodes; slot is for back-references.
func (d *decodeState) slot(t int32) perlcompat.Value {
	e := *d.tags.at(t)
	switch e.kind() {
	case kindRef:
		return d.ref(e.a, nil)
	case kindContainer:
		return d.objs.at(e.a - 1)
	}
	return d.rescalar(e)
}

// rescalar decodes the scalar of entry e again. It decoded once without
// error, so it does again.
func (d *decodeState) rescalar(e entry) perlcompat.Value {
	save := d.pos
	d.pos = int(e.a) + 1
	v, _ := d.scalarBody(d.src[e.a], int(e.a))
	d.pos = save
	return v
}

// ref is "a reference to tagged item t", the same pointer every time. v
// is t's value when the caller has it (nil when not), which spares
// decoding a scalar again.
func (d *decodeState) ref(t int32, v perlcompat.Value) perlcompat.Value {
	e := *d.tags.at(t)
	if e.kind() == kindContainer {
		return d.objs.at(e.a - 1)
	}
	if o, ok := d.memo[t]; ok {
		return d.objs.at(o - 1)
	}
	if d.memo == nil {
		d.memo = make(map[int32]int32)
	}
	r := &perlcompat.Ref{Class: d.className(e.class())}
	d.memo[t] = d.object(r) // before following the referent: a reference may reach itself
	switch {
	case e.kind() == kindRef:
		r.Target = d.ref(e.a, nil)
	case v != nil:
		r.Target = v
	default:
		r.Target = d.rescalar(e)
	}
	return r
}

// child decodes an item that op (at off) needs next, reporting a missing
// item against op.
func (d *decodeState) child(depth int, class int32, op byte, off int) (int32, perlcompat.Value, error) {
	if d.pos >= len(d.src) {
		return 0, nil, d.truncated(off, op, "missing item")
	}
	return d.item(depth, class)
}

// item decodes one item at d.pos and returns its tag (for SX_OBJECT, the
// tag it points back to) and its value as it sits in a slot (see slot).
// class is the pending blessing (1 + index).
func (d *decodeState) item(depth int, class int32) (int32, perlcompat.Value, error) {
	off := d.pos
	op := d.src[off]
	d.pos++
	switch op {
	case opObject:
		// Tags are big-endian even in native images (Storable htonl()s them).
		if len(d.src)-d.pos < 4 {
			return 0, nil, d.truncated(off, op, "tag")
		}
		b := d.src[d.pos : d.pos+4]
		d.pos += 4
		t := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if uint64(t) >= uint64(d.tags.n) {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: tag %d, %d items seen", ErrBadTag, t, d.tags.n))
		}
		return int32(t), d.slot(int32(t)), nil
	case opArray:
		return d.array(depth, class, off)
	case opHash, opFlagHash:
		return d.hash(depth, class, op, off)
	case opRef, opOverload, opWeakRef, opWeakOverload:
		if depth > d.lim.MaxDepth {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: depth %d, limit %d", ErrTooDeep, depth, d.lim.MaxDepth))
		}
		// The referent is the next tag, or the tag of an SX_OBJECT that
		// follows; set it now, for a back-reference from inside the
		// referent (a cycle of references) to see.
		rt := int32(d.tags.n) + 1
		if len(d.src)-d.pos >= 5 && d.src[d.pos] == opObject {
			b := d.src[d.pos+1 : d.pos+5]
			if o := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]); o <= uint32(d.tags.n) {
				rt = int32(o) // o == n is this reference itself
			}
		}
		t := d.tags.add(mkEntry(kindRef, rt, class))
		rt, rv, err := d.child(depth+1, 0, op, off)
		if err != nil {
			return 0, nil, err
		}
		d.tags.at(t).a = rt
		return t, d.ref(rt, rv), nil
	case opBless:
		if class != 0 {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: blessed twice", ErrMalformed))
		}
		n, ok := d.shortLen()
		if !ok {
			return 0, nil, d.truncated(off, op, "class name length")
		}
		name, ok := d.str(uint64(n))
		if !ok {
			return 0, nil, d.truncated(off, op, fmt.Sprintf("%d-byte class name, %d bytes left", n, len(d.src)-d.pos))
		}
		if d.allow != nil && !d.allow(name) {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: %q", ErrClassNotAllowed, name))
		}
		// At 3 bytes or more per blessing in at most 2^31 bytes, class
		// numbers fit entry's 30 bits.
		d.classes = append(d.classes, name)
		return d.child(depth, int32(len(d.classes)), op, off)
	case opIxBless:
		if class != 0 {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: blessed twice", ErrMalformed))
		}
		ix, ok := d.shortLen()
		if !ok {
			return 0, nil, d.truncated(off, op, "class index")
		}
		if uint64(ix) >= uint64(len(d.classes)) {
			return 0, nil, d.fail(off, op, fmt.Errorf("%w: index %d, %d classes seen", ErrBadClassIndex, ix, len(d.classes)))
		}
		return d.child(depth, int32(ix)+1, op, off)
	case opVString, opLVString:
		var n uint32
		var ok bool
		if op == opVString {
			n, ok = uint32(0), d.pos < len(d.src)
			if ok {
				n = uint32(d.src[d.pos])
				d.pos++
			}
		} else {
			n, ok = d.u32()
		}
		if !ok {
			return 0, nil, d.truncated(off, op, "length")
		}
		if _, ok := d.str(uint64(n)); !ok {
			return 0, nil, d.truncated(off, op, fmt.Sprintf("%d-byte v-string magic, %d bytes left", n, len(d.src)-d.pos))
		}
		if d.pos < len(d.src) {
			switch next := d.src[d.pos]; next {
			case opScalar, opLScalar, opUTF8Str, opLUTF8Str:
			default:
				return 0, nil, d.fail(off, op, fmt.Errorf("%w: v-string over %s (0x%02x), not a string", ErrMalformed, OpName(next), next))
			}
		}
		return d.child(depth, class, op, off)
	case opTiedArray, opTiedHash, opTiedScalar, opTiedKey, opTiedIdx, opHook, opCode, opLObject:
		return 0, nil, d.fail(off, op, ErrUnsupportedOpcode)
	}
	v, err := d.scalarBody(op, off)
	if err != nil {
		return 0, nil, err
	}
	return d.scalar(v, off, class)
}

// scalarBody decodes the rest of the scalar item whose opcode op is at off
// (d.pos is just past it). It registers nothing, so it also serves to
// decode a scalar again for a back-reference.
func (d *decodeState) scalarBody(op byte, off int) (perlcompat.Value, error) {
	switch op {
	case opScalar, opUTF8Str:
		if d.pos >= len(d.src) {
			return nil, d.truncated(off, op, "length")
		}
		n := d.src[d.pos]
		d.pos++
		s, ok := d.str(uint64(n))
		if !ok {
			return nil, d.truncated(off, op, fmt.Sprintf("%d-byte string, %d bytes left", n, len(d.src)-d.pos))
		}
		// Perl's thaw of an empty UTF-8 string gives an unflagged "".
		return d.slab.Str(perlcompat.Str{S: s, UTF8: op == opUTF8Str && n > 0}), nil
	case opLScalar, opLUTF8Str:
		n, ok := d.u32()
		if !ok {
			return nil, d.truncated(off, op, "length")
		}
		s, ok := d.str(uint64(n))
		if !ok {
			return nil, d.truncated(off, op, fmt.Sprintf("%d-byte string, %d bytes left", n, len(d.src)-d.pos))
		}
		return d.slab.Str(perlcompat.Str{S: s, UTF8: op == opLUTF8Str && n > 0}), nil
	case opByte:
		if d.pos >= len(d.src) {
			return nil, d.truncated(off, op, "byte")
		}
		b := d.src[d.pos]
		d.pos++
		return byteVals[b], nil
	case opNetint:
		if len(d.src)-d.pos < 4 {
			return nil, d.truncated(off, op, "int32")
		}
		s := d.src[d.pos : d.pos+4]
		d.pos += 4
		v := int32(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]))
		return d.slab.Int(perlcompat.Int(v)), nil
	case opInteger:
		u, ok := d.native(d.ivSize)
		if !ok {
			return nil, d.truncated(off, op, fmt.Sprintf("%d-byte IV", d.ivSize))
		}
		v := int64(u)
		if d.ivSize == 4 {
			v = int64(int32(u))
		}
		return d.slab.Int(perlcompat.Int(v)), nil
	case opDouble:
		if d.nvSize != 8 {
			return nil, d.fail(off, op, fmt.Errorf("%w: %d-byte NV", ErrUnsupportedOpcode, d.nvSize))
		}
		u, ok := d.native(8)
		if !ok {
			return nil, d.truncated(off, op, "8-byte NV")
		}
		return perlcompat.Float(math.Float64frombits(u)), nil
	case opUndef, opSvUndef, opSvUndefElem:
		return undefVal, nil
	case opSvYes, opBoolTrue:
		return trueVal, nil
	case opSvNo, opBoolFalse:
		return falseVal, nil
	case opRegexp:
		return d.regexp(off)
	}
	return nil, d.fail(off, op, ErrUnknownOpcode)
}

// native reads an n-byte (4 or 8) native integer.
func (d *decodeState) native(n int) (uint64, bool) {
	if len(d.src)-d.pos < n {
		return 0, false
	}
	s := d.src[d.pos : d.pos+n]
	d.pos += n
	var u uint64
	if d.nativeBE {
		for i := 0; i < n; i++ {
			u = u<<8 | uint64(s[i])
		}
	} else {
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(s[i])
		}
	}
	return u, true
}

func (d *decodeState) array(depth int, class int32, off int) (int32, perlcompat.Value, error) {
	if depth > d.lim.MaxDepth {
		return 0, nil, d.fail(off, opArray, fmt.Errorf("%w: depth %d, limit %d", ErrTooDeep, depth, d.lim.MaxDepth))
	}
	n, ok := d.u32()
	if !ok {
		return 0, nil, d.truncated(off, opArray, "element count")
	}
	if uint64(n) > uint64(d.lim.MaxElements) {
		return 0, nil, d.fail(off, opArray, fmt.Errorf("%w: %d elements, limit %d", ErrTooManyElements, n, d.lim.MaxElements))
	}
	if uint64(n) > uint64(len(d.src)-d.pos) { // every element takes a byte
		return 0, nil, d.truncated(off, opArray, fmt.Sprintf("%d elements, %d bytes left", n, len(d.src)-d.pos))
	}
	a := d.slab.Array()
	a.Class = d.className(class)
	t := d.tags.add(mkEntry(kindContainer, d.object(a), 0))
	if n == 0 {
		return t, a, nil
	}
	elems := d.slab.Values(int(n))
	for i := range elems {
		_, v, err := d.child(depth+1, 0, opArray, off)
		if err != nil {
			return 0, nil, err
		}
		elems[i] = v
	}
	a.Elems = elems
	return t, a, nil
}

func (d *decodeState) hash(depth int, class int32, op byte, off int) (int32, perlcompat.Value, error) {
	if depth > d.lim.MaxDepth {
		return 0, nil, d.fail(off, op, fmt.Errorf("%w: depth %d, limit %d", ErrTooDeep, depth, d.lim.MaxDepth))
	}
	minEntry := uint64(5) // value, U32 key length
	if op == opFlagHash {
		if d.pos >= len(d.src) {
			return 0, nil, d.truncated(off, op, "hash flags")
		}
		d.pos++      // SHV_RESTRICTED or 0: accepted, not kept
		minEntry = 3 // value, key flags, key item
	}
	n, ok := d.u32()
	if !ok {
		return 0, nil, d.truncated(off, op, "key count")
	}
	if uint64(n) > uint64(d.lim.MaxElements) {
		return 0, nil, d.fail(off, op, fmt.Errorf("%w: %d keys, limit %d", ErrTooManyElements, n, d.lim.MaxElements))
	}
	if uint64(n)*minEntry > uint64(len(d.src)-d.pos) {
		return 0, nil, d.truncated(off, op, fmt.Sprintf("%d keys, %d bytes left", n, len(d.src)-d.pos))
	}
	h := d.slab.Hash()
	h.Class = d.className(class)
	t := d.tags.add(mkEntry(kindContainer, d.object(h), 0))
	if n == 0 {
		return t, h, nil
	}
	es := d.slab.Entries(int(n))
	for i := uint32(0); i < n; i++ {
		_, v, err := d.child(depth+1, 0, op, off)
		if err != nil {
			return 0, nil, err
		}
		var kflags byte
		if op == opFlagHash {
			if d.pos >= len(d.src) {
				return 0, nil, d.truncated(off, op, "key flags")
			}
			kflags = d.src[d.pos]
			d.pos++
		}
		var key perlcompat.Str
		if kflags&keyIsSV != 0 {
			_, kv, err := d.child(depth+1, 0, op, off)
			if err != nil {
				return 0, nil, err
			}
			if s, ok := kv.(perlcompat.Str); ok {
				key = s
			} else if s, ok := perlcompat.StringOf(kv); ok {
				key = perlcompat.Str{S: s}
			} else {
				return 0, nil, d.fail(off, op, fmt.Errorf("%w: %T", ErrBadKey, kv))
			}
		} else {
			kl, ok := d.u32()
			if !ok {
				return 0, nil, d.truncated(off, op, "key length")
			}
			s, ok := d.str(uint64(kl))
			if !ok {
				return 0, nil, d.truncated(off, op, fmt.Sprintf("%d-byte key, %d bytes left", kl, len(d.src)-d.pos))
			}
			key.S = s
			switch {
			case kflags&keyUTF8 != 0:
				key.UTF8 = true
			case kflags&keyWasUTF8 != 0:
				key = latin1Key(s)
			}
		}
		if kflags&keyPlaceholder != 0 {
			continue
		}
		es = append(es, perlcompat.Entry{Key: key, Value: v})
	}
	h.Entries = dedupe(es)
	return t, h, nil
}

// latin1Key turns a key stored downgraded (SHV_K_WASUTF8) back into the
// character string Perl hands out.
func latin1Key(s string) perlcompat.Str {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return perlcompat.Str{S: s, UTF8: true} // Perl keeps the flag
	}
	b := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return perlcompat.Str{S: string(b), UTF8: true}
}

// dedupe makes later duplicate keys overwrite earlier ones in place, in
// linear time for large hashes.
func dedupe(es []perlcompat.Entry) []perlcompat.Entry {
	if len(es) < 2 {
		return es
	}
	if len(es) <= 32 {
		// Perl's images never repeat a key; a pairwise check of short
		// hashes is cheaper than a map.
		dup := false
	scan:
		for i := 1; i < len(es); i++ {
			ki := es[i].Key
			for j := 0; j < i; j++ {
				kj := es[j].Key
				if ki.UTF8 == kj.UTF8 {
					if len(ki.S) == len(kj.S) && ki.S == kj.S {
						dup = true
						break scan
					}
					continue
				}
				if perlcompat.SameKey(ki, kj) {
					dup = true
					break scan
				}
			}
		}
		if !dup {
			return es
		}
		out := es[:0]
	next:
		for _, e := range es {
			for j := range out {
				if perlcompat.SameKey(out[j].Key, e.Key) {
					out[j].Value = e.Value
					continue next
				}
			}
			out = append(out, e)
		}
		clear(es[len(out):])
		return out
	}
	seen := make(map[string]int, len(es))
	out := es[:0]
	for _, e := range es {
		k := e.Key.Chars()
		if j, ok := seen[k]; ok {
			out[j].Value = e.Value
			continue
		}
		seen[k] = len(out)
		out = append(out, e)
	}
	clear(es[len(out):])
	return out
}

// regexp decodes SX_REGEXP: op flags (bit 0: U32 pattern length), the
// pattern, a 1-byte flags length and the flags.
func (d *decodeState) regexp(off int) (perlcompat.Value, error) {
	if d.pos >= len(d.src) {
		return nil, d.truncated(off, opRegexp, "op flags")
	}
	opFlags := d.src[d.pos]
	d.pos++
	var n uint32
	if opFlags&1 != 0 {
		var ok bool
		if n, ok = d.u32(); !ok {
			return nil, d.truncated(off, opRegexp, "pattern length")
		}
	} else {
		if d.pos >= len(d.src) {
			return nil, d.truncated(off, opRegexp, "pattern length")
		}
		n = uint32(d.src[d.pos])
		d.pos++
	}
	pat, ok := d.str(uint64(n))
	if !ok {
		return nil, d.truncated(off, opRegexp, fmt.Sprintf("%d-byte pattern, %d bytes left", n, len(d.src)-d.pos))
	}
	if d.pos >= len(d.src) {
		return nil, d.truncated(off, opRegexp, "flags length")
	}
	fl := d.src[d.pos]
	d.pos++
	flags, ok := d.str(uint64(fl))
	if !ok {
		return nil, d.truncated(off, opRegexp, "flags")
	}
	return perlcompat.Str{S: "(?^" + flags + ":" + pat + ")"}, nil
}
