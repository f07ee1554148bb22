package protocol_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/ikcgate/ikcgate/protocol"
)

// A server negotiator answering the SETUP line a real Perl IKC client sent
// (capture a-ikc0-default-posts), configured like the Perl server was.
func Example() {
	n, err := protocol.NewServerNegotiator(protocol.ServerConfig{
		KernelID: "vm-6b04cc82-00000539-00000001",
		Names:    []string{"Server", "127.0.0.1:37875"},
		Freezers: []string{"Storable"},
		PID:      1337,
	})
	if err != nil {
		panic(err)
	}
	send, err := n.Receive("SETUP KERNEL=vm-6b04cc82-00000569-00000001,TestClient,127.0.0.1:56262;" +
		"FREEZER=Storable,FreezeThaw,POE::Component::IKC::Freezer;PID=1385")
	if err != nil {
		panic(err)
	}
	for _, line := range send {
		fmt.Printf("%q\n", protocol.AppendLine(nil, line))
	}
	r := n.Result()
	fmt.Println(n.Done(), r.Dialogue, r.Freezer, r.PeerKernelID, r.PeerNames[1:], r.PeerPID)
	// Output:
	// "SETUP KERNEL=vm-6b04cc82-00000539-00000001,Server,127.0.0.1:37875;FREEZER=Storable;PID=1337\r\n"
	// true IKC0 Storable vm-6b04cc82-00000569-00000001 [TestClient 127.0.0.1:56262] 1385
}

// A legacy client (Perl's protocol=>'IKC') against a legacy server, with
// the server's lines as a Perl server sends them (capture g5): the first
// freezer offered is refused, the next accepted.
func ExampleClientNegotiator() {
	n, err := protocol.NewClientNegotiator(protocol.ClientConfig{
		KernelID:   "vm-6b04cc94-0000093d-00000001",
		Names:      []string{"TestClient", "127.0.0.1:43638"},
		Freezers:   []string{"IKCFixture::ClientOnlyFreezer", "Storable"},
		LegacyOnly: true,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("C>", n.Start())
	for _, line := range []string{
		"IAM vm-6b04cc94-0000090d-00000001", "IAM 127.0.0.1:41095", "IAM Server", "DONE",
		"OK", "OK", "OK", "NOT", "OK", "UP",
	} {
		send, err := n.Receive(line)
		if err != nil {
			panic(err)
		}
		reply := strings.Join(send, " | ")
		if reply == "" {
			reply = "(nothing: framed from here on)"
		}
		fmt.Printf("S> %-36s C> %s\n", line, reply)
	}
	r := n.Result()
	fmt.Println(r.Dialogue, r.Freezer, r.PeerNames)
	// Output:
	// C> [HELLO]
	// S> IAM vm-6b04cc94-0000090d-00000001    C> OK
	// S> IAM 127.0.0.1:41095                  C> OK
	// S> IAM Server                           C> OK
	// S> DONE                                 C> IAM vm-6b04cc94-0000093d-00000001
	// S> OK                                   C> IAM 127.0.0.1:43638
	// S> OK                                   C> IAM TestClient
	// S> OK                                   C> DONE | FREEZER IKCFixture::ClientOnlyFreezer
	// S> NOT                                  C> FREEZER Storable
	// S> OK                                   C> WORLD
	// S> UP                                   C> (nothing: framed from here on)
	// IKC Storable [vm-6b04cc94-0000090d-00000001 127.0.0.1:41095 Server]
}

// NewKernelID builds the ID a Perl kernel would have on host "vm".
func ExampleNewKernelID() {
	fmt.Println(protocol.NewKernelID("vm", time.Unix(0x6b04c5f1, 0), 5910, 1))
	fmt.Println(protocol.UnixServerName("/tmp/x/s.sock"))
	// Output:
	// vm-6b04c5f1-00001716-00000001
	// unix:_tmp_x_s.sock
}
