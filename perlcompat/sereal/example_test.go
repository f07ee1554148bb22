package sereal_test

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/sereal"
)

func Example() {
	// The name must be the one the Perl kernels offer; the captures use
	// the fixture adapter "IKCFixture::SerealFreezer".
	f, err := sereal.New(sereal.Config{Name: "ikcgate::Sereal"})
	if err != nil {
		panic(err)
	}
	req := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/echo")).
		Set("params", perlcompat.NewArray(perlcompat.Text("café"), perlcompat.Int(42)))
	payload, err := f.Freeze(nil, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", payload[:6])

	v, err := f.Thaw(payload)
	if err != nil {
		panic(err)
	}
	params := v.(*perlcompat.Hash).Get("params").(*perlcompat.Array)
	fmt.Printf("%#v %#v\n", params.Elems[0], params.Elems[1])
	// Output:
	// 3d f3 72 6c 03 00
	// perlcompat.Str{S:"café", UTF8:true} 42
}
