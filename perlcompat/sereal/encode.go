package sereal

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Freeze appends the Sereal document for v to dst, in the configured
// protocol version, without compression, as Sereal::Encoder->encode($ref)
// does in the Perl adapter.
//
// IKC freezes the request hash, so v is normally a *Hash (written as a
// reference to a hash, as Perl writes \%h); any Value is accepted, as
// Sereal::Encoder accepts any scalar.
//
// What is kept: byte strings (BINARY) versus UTF-8 strings (STR_UTF8, even
// when ASCII), integers (Int, Uint), floats (DOUBLE), undef, Bool (TRUE and
// FALSE from protocol 3, YES and NO from 5; 1 and "" before protocol 3
// and, before 5, for a Bool a *Ref points at), blessing (OBJECT, then OBJECTV for a class seen before), and
// sharing: a *Array, *Hash or *Ref pointer met again is written as REFP to
// its first occurrence, which also makes cycles safe. Repeated hash keys of
// four bytes or more are written as COPY, as Sereal::Encoder does by
// default.
//
// Freeze fails on a Str flagged UTF8 that is not valid UTF-8 and on nesting
// deeper than MaxDepth.
func (f *Freezer) Freeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	version := f.writeVersion()
	e := encoders.Get().(*encoder)
	defer e.release()
	e.version, e.maxDepth = version, f.maxDepth
	if err := e.countRefs(v, 0); err != nil {
		return dst, err
	}
	start := len(dst)
	if version >= 3 {
		dst = append(dst, magicV3...)
	} else {
		dst = append(dst, magicV1...)
	}
	dst = append(dst, byte(version), 0) // raw body, empty header suffix
	e.buf = dst
	if version == 1 {
		e.base = -start
	} else {
		e.base = 1 - len(dst)
	}
	if err := e.sv(v, false, 0); err != nil {
		return dst[:start], err
	}
	return e.buf, nil
}

type encoder struct {
	buf      []byte
	base     int // protocol offset = len(buf) + base
	version  int
	maxDepth int
	refs     ptrTable          // references to each container/Ref, and where a shared one went
	shared   int               // how many of them are shared: with none, nothing need be found in refs
	classes  map[string]int    // offset of a class name string
	keys     [2]map[string]int // offset of a hash key string, +1, by its UTF8 flag (0 bytes, 1 characters): a string key takes the map's fast path
	keyCache [16]keyEntry      // recent keys, before keys: a hash key repeats in every record
	keysSeen bool              // keyCache holds some
}

// encoders keeps encoders between messages: with their tables inline
// an encoder is over a kilobyte, and zeroing a fresh one cost a small
// message a third of its time.
var encoders = sync.Pool{New: func() any { return new(encoder) }}

// release empties e (a big message's maps are dropped, a small one's
// kept) and returns it to the pool.
func (e *encoder) release() {
	e.buf = nil
	e.refs.reset()
	e.shared = 0
	for i, m := range e.keys {
		if len(m) > 64 {
			e.keys[i] = nil
		}
		clear(e.keys[i])
	}
	if len(e.classes) > 64 {
		e.classes = nil
	}
	clear(e.classes)
	if e.keysSeen {
		clear(e.keyCache[:])
		e.keysSeen = false
	}
	encoders.Put(e)
}

func (e *encoder) offset() int { return len(e.buf) + e.base }

// sharedSlot returns the refs slot of container v, or nil when no
// container of the message is shared: then every one is written once, as
// it is met, and a message of many small records (most messages) skips a
// table lookup per record, a sixth of a 1 MB message's encode.
func (e *encoder) sharedSlot(v perlcompat.Value) *ptrSlot {
	if e.shared == 0 {
		return nil
	}
	return e.refs.find(ptrKey(v))
}

func (e *encoder) tooDeep() error {
	return &EncodeError{Err: fmt.Errorf("%w (limit %d)", ErrTooDeep, e.maxDepth)}
}

