package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/daemon"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// e2eDemoHCL is the daemon's demo deployment: the built-in default with
// ephemeral ports.
const e2eDemoHCL = `
kernel {
  name = "ikcgate"
}
listen = ["tcp 127.0.0.1:0"]
operations {
  listen = "127.0.0.1:0"
}
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
`

// TestClientLiteAgainstDaemonDemo runs a real POE::Component::IKC::ClientLite
// (perl/ikc_lite.pl --scenario demo) against the daemon's demo session, in
// both dialogues, each against a fresh daemon, and checks every state as
// ClientLite returns it: echo gives the structure back unchanged in scalar
// context and the array's elements in list context; time is an integer
// within seconds of now; sleep 20 returns 20; two count
// posts then total give 12 on the same connection; fail is a ClientLite
// error (its "ARRAY(0x...)" text for a remote_error, as from a Perl
// server), and the connection stays in step after it; post_respond to
// respond gets its value posted back; whoami, the last call, answers
// with the caller's kernel name, freezer Storable and the dialogue
// negotiated.
func TestClientLiteAgainstDaemonDemo(t *testing.T) {
	needIKC(t)
	for _, protocol := range []string{"IKC0", "IKC"} {
		t.Run(protocol, func(t *testing.T) {
			leaktest.Check(t)
			gw := startE2EDaemon(t, e2eDemoHCL, daemon.Options{})
			name := "E2ELite" + protocol
			began := time.Now()
			p := startIKCPeer(t, "ikc_lite.pl", "--port", gw.port, "--server", "ikcgate", "--protocol", protocol, "--scenario", "demo", "--name", name)
			events := p.wait(60 * time.Second)
			ended := time.Now()
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("ClientLite did not finish: %v\n%s", events, p.stderr.String())
			}
			d := func(vs ...perlcompat.Value) string {
				out := make([]any, len(vs))
				for i, v := range vs {
					out[i] = Describe(v)
				}
				return fmt.Sprint(out)
			}
			step := func(ev string) perlEvent {
				t.Helper()
				es := findEvents(events, ev)
				if len(es) != 1 {
					t.Fatalf("step %s: %d events, want 1: %v", ev, len(es), events)
				}
				if ev != "fail" && es[0]["err"] != nil {
					t.Errorf("step %s: ClientLite error %v", ev, es[0]["err"])
				}
				return es[0]
			}
			ret := func(e perlEvent) string { return fmt.Sprint(e["ret"]) }
			two := perlcompat.Bytes([]byte("two"))

			// {n => 1, s => "caf\x{e9}", l => [1, 'two']}: a byte string
			// stays bytes, numbers stay integers.
			wantEcho := d(perlcompat.NewHash().
				Set("l", perlcompat.NewArray(perlcompat.Int(1), two)).
				Set("n", perlcompat.Int(1)).
				Set("s", perlcompat.Bytes([]byte("caf\xe9"))))
			if got := ret(step("echo_scalar")); got != wantEcho {
				t.Errorf("echo (scalar context) returned %s, want %s", got, wantEcho)
			}
			if got, want := ret(step("echo_list")), d(perlcompat.Int(1), two, perlcompat.Int(3)); got != want {
				t.Errorf("echo (list context) returned %s, want the list %s", got, want)
			}
			tm := step("time")["ret"].([]any)
			var secs int64
			if len(tm) == 1 {
				if s, ok := strings.CutPrefix(strings.TrimSpace(tm[0].(string)), "int "); ok {
					secs, _ = strconv.ParseInt(s, 10, 64)
				}
			}
			if secs < began.Unix()-2 || secs > ended.Unix()+2 {
				t.Errorf("time returned %v, want the epoch seconds between %d and %d", tm, began.Unix(), ended.Unix())
			}
			if got, want := ret(step("sleep")), d(perlcompat.Int(20)); got != want {
				t.Errorf("sleep 20 returned %s, want %s", got, want)
			}
			if got, want := ret(step("count")), d(perlcompat.Int(1), perlcompat.Int(1)); got != want {
				t.Errorf("the two count posts returned %s, want %s (both sent)", got, want)
			}
			if got, want := ret(step("total")), d(perlcompat.Int(12)); got != want {
				t.Errorf("total after count 5 and 7 returned %s, want %s", got, want)
			}
			fail := step("fail")
			if got, want := ret(fail), d(perlcompat.Undef{}); got != want {
				t.Errorf("fail returned %s, want %s", got, want)
			}
			if err, _ := fail["err"].(string); !strings.HasPrefix(err, "ARRAY(0x") {
				t.Errorf("fail: ClientLite error %q, want its text for a remote_error (ARRAY(0x...))", fail["err"])
			}
			wantBack := d(perlcompat.NewArray(perlcompat.Bytes([]byte("back")), perlcompat.NewHash().Set("n", perlcompat.Int(2))))
			if got := ret(step("respond")); got != wantBack {
				t.Errorf("post_respond to respond returned %s, want %s", got, wantBack)
			}
			wantWho := d(perlcompat.NewHash().
				Set("dialogue", perlcompat.Text(protocol)).
				Set("freezer", perlcompat.Text("Storable")).
				Set("kernel", perlcompat.Text(name)))
			if got := ret(step("whoami")); got != wantWho {
				t.Errorf("whoami returned %s, want %s", got, wantWho)
			}
			if err := gw.stop(); err != nil {
				t.Errorf("daemon drain: %v", err)
			}
		})
	}
}
