package protocol_test

import (
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

func ExampleDecodeRequest() {
	// A call as a Perl IKC::Client sends it (the value a freezer thawed).
	msg := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/echo")).
		Set("params", perlcompat.Text("echo me")).
		Set("rsvp", perlcompat.NewHash().
			Set("kernel", perlcompat.Text("TestClient")).
			Set("session", perlcompat.Int(2)).
			Set("state", perlcompat.Text("echo_reply")))
	req, err := protocol.DecodeRequest(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Event, req.IsCall(), req.Rsvp)

	// The reply addresses the rsvp exactly as received: session stays 2.
	reply, _ := protocol.NewReply(req, perlcompat.Text("echo me"))
	reply.From = protocol.ProxyFrom("vm-6b04cc82-00000574-00000001", "svc")
	ev := reply.Value().Get("event").(*perlcompat.Hash)
	fmt.Printf("%#v\n", ev.Get("session"))
	// Output:
	// poe://Server/svc/echo true poe://TestClient/2/echo_reply
	// 2
}

func ExampleRequest_RemoteError() {
	msg := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/not_published")).
		Set("params", perlcompat.Text("x"))
	req, _ := protocol.DecodeRequest(msg)
	report := req.RemoteError("vm-6b04cc88-000006e0-00000001",
		"Session 'svc' has not published state 'not_published'", protocol.StepCheck)
	fmt.Println(report.Event, report.IsError)
	for _, p := range report.Params.(*perlcompat.Array).Elems {
		s, _ := perlcompat.StringOf(p)
		fmt.Println(s)
	}
	// Output:
	// poe://vm-6b04cc88-000006e0-00000001/IKC/remote_error true
	// Session 'svc' has not published state 'not_published'.  Request poe://Server/svc/not_published
	// Server
	// check
}

func ExampleDecodeRequest_problems() {
	// A from that is a string: Perl would die when the handler posts back.
	msg := perlcompat.NewHash().
		Set("event", perlcompat.Text("poe://Server/svc/echo")).
		Set("from", perlcompat.Text("poe://Evil/x"))
	req, err := protocol.DecodeRequest(msg)
	fmt.Println(errors.Is(err, protocol.ErrFromNotHash), req.From == nil, req.Event)
	// Output:
	// true true poe://Server/svc/echo
}
