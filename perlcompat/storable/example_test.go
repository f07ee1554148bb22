package storable_test

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

func ExampleNFreeze() {
	msg := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Srv/test/posted")).
		Set("params", perlcompat.Text("hello"))
	img, err := storable.NFreeze(nil, msg)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", img)
	// Output:
	// 050b03000000020a15706f653a2f2f5372762f746573742f706f73746564000000056576656e740a0568656c6c6f00000006706172616d73
}

func ExampleThaw() {
	// [$h, $h] with $h = {z => 1}, as Perl's nfreeze writes it.
	img := []byte("\x05\x0b\x02\x00\x00\x00\x02\x04\x03\x00\x00\x00\x01\x08\x81\x00\x00\x00\x01z\x04\x00\x00\x00\x00\x02")
	v, err := storable.Thaw(img)
	if err != nil {
		panic(err)
	}
	a := v.(*perlcompat.Array)
	h := a.Elems[0].(*perlcompat.Hash)
	fmt.Println(len(a.Elems), h.Get("z"), a.Elems[0] == a.Elems[1])
	// Output: 2 1 true
}

func ExampleDecodeError() {
	_, err := storable.Thaw([]byte{0x05, 0x0b, 0x13, 0x00})
	fmt.Println(err)
	// Output: storable: SX_HOOK (0x13) at offset 2: unsupported opcode
}
