package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// TestPerlClientThroughGatewayToPerlServer is the migration: a real Perl
// IKC client talks to our kernel, which answers svc/fail itself (the state
// "moved to Go") and forwards the rest of svc to a real Perl IKC server.
// The client runs its whole scenario and must see exactly what it sees
// against a Perl server: echo identical to a Perl echo, post-backs
// (direct and through a proxy) from the Perl server's handlers, remote
// errors in the Perl server's words; the Perl server must have handled the
// forwarded posts, with their arguments, and both Perl processes exit
// cleanly.
func TestPerlClientThroughGatewayToPerlServer(t *testing.T) {
	needIKC(t)
	for _, protocol := range []string{"IKC0", "IKC"} {
		t.Run(protocol, func(t *testing.T) {
			leaktest.Check(t)
			srv := startIKCPeer(t, "ikc_server.pl", "--name", "PerlSrv")
			l := srv.waitEvent("listening", 20*time.Second)

			cfg := gateway.DefaultConfig()
			cfg.Name = "GoGw"
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "GoGw", Level: hclog.Info, Output: logWriter{t}})
			k, addr, _, _ := goKernelWith(t, cfg)
			up := k.NewUpstream("tcp", fmt.Sprintf("127.0.0.1:%v", l["port"]), gateway.UpstreamOptions{})
			defer up.Close()
			k.Retract("svc/*")
			for _, st := range []string{"echo", "record", "ack_sender", "noreturn"} {
				k.Retract("svc/" + st)
			}
			k.Handle("svc/*", up)
			k.HandleFunc("svc/fail", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
				return nil, fmt.Errorf("moved to Go and failing on purpose")
			})

			cli := startIKCPeer(t, "ikc_client.pl", "--connect", "tcp:"+addr, "--server", "GoGw", "--protocol", protocol)
			events := cli.wait(60 * time.Second)
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("the Perl client did not finish: %v\n%s", events, cli.stderr.String())
			}
			if e := findEvents(events, "echo_reply"); len(e) != 1 || e[0]["same"] != float64(1) {
				t.Errorf("echo through the gateway: %v", e)
			}
			for _, e := range findEvents(events, "monitor") {
				if e.str("what") == "error" && e.str("op") == "remote-check" {
					if m := e.str("msg"); m != "" && !contains(m, "Request poe://GoGw/") {
						t.Errorf("relayed error does not name the client's request: %q", m)
					}
				}
			}

			// The forwarded posts reached the Perl server with their args.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			peer, err := up.Peer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := peer.Post(ctx, "svc/quit", nil); err != nil {
				t.Fatal(err)
			}
			sevents := srv.wait(30 * time.Second)
			recs := findEvents(sevents, "svc/record")
			want := [][]any{
				{Describe(perlcompat.Text("hello"))},
				{Describe(perlcompat.Text("via")), Describe(perlcompat.Text("proxy")), Describe(perlcompat.Int(3))},
			}
			if len(recs) != len(want) {
				t.Fatalf("Perl server's svc/record events: %v", recs)
			}
			for i, w := range want {
				if got := fmt.Sprint(recs[i]["args"]); got != fmt.Sprint(w) {
					t.Errorf("record %d: %s, want %v", i, got, w)
				}
			}
			if len(findEvents(sevents, "exit")) != 1 {
				t.Errorf("Perl server did not exit cleanly:\n%s", srv.stderr.String())
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
