package json_test

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/json"
)

func Example() {
	f, err := json.New(json.Config{}) // negotiates as "ikcgate::JSON"
	if err != nil {
		panic(err)
	}
	req := perlcompat.NewHash().
		Set("params", perlcompat.NewArray(perlcompat.Str{S: "caf\xe9"}, perlcompat.Float(0.5), perlcompat.Bool(true))).
		Set("event", perlcompat.Text("poe://Server/svc/echo"))
	payload, err := f.Freeze(nil, req)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(payload))

	_, err = f.Freeze(nil, &perlcompat.Hash{Class: "My::Object"})
	fmt.Println(errors.Is(err, json.ErrUnsupported))
	// Output:
	// {"event":"poe://Server/svc/echo","params":["café",0.5,true]}
	// true
}