// countRefs counts the references to every *Array, *Hash and *Ref, so that
// the first occurrence of a shared one can carry the track flag before the
// encoder knows it will be met again.
func (e *encoder) countRefs(v perlcompat.Value, depth int) error {
	switch v.(type) {
	case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
	default:
		return nil
	}
	if depth >= e.maxDepth {
		return e.tooDeep()
	}
	if n := e.refs.add(ptrKey(v)); n > 1 {
		if n == 2 {
			e.shared++
		}
		return nil
	}
	switch x := v.(type) {
	case *perlcompat.Array:
		for _, el := range x.Elems {
			if err := e.countRefs(el, depth+1); err != nil {
				return err
			}
		}
	case *perlcompat.Hash:
		for _, en := range x.Entries {
			if err := e.countRefs(en.Value, depth+1); err != nil {
				return err
			}
		}
	case *perlcompat.Ref:
		return e.countRefs(x.Target, depth+1)
	}
	return nil
}

func (e *encoder) varint(u uint64) {
	e.buf = binary.AppendUvarint(e.buf, u)
}

// sv writes the item filling one scalar slot. track puts the track flag on
// it: a shared *Ref points at this scalar. referenced says a *Ref points at
// it: TRUE/FALSE there would make Perl reference its read-only immortals
// (blessing such a ref dies), so before protocol 5 (YES/NO) a referenced
// Bool goes as 1 or "".
func (e *encoder) sv(v perlcompat.Value, track bool, depth int) error {
	return e.svr(v, track, false, depth)
}

func (e *encoder) svr(v perlcompat.Value, track, referenced bool, depth int) error {
	if depth > e.maxDepth {
		return e.tooDeep()
	}
	var tf byte
	if track {
		tf = trackFlag
	}
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		e.buf = append(e.buf, tagUNDEF|tf)
	case perlcompat.Bool:
		switch {
		case e.version >= 5 && bool(x):
			e.buf = append(e.buf, tagYES|tf)
		case e.version >= 5:
			e.buf = append(e.buf, tagNO|tf)
		case e.version >= 3 && !referenced && bool(x):
			e.buf = append(e.buf, tagTRUE|tf)
		case e.version >= 3 && !referenced:
			e.buf = append(e.buf, tagFALSE|tf)
		case bool(x):
			e.buf = append(e.buf, tagPOS0+1|tf)
		default:
			e.buf = append(e.buf, tagSHORTBINARY0|tf)
		}
	case perlcompat.Int:
		e.int(int64(x), tf)
	case perlcompat.Uint:
		e.buf = append(e.buf, tagVARINT|tf)
		e.varint(uint64(x))
	case perlcompat.Float:
		e.buf = append(e.buf, tagDOUBLE|tf)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(float64(x)))
	case perlcompat.Str:
		return e.str(x, tf)
	case *perlcompat.Array, *perlcompat.Hash:
		return e.container(x, tf, depth)
	case *perlcompat.Ref:
		ps := e.sharedSlot(x)
		if ps != nil && ps.off > 0 {
			e.buf = append(e.buf, tagREFP|tf)
			e.varint(uint64(ps.off - 1))
			return nil
		}
		if x.Class != "" {
			e.object(x.Class, tf)
			tf = 0
		}
		e.buf = append(e.buf, tagREFN|tf)
		shared := ps != nil && ps.count > 1
		if shared {
			ps.off = e.offset() + 1
		}
		return e.svr(x.Target, shared, true, depth+1)
	default:
		return &EncodeError{Err: fmt.Errorf("unknown value type %T", v)}
	}
	return nil
}

func (e *encoder) int(i int64, tf byte) {
	switch {
	case i >= 0 && i < 16:
		e.buf = append(e.buf, tagPOS0+byte(i)|tf)
	case i < 0 && i >= -16:
		e.buf = append(e.buf, byte(32+i)|tf)
	case i > 0:
		e.buf = append(e.buf, tagVARINT|tf)
		e.varint(uint64(i))
	default:
		e.buf = append(e.buf, tagZIGZAG|tf)
		e.varint(uint64(i<<1) ^ uint64(i>>63))
	}
}

