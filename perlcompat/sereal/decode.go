package sereal

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/big"
	"unicode/utf8"

	"github.com/golang/snappy"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/internal/slab"
)

// Sereal tags (sereal_spec.pod). The high bit of a tag byte is the track
// flag: the item may be the target of a later REFP, ALIAS or OBJECTV.
const (
	tagPOS0          = 0x00 // 0x00-0x0f: 0..15
	tagNEG16         = 0x10 // 0x10-0x1f: -16..-1
	tagVARINT        = 0x20
	tagZIGZAG        = 0x21
	tagFLOAT         = 0x22
	tagDOUBLE        = 0x23
	tagLONGDOUBLE    = 0x24
	tagUNDEF         = 0x25
	tagBINARY        = 0x26
	tagSTRUTF8       = 0x27
	tagREFN          = 0x28
	tagREFP          = 0x29
	tagHASH          = 0x2a
	tagARRAY         = 0x2b
	tagOBJECT        = 0x2c
	tagOBJECTV       = 0x2d
	tagALIAS         = 0x2e
	tagCOPY          = 0x2f
	tagWEAKEN        = 0x30
	tagREGEXP        = 0x31
	tagOBJECTFREEZE  = 0x32
	tagOBJECTVFREEZE = 0x33
	tagNO            = 0x34 // protocol 5: a Perl 5.36 boolean (SvIsBOOL) false
	tagYES           = 0x35 // protocol 5: a Perl 5.36 boolean true
	tagFLOAT128      = 0x38 // IEEE binary128, from Perls with __float128 NVs
	tagCANONUNDEF    = 0x39
	tagFALSE         = 0x3a
	tagTRUE          = 0x3b
	tagMANY          = 0x3c
	tagPACKETSTART   = 0x3d
	tagEXTEND        = 0x3e
	tagPAD           = 0x3f
	tagARRAYREF0     = 0x40 // 0x40-0x4f: ref to array of 0..15 items
	tagHASHREF0      = 0x50 // 0x50-0x5f: ref to hash of 0..15 pairs
	tagSHORTBINARY0  = 0x60 // 0x60-0x7f: byte string of 0..31 bytes
	trackFlag        = 0x80
)

const (
	magicV1   = "=srl"        // protocols 1 and 2
	magicV3   = "=\xf3rl"     // protocol 3 and up
	magicUTF8 = "=\xc3\xb3rl" // a v3 magic that went through a UTF-8 encoder
	docRaw    = 0             // body types, high nibble of the version byte
	docSnappy = 1             // v1 only: whole rest of document is snappy
	docSnapIn = 2             // varint length + snappy
	docZlib   = 3             // varint inflated length, varint length, zlib
	docZstd   = 4             // varint length + zstd
)

// Thaw decodes one Sereal document. A document whose root is a reference to
// a hash (what IKC sends) gives a *Hash; other roots give their Value.
//
// Thaw follows Sereal::Decoder 5.003 except where that decoder would build
// a broken Perl value or needs Perl code; those documents are errors here:
// a bare ARRAY or HASH not behind a reference ("Bizarre copy" in Perl),
// COPY of anything but a plain scalar, ALIAS of a container, REGEXP and
// OBJECT_FREEZE (they would need Perl to run THAW), invalid UTF-8 in a
// STR_UTF8, and bytes after the root item other than PAD (Perl ignores
// them). Duplicate hash keys are an error, as in Perl.
func (f *Freezer) Thaw(payload []byte) (v perlcompat.Value, err error) {
	return f.thaw(payload, nil)
}

// ThawAllowing is Thaw that fails with perlcompat.ErrClassNotAllowed on
// an OBJECT whose class allow refuses, asking once per class name
// written (an OBJECTV reuses a name already asked about).
func (f *Freezer) ThawAllowing(payload []byte, allow func(class string) bool) (perlcompat.Value, error) {
	return f.thaw(payload, allow)
}

