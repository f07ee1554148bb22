package conformance

import (
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// TestPerlClientWithEachFreezer runs the Perl client's whole scenario with
// each freezer a Perl kernel can offer out of the box, against a kernel
// that allows them all: the negotiated freezer is the one the client
// asked for, and the echo comes back as a Perl server's would.
func TestPerlClientWithEachFreezer(t *testing.T) {
	needIKC(t)
	for _, tc := range []struct {
		freezer string
		args    []string
	}{
		{"Storable", nil},
		{"FreezeThaw", []string{"--ascii"}},
		{"POE::Component::IKC::Freezer", nil},
	} {
		t.Run(tc.freezer, func(t *testing.T) {
			leaktest.Check(t)
			k, addr, _, _ := goKernel(t, "GoSrv", func(c *gateway.Config) {
				c.Freezers = []perlcompat.Freezer{storable.Freezer{}, freezethaw.Freezer{}, dumper.Freezer{}}
			})
			reg, _, stop := k.MonitorChan("*", 16)
			defer stop()
			args := append([]string{"--connect", "tcp:" + addr, "--server", "GoSrv", "--serializer", tc.freezer}, tc.args...)
			p := startIKCPeer(t, "ikc_client.pl", args...)
			events := p.wait(60 * time.Second)
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("scenario did not finish: %v\n%s", events, p.stderr.String())
			}
			if e := findEvents(events, "echo_reply"); len(e) != 1 || e[0]["same"] != float64(1) {
				t.Errorf("echo through %s changed the data: %v", tc.freezer, e)
			}
			for {
				select {
				case e := <-reg:
					if e.Kind != gateway.MonitorRegister {
						continue
					}
					if e.Freezer != tc.freezer {
						t.Errorf("negotiated %q, want %q", e.Freezer, tc.freezer)
					}
					return
				case <-time.After(time.Second):
					t.Fatal("no register event")
				}
			}
		})
	}
}
