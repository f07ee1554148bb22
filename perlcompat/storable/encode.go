package storable

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ikcgate/ikcgate/perlcompat"
)

// Encoder writes network-order Storable images. The zero value is ready to
// use with DefaultLimits.
type Encoder struct {
	// Limits: MaxDepth bounds nesting (an error, never a stack overflow,
	// for deep or runaway data); MaxElements is not applied when
	// encoding.
	Limits Limits
}

// NFreeze appends the image of v to dst using DefaultLimits. See
// Encoder.NFreeze.
func NFreeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	var e Encoder
	return e.NFreeze(dst, v)
}

// NFreeze appends the image Perl's Storable::nfreeze would write for v to
// dst: header 05 0b, then v's referent. v must be a *Hash, *Array or *Ref
// (Storable freezes references); anything else is ErrNotReference.
//
// Only opcodes Storable 3.26 reads are written, the way Perl 5.36 writes
// its own scalars, so a Perl thaw sees what Go had:
//   - Undef: SX_UNDEF. Bool: the strings "1" and "" (as Perl 5.36
//     stores booleans).
//   - Int and Uint: SX_BYTE (-128..127), SX_NETINT (int32), else the
//     decimal string.
//   - Float: an integral value below 2^53 as an integer (as above);
//     anything else as Perl's %.15g string, "NaN", "Inf" or "-Inf".
//   - Str: SX_SCALAR/SX_LSCALAR for bytes, SX_UTF8STR/SX_LUTF8STR when the
//     UTF8 flag is set (255/256 bytes is the short/long boundary).
//   - *Hash: SX_HASH, or SX_FLAG_HASH when a key has the UTF8 flag (even
//     an ASCII one: Perl keeps the flag through a thaw); such a key goes
//     downgraded to Latin-1 with flag 0x02 when every character fits, else
//     as UTF-8 with flag 0x01. Keys are
//     written in Entries order; duplicates are not removed.
//   - Blessing: SX_BLESS the first time a class appears, SX_IX_BLESS after.
//   - A *Array, *Hash or *Ref met again (shared reference or cycle) is
//     written as a reference to SX_OBJECT and its tag, as Perl does.
//
// On error dst is returned unchanged (same length) with the error.
func (e *Encoder) NFreeze(dst []byte, v perlcompat.Value) ([]byte, error) {
	if err := e.Limits.Validate(); err != nil {
		return dst, err
	}
	switch x := v.(type) {
	case *perlcompat.Hash, *perlcompat.Array, *perlcompat.Ref:
		_ = x
	default:
		return dst, fmt.Errorf("%w, not %s", ErrNotReference, typeName(v))
	}
	// The state escapes (its methods recurse); a pool spares a request an
	// allocation of it.
	st := encodeStates.Get().(*encodeState)
	defer func() {
		*st = encodeState{}
		encodeStates.Put(st)
	}()
	st.buf, st.maxDepth = append(dst, 0x05, 0x0b), e.Limits.withDefaults().MaxDepth
	st.seenList = st.seenBuf[:0] // a request's few containers need no allocation
	if err := st.referent(v, 1); err != nil {
		return dst, err
	}
	return st.buf, nil
}

var encodeStates = sync.Pool{New: func() any { return new(encodeState) }}

func typeName(v perlcompat.Value) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// seenSmall is how many pointers are searched linearly before switching
// to a map: IKC messages hold a handful of containers.
const seenSmall = 16

type seenPtr struct {
	p   perlcompat.Value
	tag uint32
}

type encodeState struct {
	buf      []byte
	tag      uint32 // next tag
	maxDepth int

	seenList []seenPtr
	seenBuf  [8]seenPtr
	seenMap  map[perlcompat.Value]uint32
	classes  []string // index = class number
	classMap map[string]uint32
}

func (e *encodeState) lookup(p perlcompat.Value) (uint32, bool) {
	if e.seenMap != nil {
		t, ok := e.seenMap[p]
		return t, ok
	}
	for i := range e.seenList {
		if e.seenList[i].p == p {
			return e.seenList[i].tag, true
		}
	}
	return 0, false
}

func (e *encodeState) remember(p perlcompat.Value, tag uint32) {
	if e.seenMap != nil {
		e.seenMap[p] = tag
		return
	}
	if len(e.seenList) < seenSmall {
		e.seenList = append(e.seenList, seenPtr{p, tag})
		return
	}
	e.seenMap = make(map[perlcompat.Value]uint32, 2*seenSmall)
	for _, s := range e.seenList {
		e.seenMap[s.p] = s.tag
	}
	e.seenMap[p] = tag
}