func (f *Freezer) thaw(payload []byte, allow func(string) bool) (v perlcompat.Value, err error) {
	var d decoder // on the stack: one allocation fewer per message
	if err := f.initDecoder(&d, payload); err != nil {
		return nil, err
	}
	d.allow = allow
	defer func() {
		// Last line of defence only: every path above validates before
		// it indexes or allocates. A panic here is a bug; report it as a
		// decode error rather than take the gateway down with it.
		if r := recover(); r != nil {
			v, err = nil, &DecodeError{Offset: d.pos, Err: fmt.Errorf("internal error: %v", r)}
		}
	}()
	v, err = d.root()
	if err != nil {
		return nil, err
	}
	return v, nil
}

// entity is an item decoded with the track flag: what a later REFP, ALIAS
// or OBJECTV at its offset refers to.
type entity struct {
	container perlcompat.Value // *Array or *Hash, for a tracked ARRAY/HASH tag
	val       perlcompat.Value // content of a tracked scalar SV
	done      bool
	ref       *perlcompat.Ref // references to the scalar SV share this pointer
}

// refTo returns "a reference to the item": the container itself (slots
// holding *Array are references to it), or the one *Ref standing for
// references to the scalar SV, so that sharing survives.
func (e *entity) refTo() perlcompat.Value {
	if e.container != nil {
		return e.container
	}
	if e.ref == nil {
		e.ref = &perlcompat.Ref{Target: e.val}
	}
	return e.ref
}

type decoder struct {
	allow func(class string) bool // nil: every class
	body  []byte
	sbody string // body copied once: decoded strings are slices of it

	slab     slab.Slab // values, containers and their slices
	pos      int
	base     int // protocol offset of body[0]
	version  int
	depth    int
	maxDepth int
	tracked  map[int]*entity
	classes  map[int]string
	copies   map[int]perlcompat.Value

	// retrack is the offset a COPY just copied when that item carried the
	// track flag, else -1. Sereal::Decoder then tracks the copy under that
	// offset, so a later REFP refers to the copy, not the original.
	retrack int
	// last is the entity of the scalar sv just decoded, when tracked.
	last *entity
}

func (d *decoder) errAt(pos int, err error) error { return &DecodeError{Offset: pos, Err: err} }

func (d *decoder) errf(pos int, format string, a ...any) error {
	return &DecodeError{Offset: pos, Err: fmt.Errorf(format, a...)}
}

