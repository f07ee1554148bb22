package storable

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are hand-made images for opcodes the captures lack.
var fuzzSeeds = []string{
	"050b020000000104110652656765787020000461622b630169",
	"050b02000000011d0676312e322e330a03010203",
	"050b02000000030e0e0881",
	"050b0200000002040f0410",
	"050b02000000022223",
	"050b0200000002040300000001088100000001611b0000000002",
	"050b02000000021411024f4c03000000001c0000000002",
	"040b0831323334353637380408080802060000000881070000000000000c40066079feffffffffff0600000000000100000a017806c800000000000000",
	"040b0434333231040404080200000002060000002a07400c000000000000",
	"70737430050b0200000001 0881",
	"050b1901000000030e14000000016208810000000001610e140000000163",
	"050b19000000000108 81 08 0a0178",
	"050b040000000000",
	"050b0200000001040000000000",
	"050b 02 00000002 03 00000000 00 00000001",
}

// FuzzThaw: Thaw never panics and only fails with *DecodeError; whatever
// it decodes, NFreeze writes, and that image thaws to the same value (as
// nfreeze carries it) and re-freezes to the same bytes.
func FuzzThaw(f *testing.F) {
	for _, fr := range storableCaptures(f) {
		f.Add(fr.Payload)
	}
	for _, tc := range vectors {
		f.Add(mustHex(f, tc.hex))
	}
	for _, h := range fuzzSeeds {
		f.Add(mustHex(f, h))
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		v, err := Thaw(img)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, not *DecodeError", err, err)
			}
			return
		}
		b1, err := NFreeze(nil, v)
		if errors.Is(err, ErrTooDeep) {
			return // an array or hash sitting in a slot without SX_REF gains a level
		}
		if err != nil {
			t.Fatalf("NFreeze of thawed value: %v", err)
		}
		v2, err := Thaw(b1)
		if err != nil {
			t.Fatalf("Thaw of NFreeze output %x: %v", b1, err)
		}
		if err := sameGraph(nfreezeView(v), v2); err != nil {
			t.Fatalf("round trip: %v\nfirst  %s\nsecond %s", err, describe(v), describe(v2))
		}
		b2, err := NFreeze(nil, v2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("NFreeze not stable:\n%x\n%x", b1, b2)
		}
	})
}
