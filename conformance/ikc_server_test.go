package conformance

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// waitEvent waits until the peer printed an event named ev.
func (p *perlPeer) waitEvent(ev string, d time.Duration) perlEvent {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, e := range p.events {
			if e.str("ev") == ev {
				p.mu.Unlock()
				return e
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			p.t.Fatalf("perl peer exited before %q: %v\nstderr:\n%s", ev, p.err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.t.Fatalf("perl peer never printed %q; stderr:\n%s", ev, p.stderr.String())
	return nil
}

// TestGoClientAgainstPerlServer dials a real POE::Component::IKC::Server
// from our kernel and runs the same set the Perl client runs against us:
// calls with every kind of value, post, ping, remote errors for an
// unpublished state, an unknown session and a published session that does
// not exist, a SENDER post-back, a subscription with a post and a call
// through the proxy, and the server pushing a post and a call into states
// we published. Both dialogues, TCP and unix sockets. The Perl server must
// exit cleanly at the end.
func TestGoClientAgainstPerlServer(t *testing.T) {
	needIKC(t)
	for _, tc := range []struct {
		name, transport string
		legacy          bool
	}{
		{"tcp-ikc0", "tcp", false},
		{"tcp-legacy", "tcp", true},
		{"unix-ikc0", "unix", false},
		{"unix-legacy", "unix", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			args := []string{"--name", "PerlSrv", "--push", "GoCli"}
			if tc.transport == "unix" {
				args = append(args, "--unix", filepath.Join(t.TempDir(), "perl.sock"))
			}
			p := startIKCPeer(t, "ikc_server.pl", args...)
			l := p.waitEvent("listening", 20*time.Second)
			network, address := "tcp", fmt.Sprintf("127.0.0.1:%v", l["port"])
			if tc.transport == "unix" {
				network, address = "unix", l.str("unix")
			}

			cfg := gateway.DefaultConfig()
			cfg.Name = "GoCli"
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "GoCli", Level: hclog.Info, Output: logWriter{t}})
			k, err := gateway.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Shutdown(context.Background())
			hello := make(chan []perlcompat.Value, 1)
			acks := make(chan []perlcompat.Value, 2)
			k.HandleFunc("client/hello", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
				hello <- r.Args
				return nil, nil
			})
			k.HandleFunc("client/compute", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
				a, _ := r.Arg(0).(*perlcompat.Array)
				if a == nil || len(a.Elems) != 2 {
					return nil, errors.New("want [x, y]")
				}
				x, _ := perlcompat.AsInt(a.Elems[0])
				y, _ := perlcompat.AsInt(a.Elems[1])
				return perlcompat.Int(x * y), nil
			})
			k.HandleFunc("client/ack", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
				acks <- r.Args
				return nil, nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			peer, err := k.DialWith(ctx, network, address, gateway.DialOptions{LegacyOnly: tc.legacy})
			if err != nil {
				t.Fatal(err)
			}
			wantDialogue := map[bool]string{false: "IKC0", true: "IKC"}[tc.legacy]
			if got := peer.Negotiated().Dialogue.String(); got != wantDialogue {
				t.Errorf("dialogue %s, want %s", got, wantDialogue)
			}

			// Calls: what comes back is what a Perl caller would get.
			for _, v := range []perlcompat.Value{
				perlcompat.Text("hello"), perlcompat.Text("café ☺"), perlcompat.Bytes([]byte{0, 0xff, '\r', '\n'}),
				perlcompat.Int(42), perlcompat.Int(-129), perlcompat.Int(1 << 40), perlcompat.Float(0.1),
				perlcompat.NewArray(perlcompat.Int(1), perlcompat.NewArray(perlcompat.Text("x")), perlcompat.NewHash()),
				&perlcompat.Hash{Class: "My::Obj", Entries: []perlcompat.Entry{{Key: perlcompat.Text("clé"), Value: perlcompat.Text("v")}}},
				&perlcompat.Ref{Target: perlcompat.Text("scalar ref")},
			} {
				got, err := k.Call(ctx, "poe://PerlSrv/svc/echo", v)
				if err != nil {
					t.Errorf("echo %s: %v", Describe(v), err)
					continue
				}
				if diff := cmp.Diff(Describe(expectedPerlView(v)), Describe(got)); diff != "" {
					t.Errorf("echo of %s (-want +got):\n%s", Describe(v), diff)
				}
			}
			// Many calls in flight from one goroutine (Peer.Go): each
			// answer is its own call's.
			done := make(chan *gateway.AsyncCall, 20)
			sent := map[*gateway.AsyncCall]int64{}
			for i := int64(0); i < 20; i++ {
				sent[peer.Go(ctx, "svc/echo", i, done)] = i
			}
			for range 20 {
				c := <-done
				if c.Err != nil {
					t.Errorf("Go echo %d: %v", sent[c], c.Err)
					continue
				}
				if got, err := perlcompat.AsInt(c.Reply); err != nil || got != sent[c] {
					t.Errorf("Go echo %d answered %s", sent[c], Describe(c.Reply))
				}
			}
			// Scalar context: Perl's handler returning (1,2,3) answers 3.
			if got, err := k.Call(ctx, "PerlSrv/svc/get_list", nil); err != nil || Describe(got) != Describe(perlcompat.Int(3)) {
				t.Errorf("get_list = %v, %v", got, err)
			}
			if got, err := k.Call(ctx, "PerlSrv/IKC/ping", nil); err != nil || got != (perlcompat.Str{S: "PONG"}) {
				t.Errorf("ping = %v, %v", got, err)
			}
			if err := k.Post(ctx, "PerlSrv/svc/record", perlcompat.Text("posted from Go")); err != nil {
				t.Fatal(err)
			}
			// Remote errors, in Perl's own words.
			for _, c := range []struct{ to, when, text string }{
				{"PerlSrv/svc/nope", "check", "Session 'svc' has not published state 'nope'.  Request poe://PerlSrv/svc/nope"},
				{"PerlSrv/nosuch/x", "check", "Session 'nosuch' is not available for remote kernels.  Request poe://PerlSrv/nosuch/x"},
				{"PerlSrv/ghost/x", "resolve", "Unknown session 'ghost'"},
			} {
				_, err := k.Call(ctx, c.to, 1)
				var re *gateway.RemoteError
				if !errors.As(err, &re) || re.When != c.when || !strings.Contains(re.Message, c.text) {
					t.Errorf("%s: err %v, want a %s RemoteError containing %q", c.to, err, c.when, c.text)
				}
			}
			// A post-back to our published session.
			if err := k.Post(ctx, "PerlSrv/svc/ack_sender", perlcompat.Text("ack me"), gateway.From("client")); err != nil {
				t.Fatal(err)
			}
			expectArgs(t, acks, []perlcompat.Value{perlcompat.Text("ack me")}, "post-back")

			// Subscribe, then through the proxy.
			proxy, err := k.Subscribe(ctx, "poe://PerlSrv/svc")
			if err != nil {
				t.Fatal(err)
			}
			if err := proxy.Post(ctx, "record", perlcompat.Text("via"), perlcompat.Int(3)); err != nil {
				t.Fatal(err)
			}
			if got, err := proxy.Call(ctx, "echo", perlcompat.Text("proxied call")); err != nil || got != perlcompat.Text("proxied call") {
				t.Errorf("proxied call = %v, %v", got, err)
			}
			if err := proxy.PostFrom(ctx, "client", "ack_sender", perlcompat.Text("via proxy")); err != nil {
				t.Fatal(err)
			}
			expectArgs(t, acks, []perlcompat.Value{perlcompat.Text("via proxy")}, "post-back through the proxy")

			// The server pushed into our published states when we registered.
			expectArgs(t, hello, []perlcompat.Value{perlcompat.Text("from perl")}, "server push")
			computed := p.waitEvent("computed", 10*time.Second)
			if computed.str("got") != Describe(perlcompat.Int(42)) {
				t.Errorf("Perl got compute reply %q", computed.str("got"))
			}

			if err := k.Post(ctx, "PerlSrv/svc/quit", nil); err != nil {
				t.Fatal(err)
			}
			events := p.wait(30 * time.Second)
			if len(findEvents(events, "exit")) != 1 {
				t.Errorf("Perl server did not exit cleanly: %v\n%s", events, p.stderr.String())
			}
			records := findEvents(events, "svc/record")
			if len(records) != 2 {
				t.Fatalf("svc/record saw %v", records)
			}
			if got := records[0]["args"].([]any); len(got) != 1 || got[0] != Describe(perlcompat.Text("posted from Go")) {
				t.Errorf("record args %v", got)
			}
			if got := records[1]["args"].([]any); len(got) != 2 || got[0] != Describe(perlcompat.Text("via")) || got[1] != Describe(perlcompat.Int(3)) {
				t.Errorf("proxied record args %v", got)
			}
			registered := false
			for _, e := range findEvents(events, "monitor") {
				if e.str("what") == "register" && e.str("name") == "GoCli" {
					registered = true
				}
				if e.str("what") == "error" && !strings.HasPrefix(e.str("op"), "local-") && e.str("op") != "channel-read" {
					t.Errorf("Perl server reported an error: %v", e)
				}
			}
			if !registered {
				t.Errorf("Perl never saw GoCli register")
			}
			select {
			case <-peer.Done():
			case <-time.After(5 * time.Second):
				t.Error("channel still open after the Perl server shut down")
			}
		})
	}
}

func expectArgs(t *testing.T, c chan []perlcompat.Value, want []perlcompat.Value, what string) {
	t.Helper()
	select {
	case got := <-c:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s args (-want +got):\n%s", what, diff)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s never arrived", what)
	}
}