// initDecoder sets d up for the document p: header read, body
// inflated, slab sized.
func (f *Freezer) initDecoder(d *decoder, p []byte) error {
	bad := func(off int, format string, a ...any) error {
		return &DecodeError{Offset: off, Err: fmt.Errorf(format, a...)}
	}
	if len(p) < 6 {
		if len(p) >= 4 && string(p[:4]) != magicV1 && string(p[:4]) != magicV3 {
			return bad(0, "not a Sereal document (magic %q)", p[:4])
		}
		return &DecodeError{Offset: len(p), Err: ErrTruncated}
	}
	magic := string(p[:4])
	if len(p) >= 5 && string(p[:5]) == magicUTF8 {
		return bad(0, "document was UTF-8 encoded after Sereal encoding")
	}
	if magic != magicV1 && magic != magicV3 {
		return bad(0, "not a Sereal document (magic %q)", p[:4])
	}
	version, typ := int(p[4]&0x0f), int(p[4]>>4)
	switch {
	case version < 1 || version > 5:
		return bad(4, "protocol version %d: %w", version, ErrUnsupported)
	case magic == magicV1 && version >= 3, magic == magicV3 && version < 3:
		return bad(0, "magic %q does not match protocol version %d", p[:4], version)
	}
	if f.peer != nil {
		f.peer.Store(int32(version))
	}
	*d = decoder{version: version, maxDepth: f.maxDepth, retrack: -1}
	d.body, d.pos = p, 5
	suffix, err := d.uvarint()
	if err != nil {
		return err
	}
	if suffix > uint64(len(p)-d.pos) {
		return bad(5, "header suffix of %d bytes: %w", suffix, ErrTruncated)
	}
	// The suffix holds optional user metadata (a Sereal body of its own,
	// v2+); IKC never sets it and nothing here exposes it, so skip it.
	start := d.pos + int(suffix)
	body := p[start:]
	switch typ {
	case docRaw:
	case docSnappy, docSnapIn:
		if typ == docSnappy && version != 1 {
			return bad(4, "non-incremental Snappy in protocol %d", version)
		}
		if typ == docSnapIn {
			d.pos = start
			n, err := d.uvarint()
			if err != nil {
				return err
			}
			if n > uint64(len(p)-d.pos) {
				return bad(start, "Snappy body of %d bytes: %w", n, ErrTruncated)
			}
			body = p[d.pos : d.pos+int(n)]
		}
		// Snappy expands at most about 22 times (a 3-byte copy of 64
		// bytes), so a larger claimed length is a lie; refusing it keeps
		// the allocation bounded by the bytes received.
		n, err := snappy.DecodedLen(body)
		if err != nil || n > f.maxInflate || n > 32*len(body)+64 {
			return bad(start, "Snappy body inflates to %d bytes (limit %d): %v", n, f.maxInflate, err)
		}
		if body, err = snappy.Decode(nil, body); err != nil {
			return bad(start, "Snappy: %v", err)
		}
	case docZlib:
		if version < 3 {
			return bad(4, "zlib body in protocol %d", version)
		}
		d.pos = start
		size, err := d.uvarint()
		if err != nil {
			return err
		}
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n > uint64(len(p)-d.pos) {
			return bad(start, "zlib body of %d bytes: %w", n, ErrTruncated)
		}
		if size > uint64(f.maxInflate) {
			return bad(start, "zlib body inflates to %d bytes (limit %d)", size, f.maxInflate)
		}
		zr, err := zlib.NewReader(bytes.NewReader(p[d.pos : d.pos+int(n)]))
		if err != nil {
			return bad(d.pos, "zlib: %v", err)
		}
		// Grow with the data actually inflated rather than trusting the
		// declared size: a 20-byte document may claim any size.
		var out bytes.Buffer
		if _, err := io.Copy(&out, io.LimitReader(zr, int64(size)+1)); err != nil {
			return bad(d.pos, "zlib: %v", err)
		}
		if uint64(out.Len()) != size {
			return bad(d.pos, "zlib body inflates to %d bytes, header says %d", out.Len(), size)
		}
		body = out.Bytes()
	case docZstd:
		return bad(4, "zstd-compressed body: %w", ErrUnsupported)
	default:
		return bad(4, "document type %d: %w", typ, ErrUnsupported)
	}
	d.body, d.pos = body, 0
	d.slab, d.sbody = slab.NewForDense(body)
	if version == 1 {
		// Protocol 1 offsets count from the first byte of the document.
		d.base = start
	} else {
		// Later protocols count from the body, the first byte being 1.
		d.base = 1
	}
	return nil
}

func (d *decoder) root() (perlcompat.Value, error) {
	d.skipPad()
	if d.pos < len(d.body) {
		switch d.body[d.pos] &^ trackFlag {
		case tagARRAY, tagHASH:
			return nil, d.errf(d.pos, "root is a bare ARRAY or HASH, not a reference")
		}
	}
	v, err := d.sv()
	if err != nil {
		return nil, err
	}
	d.skipPad()
	if d.pos != len(d.body) {
		return nil, d.errf(d.pos, "%d bytes after the root item", len(d.body)-d.pos)
	}
	return v, nil
}

func (d *decoder) skipPad() {
	for d.pos < len(d.body) && d.body[d.pos]&^trackFlag == tagPAD {
		d.pos++
	}
}

func (d *decoder) uvarint() (uint64, error) {
	var x uint64
	for i, shift := 0, uint(0); ; i, shift = i+1, shift+7 {
		if d.pos >= len(d.body) {
			return 0, d.errAt(d.pos, ErrTruncated)
		}
		b := d.body[d.pos]
		d.pos++
		if i == 9 && b > 1 {
			return 0, d.errf(d.pos-1, "varint overflows 64 bits")
		}
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x, nil
		}
	}
}

// count reads a length or count and checks it against the bytes left, each
// unit taking at least per bytes: this is what bounds allocations by the
// size of the document.
func (d *decoder) count(per int) (int, error) {
	at := d.pos
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.body)-d.pos)/uint64(per) {
		return 0, d.errf(at, "length %d exceeds the %d bytes left: %w", n, len(d.body)-d.pos, ErrTruncated)
	}
	return int(n), nil
}

