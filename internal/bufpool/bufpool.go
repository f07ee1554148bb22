// Package bufpool recycles large byte buffers between frames. A fresh
// megabyte from the heap costs a page fault per 4 KiB on first touch,
// more than the copy into it: a 1 MB echo spent most of its time there.
// Buffers under 64 KiB are left to the allocator.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 16 // 64 KiB
	maxShift = 26 // 64 MiB
)

var pools [maxShift - minShift + 1]sync.Pool

// Get returns an empty buffer with room for at least n bytes.
func Get(n int) []byte {
	if n < 1<<minShift || n > 1<<maxShift {
		return make([]byte, 0, n)
	}
	c := bits.Len(uint(n - 1)) // the power of two at or above n
	if p, ok := pools[c-minShift].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// Put gives b's storage back for reuse; nothing may use b afterwards.
// Sub-slices are fine: b is filed by what is left of its capacity.
func Put(b []byte) {
	n := cap(b)
	if n < 1<<minShift || n > 1<<(maxShift+1)-1 {
		return
	}
	c := bits.Len(uint(n)) - 1 // the power of two at or below n
	if c > maxShift {
		c = maxShift
	}
	p := new([]byte) // only for pooled buffers: &b would move every b to the heap
	*p = b[:0]
	pools[c-minShift].Put(p)
}
