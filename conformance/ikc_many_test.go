package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/internal/leaktest"
)

// TestSixtyFourPerlClientsAtOnce starts 64 real Perl IKC client processes
// against one kernel; every one must get its echo back identical to what a
// Perl server would return, and exit on its own.
func TestSixtyFourPerlClientsAtOnce(t *testing.T) {
	needIKC(t)
	if testing.Short() {
		t.Skip("-short: 64 Perl processes take a while on 2 cores")
	}
	leaktest.Check(t)
	_, addr, _, _ := goKernel(t, "GoSrv", nil)
	const n = 64
	peers := make([]*perlPeer, n)
	for i := range peers {
		peers[i] = startIKCPeer(t, "ikc_client.pl", "--connect", "tcp:"+addr, "--server", "GoSrv",
			"--scenario", "echo", "--name", fmt.Sprintf("Many%02d", i), "--timeout", "120")
	}
	ok := 0
	for i, p := range peers {
		events := p.wait(180 * time.Second)
		echo := findEvents(events, "echo_reply")
		if len(findEvents(events, "done")) == 1 && len(echo) == 1 && echo[0]["same"] == float64(1) {
			ok++
		} else {
			t.Errorf("client %d: %v\n%s", i, events, p.stderr.String())
		}
	}
	if ok != n {
		t.Errorf("%d of %d Perl clients answered", ok, n)
	}
}