func (e *encoder) str(s perlcompat.Str, tf byte) error {
	switch {
	case s.UTF8:
		if !utf8.ValidString(s.S) {
			return &EncodeError{Err: fmt.Errorf("character string %q is not valid UTF-8", s.S)}
		}
		e.buf = append(e.buf, tagSTRUTF8|tf)
		e.varint(uint64(len(s.S)))
	case len(s.S) < 32:
		e.buf = append(e.buf, tagSHORTBINARY0+byte(len(s.S))|tf)
	default:
		e.buf = append(e.buf, tagBINARY|tf)
		e.varint(uint64(len(s.S)))
	}
	e.buf = append(e.buf, s.S...)
	return nil
}

// object writes OBJECT and the class name, or OBJECTV naming the class
// string written before.
func (e *encoder) object(class string, tf byte) {
	if off, ok := e.classes[class]; ok {
		e.buf = append(e.buf, tagOBJECTV|tf)
		e.varint(uint64(off))
		return
	}
	e.buf = append(e.buf, tagOBJECT|tf)
	if e.classes == nil {
		e.classes = make(map[string]int)
	}
	e.classes[class] = e.offset()
	e.str(perlcompat.Text(class), 0) //nolint:errcheck // Text never gives invalid UTF-8 a UTF8 flag
}

// container writes a reference to an array or hash: REFP when it was
// written before; otherwise REFN + ARRAY/HASH (tracked when shared), or the
// one-byte ARRAYREF_n/HASHREF_n forms for small unshared ones.
func (e *encoder) container(v perlcompat.Value, tf byte, depth int) error {
	ps := e.sharedSlot(v)
	if ps != nil && ps.off > 0 {
		e.buf = append(e.buf, tagREFP|tf)
		e.varint(uint64(ps.off - 1))
		return nil
	}
	var class string
	var n int
	a, isArray := v.(*perlcompat.Array)
	h, _ := v.(*perlcompat.Hash)
	if isArray {
		class, n = a.Class, len(a.Elems)
	} else {
		class, n = h.Class, len(h.Entries)
	}
	if class != "" {
		e.object(class, tf)
		tf = 0
	}
	shared := ps != nil && ps.count > 1
	switch {
	case !shared && tf == 0 && n < 16 && isArray:
		e.buf = append(e.buf, tagARRAYREF0+byte(n))
	case !shared && tf == 0 && n < 16:
		e.buf = append(e.buf, tagHASHREF0+byte(n))
	default:
		// A tracked ARRAYREF_n would track the reference, not the
		// array, so shared containers take the two-tag form.
		e.buf = append(e.buf, tagREFN|tf)
		if shared {
			ps.off = e.offset() + 1
			tf = trackFlag
		}
		if isArray {
			e.buf = append(e.buf, tagARRAY|tf)
		} else {
			e.buf = append(e.buf, tagHASH|tf)
		}
		e.varint(uint64(n))
	}
	if isArray {
		for _, el := range a.Elems {
			if err := e.sv(el, false, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, en := range h.Entries {
		if err := e.key(en.Key); err != nil {
			return err
		}
		if err := e.sv(en.Value, false, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// key writes a hash key, as COPY of an earlier identical key when that is
// shorter. A UTF-8 key that is plain ASCII is written as bytes: Perl
// stores such keys without the flag anyway.
func (e *encoder) key(k perlcompat.Str) error {
	if k.UTF8 && perlcompat.IsASCII(k.S) {
		k.UTF8 = false
	}
	if len(k.S) >= 4 {
		// By exact spelling, flag included: a COPY repeats the flag too.
		c := &e.keyCache[(len(k.S)+int(k.S[0])+int(k.S[len(k.S)-1]))&(len(e.keyCache)-1)]
		off, ok := c.off, c.off > 0 && c.key == k
		if !ok {
			off, ok = e.keys[btoi(k.UTF8)][k.S]
		}
		if ok {
			*c = keyEntry{k, off}
			e.buf = append(e.buf, tagCOPY)
			e.varint(uint64(off - 1))
			return nil
		}
		m := &e.keys[btoi(k.UTF8)]
		if *m == nil {
			*m = make(map[string]int)
		}
		e.keysSeen = true
		off = e.offset() + 1
		(*m)[k.S] = off
		*c = keyEntry{k, off}
	}
	return e.str(k, 0)
}

// keyEntry is a key and its offset +1 (0: an empty entry).
type keyEntry struct {
	key perlcompat.Str
	off int
}

// btoi is 1 for true: an index by flag.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
