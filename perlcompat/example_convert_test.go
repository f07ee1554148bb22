package perlcompat_test

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
)

func ExampleAsInt() {
	// A port that a Perl kernel once printed travels as the string "6667".
	v := perlcompat.Str{S: "6667"}
	port, err := perlcompat.AsInt(v)
	fmt.Println(port+1, err)

	// Hex is not a number to Perl's numification, so it is an error here.
	_, err = perlcompat.AsInt(perlcompat.Str{S: "0x1A"})
	fmt.Println(err)
	// Output:
	// 6668 <nil>
	// perlcompat: AsInt("0x1A"): not a number
}

type Request struct {
	Event   string   `perl:"event"`
	Args    []string `perl:"args,omitempty"`
	Retries int      `json:"retries"`
}

func ExampleFromGo() {
	v, err := perlcompat.FromGo(Request{Event: "ping", Retries: 3})
	if err != nil {
		panic(err)
	}
	for _, e := range v.(*perlcompat.Hash).Entries {
		fmt.Printf("%s => %#v\n", e.Key.S, e.Value)
	}
	// Output:
	// event => perlcompat.Str{S:"ping", UTF8:false}
	// retries => 3
}

func ExampleUnmarshal() {
	// What a Perl kernel sends: numbers that were used as strings stay strings.
	h := perlcompat.NewHash().
		Set("event", perlcompat.Str{S: "post"}).
		Set("args", perlcompat.NewArray(perlcompat.Str{S: "a"}, perlcompat.Int(2))).
		Set("retries", perlcompat.Str{S: "5"})
	var req Request
	if err := perlcompat.Unmarshal(h, &req); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", req)
	// Output:
	// {Event:post Args:[a 2] Retries:5}
}

func ExampleToGo() {
	h := perlcompat.NewHash().
		Set("name", perlcompat.Str{S: "caf\xe9"}).
		Set("list", perlcompat.NewArray(perlcompat.Int(1), perlcompat.Float(2.5), perlcompat.Undef{}))
	fmt.Println(perlcompat.ToGo(h))
	// Output:
	// map[list:[1 2.5 <nil>] name:café]
}