// offset reads a back-reference offset (protocol units) for the item at
// body position at. It must not point after that item; it may point at the
// item itself, which is how a tracked REFP says "$x = \$x".
func (d *decoder) offset(at int) (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(at+d.base) || int(n) < d.base {
		return 0, d.errf(at, "offset %d does not point before this item", n)
	}
	return int(n), nil
}

func (d *decoder) take(n int) ([]byte, error) {
	if n > len(d.body)-d.pos {
		return nil, d.errAt(d.pos, ErrTruncated)
	}
	b := d.body[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

// takeStr is take as a slice of the body's one string copy.
func (d *decoder) takeStr(n int) (string, error) {
	if n > len(d.body)-d.pos {
		return "", d.errAt(d.pos, ErrTruncated)
	}
	str := d.sbody[d.pos : d.pos+n]
	d.pos += n
	return str, nil
}

func (d *decoder) enter(at int) error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.errf(at, "%w (limit %d)", ErrTooDeep, d.maxDepth)
	}
	return nil
}

// sv decodes one item that fills a scalar slot: a scalar, or a reference
// (*Array, *Hash, *Ref).
func (d *decoder) sv() (perlcompat.Value, error) {
	d.skipPad()
	at := d.pos
	if err := d.enter(at); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	if at >= len(d.body) {
		return nil, d.errAt(at, ErrTruncated)
	}
	tag := d.body[at]
	d.pos++
	var e *entity
	if tag&trackFlag != 0 {
		tag &^= trackFlag
		e = &entity{}
		if d.tracked == nil {
			d.tracked = make(map[int]*entity)
		}
		d.tracked[at+d.base] = e
	}
	d.retrack = -1
	v, err := d.svTag(at, tag)
	if err != nil {
		return nil, err
	}
	if tag == tagCOPY && d.retrack >= 0 {
		if e == nil {
			e = &entity{}
		}
		d.tracked[d.retrack] = e
		d.retrack = -1
	}
	if e != nil {
		e.val, e.done = v, true
		if e.ref != nil {
			e.ref.Target = v
		}
	}
	d.last = e
	return v, nil
}

func (d *decoder) svTag(at int, tag byte) (perlcompat.Value, error) {
	switch {
	case tag < tagNEG16:
		return perlcompat.Int(tag), nil
	case tag < tagVARINT:
		return perlcompat.Int(int(tag) - 32), nil
	case tag >= tagSHORTBINARY0:
		str, err := d.takeStr(int(tag - tagSHORTBINARY0))
		if err != nil {
			return nil, err
		}
		return d.slab.Str(perlcompat.Str{S: str}), nil
	case tag >= tagHASHREF0:
		h := d.slab.Hash()
		return h, d.hashBody(h, int(tag-tagHASHREF0))
	case tag >= tagARRAYREF0:
		a := d.slab.Array()
		return a, d.arrayBody(a, int(tag-tagARRAYREF0))
	}
	switch tag {
	case tagVARINT:
		u, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return perlcompat.Uint(u), nil
		}
		return d.slab.Int(perlcompat.Int(u)), nil
	case tagZIGZAG:
		u, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		return d.slab.Int(perlcompat.Int(int64(u>>1) ^ -int64(u&1))), nil
	case tagFLOAT:
		b, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return perlcompat.Float(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case tagDOUBLE:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return perlcompat.Float(math.Float64frombits(binary.LittleEndian.Uint64(b))), nil
	case tagLONGDOUBLE:
		b, err := d.take(16)
		if err != nil {
			return nil, err
		}
		return perlcompat.Float(longDouble(b)), nil
	case tagUNDEF, tagCANONUNDEF:
		return perlcompat.Undef{}, nil
	case tagTRUE, tagYES:
		return perlcompat.Bool(true), nil
	case tagFALSE, tagNO:
		return perlcompat.Bool(false), nil
	case tagFLOAT128:
		b, err := d.take(16)
		if err != nil {
			return nil, err
		}
		return perlcompat.Float(float128(b)), nil
	case tagBINARY, tagSTRUTF8:
		str, err := d.str(at, tag)
		if err != nil {
			return nil, err
		}
		return d.slab.Str(str), nil
	case tagREFN:
		return d.refTarget()
	case tagREFP:
		off, err := d.offset(at)
		if err != nil {
			return nil, err
		}
		e := d.tracked[off]
		if e == nil {
			return nil, d.errf(at, "REFP(%d) to an item that is not tracked", off)
		}
		return e.refTo(), nil
	case tagALIAS:
		off, err := d.offset(at)
		if err != nil {
			return nil, err
		}
		e := d.tracked[off]
		switch {
		case e == nil:
			return nil, d.errf(at, "ALIAS(%d) to an item that is not tracked", off)
		case e.container != nil:
			return nil, d.errf(at, "ALIAS(%d) to an ARRAY or HASH", off)
		case !e.done:
			return nil, d.errf(at, "ALIAS(%d) to an item that contains it", off)
		}
		// The model has no identity for scalars: the aliased slot
		// gets the same value.
		return e.val, nil
	case tagCOPY:
		return d.copyOf(at)
	case tagHASH, tagARRAY:
		return nil, d.errf(at, "bare ARRAY or HASH where a scalar belongs (no REFN before it)")
	case tagOBJECT, tagOBJECTV:
		class, err := d.className(at, tag)
		if err != nil {
			return nil, err
		}
		v, err := d.sv()
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case *perlcompat.Hash:
			x.Class = class
		case *perlcompat.Array:
			x.Class = class
		case *perlcompat.Ref:
			x.Class = class
		default:
			return nil, d.errf(at, "OBJECT blesses a non-reference")
		}
		return v, nil
	case tagWEAKEN:
		v, err := d.sv()
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case *perlcompat.Hash, *perlcompat.Array, *perlcompat.Ref:
			// A weak reference is carried as a plain one.
			return v, nil
		}
		return nil, d.errf(at, "WEAKEN of a non-reference")
	case tagREGEXP:
		return nil, d.errf(at, "REGEXP: %w", ErrUnsupported)
	case tagOBJECTFREEZE, tagOBJECTVFREEZE:
		return nil, d.errf(at, "OBJECT_FREEZE (needs the class's THAW method): %w", ErrUnsupported)
	case tagMANY, tagPACKETSTART, tagEXTEND:
		return nil, d.errf(at, "tag 0x%02x: %w", tag, ErrUnsupported)
	}
	return nil, d.errf(at, "reserved tag 0x%02x", tag)
}

