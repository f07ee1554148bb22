package bufpool

import "testing"

func TestGetHasRoomAndPutRecyclesByClass(t *testing.T) {
	for _, n := range []int{0, 100, 64 << 10, 64<<10 + 1, 1 << 20, 3 << 20, 64 << 20, 65 << 20} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(Get(n))
		if cap(b) > 20 {
			Put(b[20:cap(b)]) // a frame's sub-slice files under a lower class
		}
	}
	// Whatever comes back still has the room asked for.
	for i := 0; i < 100; i++ {
		if b := Get(1<<20 + 5); cap(b) < 1<<20+5 {
			t.Fatalf("recycled buffer too small: %d", cap(b))
		}
	}
}