func (e *encodeState) u32(n uint32) {
	e.buf = append(e.buf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (e *encodeState) tooDeep(depth int) error {
	return fmt.Errorf("storable: %w: depth %d, limit %d", ErrTooDeep, depth, e.maxDepth)
}

// bless writes the class marker for a blessed referent.
func (e *encodeState) bless(class string) error {
	if class == "" {
		return nil
	}
	if ix, ok := e.classIndex(class); ok {
		e.buf = append(e.buf, opIxBless)
		e.shortLen(ix)
		return nil
	}
	if uint64(len(class)) > math.MaxUint32 {
		return fmt.Errorf("storable: %w: class name of %d bytes", ErrTooLarge, len(class))
	}
	ix := uint32(len(e.classes))
	e.classes = append(e.classes, class)
	if e.classMap != nil {
		e.classMap[class] = ix
	} else if len(e.classes) > seenSmall {
		e.classMap = make(map[string]uint32, 2*seenSmall)
		for i, c := range e.classes {
			e.classMap[c] = uint32(i)
		}
	}
	e.buf = append(e.buf, opBless)
	e.shortLen(uint32(len(class)))
	e.buf = append(e.buf, class...)
	return nil
}

func (e *encodeState) classIndex(class string) (uint32, bool) {
	if e.classMap != nil {
		ix, ok := e.classMap[class]
		return ix, ok
	}
	for i, c := range e.classes {
		if c == class {
			return uint32(i), true
		}
	}
	return 0, false
}

// shortLen writes Storable's "1 byte up to 127, else 0x80 and U32".
func (e *encodeState) shortLen(n uint32) {
	if n <= 127 {
		e.buf = append(e.buf, byte(n))
		return
	}
	e.buf = append(e.buf, 0x80)
	e.u32(n)
}

// referent writes the thing v references: an array, a hash, or (for *Ref)
// the scalar or reference it points to. A referent written before becomes
// SX_OBJECT with its tag.
func (e *encodeState) referent(v perlcompat.Value, depth int) error {
	if t, ok := e.lookup(v); ok {
		e.buf = append(e.buf, opObject)
		e.u32(t)
		return nil
	}
	switch x := v.(type) {
	case *perlcompat.Array:
		if x == nil {
			return fmt.Errorf("%w: nil *Array", ErrUnsupportedValue)
		}
		if depth > e.maxDepth {
			return e.tooDeep(depth)
		}
		e.remember(v, e.tag)
		e.tag++
		if err := e.bless(x.Class); err != nil {
			return err
		}
		if uint64(len(x.Elems)) > math.MaxInt32 {
			return fmt.Errorf("storable: %w: array of %d elements", ErrTooLarge, len(x.Elems))
		}
		e.buf = append(e.buf, opArray)
		e.u32(uint32(len(x.Elems)))
		for _, el := range x.Elems {
			if err := e.slot(el, depth+1); err != nil {
				return err
			}
		}
		return nil
	case *perlcompat.Hash:
		if x == nil {
			return fmt.Errorf("%w: nil *Hash", ErrUnsupportedValue)
		}
		if depth > e.maxDepth {
			return e.tooDeep(depth)
		}
		e.remember(v, e.tag)
		e.tag++
		if err := e.bless(x.Class); err != nil {
			return err
		}
		return e.hash(x, depth)
	case *perlcompat.Ref:
		if x == nil {
			return fmt.Errorf("%w: nil *Ref", ErrUnsupportedValue)
		}
		// The referent is the target item, which takes the next tag.
		e.remember(v, e.tag)
		if err := e.bless(x.Class); err != nil {
			return err
		}
		return e.slot(x.Target, depth)
	}
	return fmt.Errorf("%w: %s", ErrUnsupportedValue, typeName(v))
}

func (e *encodeState) hash(h *perlcompat.Hash, depth int) error {
	if uint64(len(h.Entries)) > math.MaxInt32 {
		return fmt.Errorf("storable: %w: hash of %d keys", ErrTooLarge, len(h.Entries))
	}
	flagged := false
	for i := range h.Entries {
		if h.Entries[i].Key.UTF8 {
			flagged = true
			break
		}
	}
	if flagged {
		e.buf = append(e.buf, opFlagHash, 0)
	} else {
		e.buf = append(e.buf, opHash)
	}
	e.u32(uint32(len(h.Entries)))
	for i := range h.Entries {
		en := &h.Entries[i]
		if err := e.slot(en.Value, depth+1); err != nil {
			return err
		}
		k := en.Key
		if uint64(len(k.S)) > math.MaxInt32 {
			return fmt.Errorf("storable: %w: key of %d bytes", ErrTooLarge, len(k.S))
		}
		if !flagged {
			e.u32(uint32(len(k.S)))
			e.buf = append(e.buf, k.S...)
			continue
		}
		switch {
		case !k.UTF8:
			e.buf = append(e.buf, 0)
			e.u32(uint32(len(k.S)))
			e.buf = append(e.buf, k.S...)
		case fitsLatin1(k.S):
			e.buf = append(e.buf, keyWasUTF8)
			e.u32(uint32(utf8.RuneCountInString(k.S)))
			for _, r := range k.S {
				e.buf = append(e.buf, byte(r))
			}
		default:
			e.buf = append(e.buf, keyUTF8)
			e.u32(uint32(len(k.S)))
			e.buf = append(e.buf, k.S...)
		}
	}
	return nil
}

// fitsLatin1 reports whether every character of the UTF-8 text s is below
// 256, so Perl stores the key downgraded. Invalid UTF-8 does not fit: its
// bytes go as they are, flagged UTF-8, as Perl would carry them.
func fitsLatin1(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r > 0xff || (r == utf8.RuneError && n == 1) {
			return false
		}
		i += n
	}
	return true
}

// slot writes v as it sits in an array element, a hash value or a
// reference's target: a scalar item, or SX_REF and the referent.
func (e *encodeState) slot(v perlcompat.Value, depth int) error {
	switch x := v.(type) {
	case nil, perlcompat.Undef:
		e.buf = append(e.buf, opUndef)
	case perlcompat.Str:
		if err := e.str(x); err != nil {
			return err
		}
	case perlcompat.Int:
		e.int(int64(x))
	case perlcompat.Uint:
		if x <= math.MaxInt32 {
			e.int(int64(x))
		} else {
			e.buf = append(e.buf, opScalar, 0)
			n := len(e.buf)
			e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
			e.buf[n-1] = byte(len(e.buf) - n)
		}
	case perlcompat.Float:
		e.float(float64(x))
	case perlcompat.Bool:
		if x {
			e.buf = append(e.buf, opScalar, 1, '1')
		} else {
			e.buf = append(e.buf, opScalar, 0)
		}
	case *perlcompat.Array, *perlcompat.Hash, *perlcompat.Ref:
		if depth > e.maxDepth {
			return e.tooDeep(depth)
		}
		e.buf = append(e.buf, opRef)
		e.tag++
		return e.referent(v, depth+1)
	default:
		return fmt.Errorf("%w: %s", ErrUnsupportedValue, typeName(v))
	}
	e.tag++
	return nil
}

func (e *encodeState) str(s perlcompat.Str) error {
	short, long := byte(opScalar), byte(opLScalar)
	if s.UTF8 {
		short, long = opUTF8Str, opLUTF8Str
	}
	switch n := len(s.S); {
	case n <= 255:
		e.buf = append(e.buf, short, byte(n))
	case uint64(n) <= math.MaxUint32:
		e.buf = append(e.buf, long)
		e.u32(uint32(n))
	default:
		return fmt.Errorf("storable: %w: string of %d bytes", ErrTooLarge, n)
	}
	e.buf = append(e.buf, s.S...)
	return nil
}

// int writes an integer as Perl's nfreeze does: SX_BYTE, SX_NETINT, or the
// decimal string when it needs more than 32 bits.
func (e *encodeState) int(v int64) {
	switch {
	case v >= -128 && v <= 127:
		e.buf = append(e.buf, opByte, byte(v+128))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.buf = append(e.buf, opNetint)
		e.u32(uint32(int32(v)))
	default:
		e.buf = append(e.buf, opScalar, 0)
		n := len(e.buf)
		e.buf = strconv.AppendInt(e.buf, v, 10)
		e.buf[n-1] = byte(len(e.buf) - n)
	}
}

// maxExactInt is 2^53: Perl gives an integral NV an integer value (and
// Storable then stores an integer) only below this, where the double is
// exact.
const maxExactInt = 1 << 53

func (e *encodeState) float(f float64) {
	if f == math.Trunc(f) && f < maxExactInt && f > -maxExactInt {
		e.int(int64(f))
		return
	}
	s := perlcompat.FormatFloat(f)
	e.buf = append(e.buf, opScalar, byte(len(s)))
	e.buf = append(e.buf, s...)
}
