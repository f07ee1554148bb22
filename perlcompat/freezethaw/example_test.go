package freezethaw_test

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
)

func Example() {
	req := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/echo")).
		Set("params", perlcompat.NewArray(perlcompat.Int(42), perlcompat.Text("hi")))
	frame, err := freezethaw.Freezer{}.Freeze(nil, req)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", frame)

	v, err := freezethaw.Freezer{}.Thaw(frame)
	if err != nil {
		panic(err)
	}
	params := v.(*perlcompat.Hash).Get("params").(*perlcompat.Array)
	fmt.Printf("%#v\n", params.Elems[0]) // FreezeThaw has no numbers
	// Output:
	// FrT;@1|%4|$5|event$6|params$21|poe://Server/svc/echo@2|$2|42$2|hi
	// perlcompat.Str{S:"42", UTF8:false}
}

// Character strings with non-ASCII characters would kill the Perl peer,
// so Freeze refuses them.
func ExampleEncoder_Freeze_refusesText() {
	_, err := freezethaw.Freezer{}.Freeze(nil, perlcompat.NewHash().Set("name", perlcompat.Text("café")))
	fmt.Println(errors.Is(err, freezethaw.ErrNonASCIIText))
	// Output: true
}