// str reads a BINARY or STR_UTF8 body (the tag is already consumed).
func (d *decoder) str(at int, tag byte) (perlcompat.Str, error) {
	n, err := d.count(1)
	if err != nil {
		return perlcompat.Str{}, err
	}
	str, _ := d.takeStr(n)
	if tag == tagBINARY {
		return perlcompat.Str{S: str}, nil
	}
	if !utf8.ValidString(str) {
		return perlcompat.Str{}, d.errf(at, "STR_UTF8 is not valid UTF-8")
	}
	return perlcompat.Str{S: str, UTF8: true}, nil
}

// refTarget decodes what follows a REFN: a container (the reference is
// then the *Array or *Hash itself) or a scalar SV (a *Ref to it).
func (d *decoder) refTarget() (perlcompat.Value, error) {
	d.skipPad()
	at := d.pos
	if at >= len(d.body) {
		return nil, d.errAt(at, ErrTruncated)
	}
	tag := d.body[at]
	if t := tag &^ trackFlag; t == tagARRAY || t == tagHASH {
		d.pos++
		var c perlcompat.Value
		var a *perlcompat.Array
		var h *perlcompat.Hash
		if t == tagARRAY {
			a = d.slab.Array()
			c = a
		} else {
			h = d.slab.Hash()
			c = h
		}
		if tag&trackFlag != 0 {
			// Registered before the contents, so a REFP inside finds it
			// (a cycle).
			if d.tracked == nil {
				d.tracked = make(map[int]*entity)
			}
			d.tracked[at+d.base] = &entity{container: c, done: true}
		}
		if t == tagARRAY {
			n, err := d.count(1)
			if err != nil {
				return nil, err
			}
			return a, d.arrayBody(a, n)
		}
		n, err := d.count(2)
		if err != nil {
			return nil, err
		}
		return h, d.hashBody(h, n)
	}
	v, err := d.sv()
	if err != nil {
		return nil, err
	}
	if d.last != nil {
		// The scalar is tracked (or re-tracked by COPY): references to
		// it share one *Ref.
		return d.last.refTo(), nil
	}
	return &perlcompat.Ref{Target: v}, nil
}

