package sereal

import "unsafe"

// ptrTable counts the references to each container (*Array, *Hash, *Ref)
// of the value being encoded and keeps the offset each shared one was
// written at. It is an open-addressed table keyed by address: Go maps
// keyed by the pointer were most of the encoder's time on a message of
// many small containers (hashing, probing and growing), where Perl's
// encoder reads the reference count it already has.
//
// Addresses identify containers: the value being encoded keeps them
// alive and Go's heap does not move objects.
type ptrTable struct {
	slots  []ptrSlot // len is a power of two, or 0
	n      int
	shift  uint
	inline [16]ptrSlot // the first slots: a request has a handful of containers
}

type ptrSlot struct {
	key   uintptr // 0: empty
	count int     // references met
	off   int     // the offset it was written at, +1; 0: not written yet
}

func ptrKey(v any) uintptr {
	return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1])
}

func (t *ptrTable) slot(k uintptr) int {
	return int((uint64(k) * 0x9E3779B97F4A7C15) >> t.shift)
}

// find returns k's slot, or nil.
func (t *ptrTable) find(k uintptr) *ptrSlot {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		switch s.key {
		case k:
			return s
		case 0:
			return nil
		}
	}
}

// add counts one more reference to k and returns its count.
func (t *ptrTable) add(k uintptr) int {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		switch s.key {
		case k:
			s.count++
			return s.count
		case 0:
			s.key, s.count = k, 1
			t.n++
			return 1
		}
	}
}

func (t *ptrTable) grow() {
	old := t.slots
	size := 2 * len(old)
	if old == nil {
		size = len(t.inline)
		t.slots = t.inline[:]
	} else {
		t.slots = make([]ptrSlot, size)
	}
	t.shift = uint(64 - bitsFor(size))
	t.n = 0
	mask := size - 1
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := t.slot(s.key)
		for t.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// reset empties t for the next message. A grown table that was well
// used is kept, cleared: the next message is likely as big, and growing
// to its size again (a new table at every doubling, 1.5 MB for a 1 MB
// message, and the collections they brought) was a third of the encode.
// A sparse one (a small message after a big one) or a huge one goes, so
// a run of small messages never clears big tables.
func (t *ptrTable) reset() {
	if t.slots != nil { // the inline slots were used, maybe before growing
		clear(t.inline[:])
	}
	if len(t.slots) > len(t.inline) && len(t.slots) <= maxKeptSlots && 8*t.n >= len(t.slots) {
		clear(t.slots)
		t.n = 0
		return
	}
	t.slots, t.n, t.shift = nil, 0, 0
}

// maxKeptSlots bounds the table reset keeps: 1.5 MiB of slots.
const maxKeptSlots = 1 << 16

// bitsFor is log2 of a power of two.
func bitsFor(size int) int {
	b := 0
	for size > 1 {
		size >>= 1
		b++
	}
	return b
}
