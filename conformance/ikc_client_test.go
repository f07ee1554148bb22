package conformance

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// TestPerlClientAgainstGoKernel runs a real POE::Component::IKC::Client
// through the whole scenario of perl/ikc_client.pl against our kernel: a
// call whose reply must come back identical to the last flag, post, ping,
// remote errors for an unpublished state, an unknown session and a failing
// handler, a list call, a SENDER post-back, a subscription and posts
// through the proxy with a post-back through it. Both dialogues, TCP and
// unix sockets. The Perl process must finish on its own, alive.
func TestPerlClientAgainstGoKernel(t *testing.T) {
	needIKC(t)
	for _, tc := range []struct{ name, transport, protocol string }{
		{"tcp-ikc0", "tcp", "IKC0"},
		{"tcp-legacy", "tcp", "IKC"},
		{"unix-ikc0", "unix", "IKC0"},
		{"unix-legacy", "unix", "IKC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			_, addr, path, records := goKernel(t, "GoSrv", nil)
			connect := "tcp:" + addr
			if tc.transport == "unix" {
				connect = "unix:" + path
			}
			p := startIKCPeer(t, "ikc_client.pl", "--connect", connect, "--server", "GoSrv", "--protocol", tc.protocol)
			events := p.wait(60 * time.Second)
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("the Perl client did not finish its scenario; events:\n%v\nstderr:\n%s", events, p.stderr.String())
			}
			echo := findEvents(events, "echo_reply")
			if len(echo) != 1 || echo[0]["same"] != float64(1) {
				t.Errorf("echo round trip changed the data: %v", echo)
			}
			if pong := findEvents(events, "pong"); len(pong) != 1 || pong[0].str("got") != "PONG" {
				t.Errorf("ping: %v", pong)
			}
			if lr := findEvents(events, "list_reply"); len(lr) != 1 || lr[0].str("got") != Describe(perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2), perlcompat.Int(3))) {
				t.Errorf("list reply: %v", lr)
			}
			acks := map[string][]any{}
			for _, e := range append(findEvents(events, "ack"), findEvents(events, "ack_proxy")...) {
				acks[e.str("ev")] = e["args"].([]any)
			}
			wantAcks := map[string][]any{"ack": {"5"}, "ack_proxy": {"proxy", "9"}}
			if diff := cmp.Diff(wantAcks, acks); diff != "" {
				t.Errorf("SENDER post-backs (-want +got):\n%s", diff)
			}
			if len(findEvents(events, "fail_reply_unexpected")) != 0 {
				t.Error("a failing handler's call got a reply")
			}
			// The Perl side's monitors saw us register under our ID and name.
			registered := map[string]bool{}
			for _, e := range findEvents(events, "monitor") {
				if e.str("what") == "register" {
					registered[e.str("name")] = true
				}
			}
			if !registered["GoSrv"] {
				t.Errorf("Perl never saw kernel GoSrv register: %v", findEvents(events, "monitor"))
			}
			want := [][]perlcompat.Value{
				{perlcompat.Text("hello")},
				{perlcompat.Text("via"), perlcompat.Text("proxy"), perlcompat.Int(3)},
			}
			for _, w := range want {
				select {
				case got := <-records:
					if diff := cmp.Diff(w, got); diff != "" {
						t.Errorf("svc/record args (-want +got):\n%s", diff)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("svc/record never got %v", w)
				}
			}
		})
	}
}