func (d *decoder) arrayBody(a *perlcompat.Array, n int) error {
	if n > len(d.body)-d.pos {
		return d.errAt(d.pos, ErrTruncated)
	}
	elems := d.slab.Values(n)
	for i := range elems {
		v, err := d.sv()
		if err != nil {
			return err
		}
		elems[i] = v
	}
	a.Elems = elems
	return nil
}

// keyIndexThreshold is the size from which duplicate keys are found with a
// map instead of a linear scan, so a hostile 100 000-key hash costs linear
// time.
const keyIndexThreshold = 16

func (d *decoder) hashBody(h *perlcompat.Hash, n int) error {
	if n > (len(d.body)-d.pos)/2 {
		return d.errAt(d.pos, ErrTruncated)
	}
	h.Entries = d.slab.Entries(n)
	var index map[string]struct{}
	if n > keyIndexThreshold {
		index = make(map[string]struct{}, n)
	}
	for i := 0; i < n; i++ {
		at := d.pos
		k, err := d.key()
		if err != nil {
			return err
		}
		if index != nil {
			ck := canonicalKey(k)
			if _, dup := index[ck]; dup {
				return d.errf(at, "duplicate key %q in hash", k.Chars())
			}
			index[ck] = struct{}{}
		} else if h.Index(k) >= 0 {
			return d.errf(at, "duplicate key %q in hash", k.Chars())
		}
		v, err := d.sv()
		if err != nil {
			return err
		}
		h.Entries = append(h.Entries, perlcompat.Entry{Key: k, Value: v})
	}
	return nil
}

// canonicalKey gives one spelling per Perl hash key: the same characters
// are the same key whatever the UTF8 flag (perlcompat.SameKey).
func canonicalKey(k perlcompat.Str) string {
	if s, ok := k.Downgrade(); ok {
		return "b" + s
	}
	return "u" + k.S
}

// key reads a hash key: a string tag or a COPY of one. Keys are never
// back-reference targets, so a track flag on them is ignored.
func (d *decoder) key() (perlcompat.Str, error) {
	d.skipPad()
	return d.strAt(d.pos)
}

// className reads the class of an OBJECT (a string, remembered under its
// offset for OBJECTV) or looks up the one an OBJECTV names.
func (d *decoder) className(at int, tag byte) (string, error) {
	if tag == tagOBJECTV {
		off, err := d.offset(at)
		if err != nil {
			return "", err
		}
		c, ok := d.classes[off]
		if !ok {
			return "", d.errf(at, "OBJECTV(%d) does not name a class seen before", off)
		}
		return c, nil
	}
	d.skipPad()
	cat := d.pos
	s, err := d.strAt(cat)
	if err != nil {
		return "", err
	}
	if s.S == "" {
		return "", d.errf(cat, "OBJECT class name is not a non-empty string")
	}
	if d.classes == nil {
		d.classes = make(map[int]string)
	}
	c := s.Chars()
	if d.allow != nil && !d.allow(c) {
		return "", d.errf(cat, "%w: %q", perlcompat.ErrClassNotAllowed, c)
	}
	d.classes[cat+d.base] = c
	return c, nil
}

// copyOf decodes a COPY: the plain scalar at an earlier offset, again.
// Results are cached per offset, so copies share their strings and a
// document full of COPY tags cannot allocate more than its own size.
func (d *decoder) copyOf(at int) (perlcompat.Value, error) {
	off, err := d.offset(at)
	if err != nil {
		return nil, err
	}
	if tp := off - d.base; d.body[tp]&trackFlag != 0 && d.tracked != nil {
		d.retrack = off
	}
	if v, ok := d.copies[off]; ok {
		return v, nil
	}
	save := d.pos
	d.pos = off - d.base
	v, err := d.plainAt(d.pos)
	d.pos = save
	if err != nil {
		return nil, err
	}
	if d.copies == nil {
		d.copies = make(map[int]perlcompat.Value)
	}
	d.copies[off] = v
	return v, nil
}

