package conformance

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// TestClientLiteAgainstGoKernel runs a real POE::Component::IKC::ClientLite
// against our kernel, in both dialogues: post, call in scalar and in list
// context, post_respond, a failing call (ClientLite reports it as its
// "ARRAY(0x...)" text) and a failing post, and then a call that proves the
// stream is still in step: ClientLite mis-reads everything after one
// unsolicited frame, so the kernel must send exactly one frame per pending
// request and nothing else.
func TestClientLiteAgainstGoKernel(t *testing.T) {
	needIKC(t)
	for _, protocol := range []string{"IKC0", "IKC"} {
		t.Run(protocol, func(t *testing.T) {
			leaktest.Check(t)
			_, addr, _, records := goKernel(t, "GoSrv", nil)
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			p := startIKCPeer(t, "ikc_lite.pl", "--port", port, "--server", "GoSrv", "--protocol", protocol, "--count", "3")
			events := p.wait(60 * time.Second)
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("ClientLite did not finish: %v\n%s", events, p.stderr.String())
			}
			d := func(vs ...perlcompat.Value) []any {
				out := make([]any, len(vs))
				for i, v := range vs {
					out[i] = Describe(v)
				}
				return out
			}
			latin1 := perlcompat.Bytes([]byte("caf\xe9"))
			var want []struct {
				ev  string
				ret []any
			}
			for i := 1; i <= 3; i++ {
				want = append(want, []struct {
					ev  string
					ret []any
				}{
					{"post", d(perlcompat.Int(1))},
					{"call_scalar", d(perlcompat.NewHash().Set("n", perlcompat.Int(int64(i))).Set("s", latin1))},
					{"call_list", d(perlcompat.Int(1), perlcompat.Int(2), perlcompat.Int(int64(i)))},
					{"post_respond", d(perlcompat.Int(42))},
				}...)
			}
			want = append(want, []struct {
				ev  string
				ret []any
			}{
				{"post_unpublished", d(perlcompat.Int(1))},
				{"call_after_errors", d(perlcompat.Text("still in sync"))},
			}...)
			steps := map[string][]perlEvent{}
			for _, e := range events {
				steps[e.str("ev")] = append(steps[e.str("ev")], e)
			}
			seen := map[string]int{}
			for _, w := range want {
				i := seen[w.ev]
				seen[w.ev]++
				if i >= len(steps[w.ev]) {
					t.Errorf("step %s #%d missing", w.ev, i)
					continue
				}
				e := steps[w.ev][i]
				if e["err"] != nil {
					t.Errorf("step %s #%d: ClientLite error %v", w.ev, i, e["err"])
				}
				if got := fmt.Sprint(e["ret"]); got != fmt.Sprint(w.ret) {
					t.Errorf("step %s #%d returned %v, want %v", w.ev, i, got, w.ret)
				}
			}
			bad := findEvents(events, "call_unpublished")
			if len(bad) != 1 || !strings.HasPrefix(bad[0].str("err"), "ARRAY(0x") {
				t.Errorf("a call to an unpublished state should fail in ClientLite's words: %v", bad)
			}
			for i := 1; i <= 3; i++ {
				select {
				case got := <-records:
					if len(got) != 1 || got[0] != perlcompat.Text(fmt.Sprintf("lite %d", i)) {
						t.Errorf("svc/record got %v", got)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("post %d never arrived", i)
				}
			}
		})
	}
}

// TestClientLiteIsNeverHeldByADelayedAck: ClientLite writes
// with Nagle on, so its call waits until its post before it is
// acknowledged. A post draws no answer to carry that ACK, and Linux
// delays a lone one by 40 ms: against Perl's own server each pair takes
// 44 ms. Our kernel acknowledges at once what it read and will not
// answer; each pair takes about a tenth of a millisecond here. The same
// holds for the legacy dialogue's DONE, which FREEZER follows: a legacy
// ClientLite connection took 44 ms to negotiate with Perl's server.
func TestClientLiteIsNeverHeldByADelayedAck(t *testing.T) {
	needIKC(t)
	if runtime.GOOS != "linux" {
		t.Skip("TCP_QUICKACK is Linux's; elsewhere the system's delayed-ACK timing stands")
	}
	for _, protocol := range []string{"IKC0", "IKC"} {
		t.Run(protocol, func(t *testing.T) {
			leaktest.Check(t)
			_, addr, _, records := goKernel(t, "GoSrv", nil) // svc/record's channel holds 100
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			p := startIKCPeer(t, "ikc_lite.pl", "--port", port, "--server", "GoSrv", "--protocol", protocol,
				"--scenario", "pairs", "--count", "30")
			events := p.wait(60 * time.Second)
			median := func(ev string) float64 {
				var us []float64
				for _, e := range findEvents(events, ev) {
					us = append(us, e["us"].(float64))
				}
				if len(us) != 30 {
					t.Fatalf("%d of 30 %ss done: %v\n%s", len(us), ev, events, p.stderr.String())
				}
				slices.Sort(us)
				return us[len(us)/2]
			}
			pair, connect := median("pair"), median("connect")
			for i := 1; i <= 30; i++ { // each post ran, in order, before its call
				select {
				case got := <-records:
					if len(got) != 1 || got[0] != perlcompat.Text(fmt.Sprintf("pair %d", i)) {
						t.Fatalf("svc/record got %v, want pair %d", got, i)
					}
				default:
					t.Fatalf("post %d never ran", i)
				}
			}
			if pair >= 30000 {
				t.Errorf("a post then a call took %.0f µs (median of 30): the call waited for the post's delayed ACK", pair)
			}
			if connect >= 30000 {
				t.Errorf("connecting took %.0f µs (median of 30): a line waited for a delayed ACK", connect)
			}
		})
	}
}
