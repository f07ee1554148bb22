package sereal

import "testing"

// A table reset after a big message is kept, empty, for the next one; a
// small message leaves it sparse, and then it goes.
func TestPtrTableResetKeepsAWellUsedTableEmptyAndDropsASparseOne(t *testing.T) {
	var tb ptrTable
	keys := make([]uintptr, 5000)
	for i := range keys {
		keys[i] = uintptr(i+1) * 16
	}
	for round := range 3 {
		for want := 1; want <= 2; want++ {
			for _, k := range keys {
				if got := tb.add(k); got != want {
					t.Fatalf("round %d: key %#x counted %d, want %d", round, k, got, want)
				}
			}
		}
		size := len(tb.slots)
		tb.reset()
		if len(tb.slots) != size || tb.n != 0 {
			t.Fatalf("round %d: a table of %d slots, well used, was not kept empty: %d slots, %d entries", round, size, len(tb.slots), tb.n)
		}
	}
	tb.add(16) // a small message on the kept table
	tb.reset()
	if tb.slots != nil {
		t.Fatalf("a sparse table of %d slots was kept", len(tb.slots))
	}
	if got := tb.add(16); got != 1 {
		t.Fatalf("after a reset, a key counted %d", got)
	}
}