// strAt decodes the string at d.pos == at, or a COPY of an earlier one:
// a hash key or a class name. The string is not boxed (a key lives in
// its entry), which spared a call's decode two allocations.
func (d *decoder) strAt(at int) (perlcompat.Str, error) {
	if at >= len(d.body) {
		return perlcompat.Str{}, d.errAt(at, ErrTruncated)
	}
	tag := d.body[at] &^ trackFlag
	d.pos++
	if tag == tagCOPY {
		v, err := d.copyOf(at)
		if err != nil {
			return perlcompat.Str{}, err
		}
		s, ok := v.(perlcompat.Str)
		if !ok {
			return perlcompat.Str{}, d.errf(at, "COPY of a non-string where a string belongs")
		}
		return s, nil
	}
	if s, ok, err := d.stringTag(at, tag); ok {
		return s, err
	}
	return perlcompat.Str{}, d.errf(at, "tag 0x%02x where a string belongs", tag)
}

// plainAt decodes the item at d.pos == at, which must be a plain scalar:
// what a COPY may point at (never another COPY).
func (d *decoder) plainAt(at int) (perlcompat.Value, error) {
	if at >= len(d.body) {
		return nil, d.errAt(at, ErrTruncated)
	}
	tag := d.body[at] &^ trackFlag
	d.pos++
	if s, ok, err := d.stringTag(at, tag); ok {
		if err != nil {
			return nil, err
		}
		return d.slab.Str(s), nil
	}
	switch {
	case tag < tagVARINT, tag >= tagVARINT && tag <= tagUNDEF, tag == tagFLOAT128,
		tag == tagCANONUNDEF, tag == tagTRUE, tag == tagFALSE, tag == tagYES, tag == tagNO:
		return d.svTag(at, tag)
	}
	return nil, d.errf(at, "COPY of tag 0x%02x (only plain scalars can be copied)", tag)
}

// stringTag reads the string of the SHORT_BINARY, BINARY or STR_UTF8 tag
// at at, d.pos being just past the tag; ok is false for any other tag.
func (d *decoder) stringTag(at int, tag byte) (s perlcompat.Str, ok bool, err error) {
	switch {
	case tag >= tagSHORTBINARY0:
		str, err := d.takeStr(int(tag - tagSHORTBINARY0))
		return perlcompat.Str{S: str}, true, err
	case tag == tagBINARY || tag == tagSTRUTF8:
		s, err := d.str(at, tag)
		return s, true, err
	}
	return perlcompat.Str{}, false, nil
}

// longDouble converts an x86 80-bit extended float (little-endian, in 16
// bytes, as Perl with long-double NVs writes it) to the nearest float64.
func longDouble(b []byte) float64 {
	se := binary.LittleEndian.Uint16(b[8:10])
	mant := new(big.Int).SetUint64(binary.LittleEndian.Uint64(b[:8])) // explicit integer bit
	frac := new(big.Int).SetUint64(binary.LittleEndian.Uint64(b[:8]) << 1)
	return extended(se&0x8000 != 0, int(se&0x7fff), mant, frac, 63)
}

// float128 converts an IEEE 754 binary128 (little-endian) to the nearest
// float64.
func float128(b []byte) float64 {
	hi := binary.LittleEndian.Uint64(b[8:])
	lo := binary.LittleEndian.Uint64(b[:8])
	exp := int(hi >> 48 & 0x7fff)
	frac := new(big.Int).SetUint64(hi & (1<<48 - 1))
	frac.Lsh(frac, 64).Or(frac, new(big.Int).SetUint64(lo))
	mant := new(big.Int).Set(frac)
	if exp != 0 {
		mant.SetBit(mant, 112, 1) // implicit integer bit
	}
	return extended(hi>>63 != 0, exp, mant, frac, 112)
}

// extended returns ±mant × 2^(exp−16383−fracBits) for the formats with a
// 15-bit exponent; exponent 0x7fff is infinity when the fraction is zero,
// else NaN. Exponent 0 (subnormals) has the scale of exponent 1.
func extended(neg bool, exp int, mant, frac *big.Int, fracBits int) float64 {
	if exp == 0x7fff {
		if frac.Sign() != 0 {
			return math.NaN()
		}
		if neg {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	if exp == 0 {
		exp = 1
	}
	f, _ := new(big.Float).SetMantExp(new(big.Float).SetInt(mant), exp-16383-fracBits).Float64()
	if neg {
		f = -f
	}
	return f
}
