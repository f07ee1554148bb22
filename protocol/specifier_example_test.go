package protocol_test

import (
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

func ExampleParseSpecifier() {
	for _, s := range []string{"poe://Server/svc/echo", "//K/s", "poe://K/s/e?x", "poe://K/s/IKC:proxy"} {
		sp, err := protocol.ParseSpecifier(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q: kernel=%q session=%q state=%q args=%q\n", s, sp.Kernel, sp.Session, sp.State, sp.Args)
	}
	// Output:
	// "poe://Server/svc/echo": kernel="Server" session="svc" state="echo" args=""
	// "//K/s": kernel="K" session="" state="s" args=""
	// "poe://K/s/e?x": kernel="K" session="s" state="e" args="x"
	// ikc: invalid specifier "poe://K/s/IKC:proxy": matches neither poe://kernel/session/state nor kernel-less form
}

func ExampleSpecifier_String() {
	fmt.Println(protocol.Specifier{Kernel: "K", Session: "s", State: "e"})
	fmt.Println(protocol.Specifier{Kernel: "K", State: "e"}) // lossy: reads back as session "e"
	// Output:
	// poe://K/s/e
	// poe://K/e
}

func ExampleSpecifierFromValue() {
	// An rsvp as a full IKC kernel sends it: the session is a numeric ID.
	rsvp := perlcompat.NewHash().
		Set("kernel", perlcompat.Text("TestClient")).
		Set("session", perlcompat.Int(2)).
		Set("state", perlcompat.Text("echo_reply"))
	sp, err := protocol.SpecifierFromValue(rsvp)
	fmt.Printf("kernel=%q session=%q state=%q err=%v\n", sp.Kernel, sp.Session, sp.State, err)
	// Output:
	// kernel="TestClient" session="2" state="echo_reply" err=<nil>
}
