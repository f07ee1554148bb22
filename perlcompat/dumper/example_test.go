package dumper_test

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
)

func Example() {
	text := []byte(`$POE::Component::IKC::Freezer::VAR1 = {'event' => 'poe://Server/svc/echo','params' => [42,'42',"\x{263a}"]};`)
	v, err := dumper.Freezer{}.Thaw(text) // parsed, never evaluated
	if err != nil {
		panic(err)
	}
	for _, e := range v.(*perlcompat.Hash).Get("params").(*perlcompat.Array).Elems {
		fmt.Printf("%#v\n", e)
	}
	out, _ := dumper.Freezer{}.Freeze(nil, v)
	fmt.Printf("%s\n", out)
	// Output:
	// 42
	// perlcompat.Str{S:"42", UTF8:false}
	// perlcompat.Str{S:"☺", UTF8:true}
	// $POE::Component::IKC::Freezer::VAR1 = {'event' => 'poe://Server/svc/echo','params' => [42,'42',"\x{263a}"]};
}

// Code is refused with its position, never run.
func ExampleDecoder_Thaw_refusesCode() {
	_, err := dumper.Decoder{}.Thaw([]byte(`$POE::Component::IKC::Freezer::VAR1 = {'a' => system('id')};`))
	fmt.Println(err)
	// Output: dumper: line 1 column 47 (offset 46): unsupported Perl: "system": function calls and code are not evaluated
}
