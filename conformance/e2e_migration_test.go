package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/daemon"
	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// e2eHTTPHit is one request the HTTP route's endpoint received.
type e2eHTTPHit struct {
	method, path                   string
	session, state, kernel, isCall string
	contentType, extra             string
	body                           string
}

// TestMigrationThroughDaemon is the migration as a user deploys it: Perl
// IKC clients connect to ikcgate (in-process, configured from HCL)
// instead of their Perl IKC server. svc/fail has moved to a Go handler,
// svc/record to an HTTP service, and the rest of svc still lives in a real
// Perl IKC::Server (perl/e2e_server.pl, route kind upstream), which
// publishes record and fail too, so that a request routed to the wrong
// side would be seen there. Four real IKC::Client processes at once (two
// IKC0, two legacy) run ikc_client.pl's whole scenario, each with its own
// ack tag. Every request must be answered by the side that owns it: the
// HTTP service got exactly each client's two record posts (plain and
// through the subscription's proxy) as JSON with the IKC headers, the Go
// handler each client's fail call, the Perl server each client's two echos
// and two ack_senders and never a record or a fail. Each client gets its
// echo replies identical to a Perl server's, and exactly its own SENDER
// post-backs, which the Perl server sends 50 ms late, across the other
// clients' requests on the daemon's one upstream channel; remote errors in
// Perl's words for an unpublished state (relayed from the Perl server), an
// unrouted session (refused by the daemon as Perl would) and the failing Go
// handler. Every Perl process exits cleanly.
//
// The upstream is e2e_server.pl, not ikc_server.pl: ikc_server.pl's
// ack_sender posts to SENDER without holding it, and IKC 0.2402 then reuses
// that SENDER (Responder::Thunk) for the next request, so its post-backs go
// to whichever sender came next: with several clients, even connected
// straight to it with no daemon, a client gets another's post-back or none.
func TestMigrationThroughDaemon(t *testing.T) {
	needIKC(t)
	leaktest.Check(t)
	srv := startIKCPeer(t, "e2e_server.pl", "--name", "PerlSrv")
	perlPort := srv.waitEvent("listening", 20*time.Second)["port"]

	var mu sync.Mutex
	var hits []e2eHTTPHit
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, e2eHTTPHit{
			method: r.Method, path: r.URL.Path,
			session: r.Header.Get("X-IKC-Session"), state: r.Header.Get("X-IKC-State"),
			kernel: r.Header.Get("X-IKC-Kernel"), isCall: r.Header.Get("X-IKC-Call"),
			contentType: r.Header.Get("Content-Type"), extra: r.Header.Get("X-E2E"),
			body: string(b),
		})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"recorded":true}`) // a post's reply goes nowhere
	}))
	defer web.Close()

	var failMu sync.Mutex
	failKernels := map[string][]string{} // caller kernel ID -> args
	fail := gateway.HandlerFunc(func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		s, _ := perlcompat.StringOf(r.Arg(0))
		failMu.Lock()
		failKernels[r.Kernel] = append(failKernels[r.Kernel], s)
		failMu.Unlock()
		return nil, fmt.Errorf("svc/fail moved to Go and fails on purpose: %s", s)
	})

	hcl := fmt.Sprintf(`
kernel {
  name = "Gw"
}
listen = ["tcp 127.0.0.1:0"]

# Moved to Go: the handler is registered under its own pattern.
route "svc/fail" {
  kind = "go"
}

# Moved to an HTTP service.
route "svc/record" {
  kind    = "http"
  url     = "%s/ikc/record"
  timeout = "10s"
  headers = { "X-E2E" = "migration" }
}

# Everything else of svc still lives in Perl.
route "svc/*" {
  kind    = "upstream"
  address = "tcp 127.0.0.1:%v"
  wait    = "10s"
}
`, web.URL, perlPort)
	gw := startE2EDaemon(t, hcl, daemon.Options{Handlers: map[string]gateway.Handler{"svc/fail": fail}})

	type client struct {
		protocol string
		ack      int
		p        *perlPeer
	}
	var clients []client
	for i, proto := range []string{"IKC0", "IKC", "IKC0", "IKC"} {
		name := fmt.Sprintf("E2EClient%d", i)
		ack := 10 * (i + 1)
		clients = append(clients, client{proto, ack, startIKCPeer(t, "ikc_client.pl", "--connect", "tcp:"+gw.addr, "--server", "Gw",
			"--protocol", proto, "--name", name, "--ack", fmt.Sprint(ack))})
	}
	clientIDs := make([]string, len(clients)) // kernel IDs, as the errors quote them
	for i, c := range clients {
		events := c.p.wait(60 * time.Second)
		t.Run(fmt.Sprintf("client%d-%s", i, c.protocol), func(t *testing.T) {
			if len(findEvents(events, "done")) != 1 {
				t.Fatalf("the Perl client did not finish its scenario; events:\n%v\nstderr:\n%s", events, c.p.stderr.String())
			}
			if len(findEvents(events, "exit")) != 1 {
				t.Errorf("the Perl client did not exit cleanly:\n%s", c.p.stderr.String())
			}
			if e := findEvents(events, "echo_reply"); len(e) != 1 || e[0]["same"] != float64(1) {
				t.Errorf("echo through the daemon to the Perl server is not what a Perl server gives: %v", e)
			}
			if lr := findEvents(events, "list_reply"); len(lr) != 1 || lr[0].str("got") != Describe(perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2), perlcompat.Int(3))) {
				t.Errorf("list reply: %v", lr)
			}
			if pong := findEvents(events, "pong"); len(pong) != 1 || pong[0].str("got") != "PONG" {
				t.Errorf("ping: %v", pong)
			}
			acks := map[string][][]any{}
			for _, e := range append(findEvents(events, "ack"), findEvents(events, "ack_proxy")...) {
				acks[e.str("ev")] = append(acks[e.str("ev")], e["args"].([]any))
			}
			want := map[string]string{"ack": fmt.Sprintf("[[%d]]", c.ack), "ack_proxy": fmt.Sprintf("[[proxy %d]]", c.ack+4)}
			if fmt.Sprint(acks["ack"]) != want["ack"] || fmt.Sprint(acks["ack_proxy"]) != want["ack_proxy"] {
				t.Errorf("SENDER post-backs from the Perl server: %v; want exactly its own, ack %s and ack_proxy %s", acks, want["ack"], want["ack_proxy"])
			}
			if len(findEvents(events, "fail_reply_unexpected")) != 0 {
				t.Error("the failing Go handler's call got a reply")
			}
			// Each remote error in Perl's exact words, quoting the request
			// as the client sent it (the daemon's name, the client's own
			// kernel ID and session): the unpublished state relayed from
			// the Perl server (its text rewritten to quote the client, not
			// the daemon's forwarding session), the unrouted session
			// refused by the daemon, the Go handler's error.
			wantErrs := map[string]*regexp.Regexp{
				"remote-check nope":      regexp.MustCompile(`^Session 'svc' has not published state 'nope'\.  Request poe://Gw/svc/nope sent by poe://([^/]+)/client/IKC:proxy$`),
				"remote-check nosuch":    regexp.MustCompile(`^Session 'nosuch' is not available for remote kernels\.  Request poe://Gw/nosuch/x sent by poe://([^/]+)/client/IKC:proxy$`),
				"remote-invocation fail": regexp.MustCompile(`^svc/fail moved to Go and fails on purpose: why\.  Request poe://Gw/svc/fail sent by poe://([^/]+)/client/IKC:proxy$`),
			}
			seen := map[string]string{}
			for _, e := range findEvents(events, "monitor") {
				if e.str("what") != "error" {
					continue
				}
				matched := false
				for k, re := range wantErrs {
					if m := re.FindStringSubmatch(e.str("msg")); m != nil && strings.HasPrefix(k, e.str("op")+" ") {
						if _, dup := seen[k]; dup {
							t.Errorf("remote error %s reported twice", k)
						}
						seen[k], matched = m[1], true
					}
				}
				if !matched {
					t.Errorf("unexpected IKC error: %v", e)
				}
			}
			ids := map[string]bool{}
			for k := range wantErrs {
				if _, ok := seen[k]; !ok {
					t.Errorf("no remote error %s; monitor events: %v", k, findEvents(events, "monitor"))
				}
			}
			for _, id := range seen {
				ids[id] = true
			}
			if len(ids) != 1 {
				t.Errorf("the remote errors quote %d different senders: %v", len(ids), seen)
			}
			clientIDs[i] = seen["remote-check nosuch"]
		})
	}

	// The HTTP service got every record post, and only those, as JSON.
	mu.Lock()
	got := append([]e2eHTTPHit(nil), hits...)
	mu.Unlock()
	byKernel := map[string][]string{}
	for _, h := range got {
		if h.method != http.MethodPost || h.path != "/ikc/record" || h.session != "svc" || h.state != "record" ||
			h.isCall != "0" || h.contentType != "application/json" || h.extra != "migration" || h.kernel == "" {
			t.Errorf("HTTP route request: %+v", h)
		}
		byKernel[h.kernel] = append(byKernel[h.kernel], h.body)
	}
	// Each client's two record posts (and nothing else) reached the HTTP
	// service under its own kernel ID, and its fail call the Go handler.
	failMu.Lock()
	if len(byKernel) != len(clients) || len(failKernels) != len(clients) {
		t.Errorf("the HTTP service heard from %d kernels and the Go handler from %d, want %d each: %v, %v", len(byKernel), len(failKernels), len(clients), byKernel, failKernels)
	}
	for i, id := range clientIDs {
		bodies := byKernel[id]
		sort.Strings(bodies)
		if want := []string{`"hello"`, `["via","proxy",3]`}; fmt.Sprint(bodies) != fmt.Sprint(want) {
			t.Errorf("client %d (%s) posted %q to the HTTP service, want %q", i, id, bodies, want)
		}
		if args := failKernels[id]; fmt.Sprint(args) != "[why]" {
			t.Errorf("the Go handler's svc/fail from client %d (%s) got %v, want [why]", i, id, args)
		}
	}
	failMu.Unlock()

	// The Perl server: quit it through the daemon's own channel to it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.d.Kernel().Post(ctx, "poe://PerlSrv/svc/quit", nil); err != nil {
		t.Fatalf("posting svc/quit to the Perl server: %v", err)
	}
	sevents := srv.wait(30 * time.Second)
	if len(findEvents(sevents, "exit")) != 1 {
		t.Errorf("the Perl server did not exit cleanly:\n%s", srv.stderr.String())
	}
	// Each client's two echo calls (the nested value and [1,2,3]) were
	// served by Perl; record went to HTTP and fail to Go, never to Perl.
	echos := findEvents(sevents, "svc/echo")
	lists := 0
	for _, e := range echos {
		if fmt.Sprint(e["args"]) == fmt.Sprint([]any{Describe(perlcompat.NewArray(perlcompat.Int(1), perlcompat.Int(2), perlcompat.Int(3)))}) {
			lists++
		}
	}
	if len(echos) != 2*len(clients) || lists != len(clients) {
		t.Errorf("the Perl server served %d echos (%d of [1,2,3]), want %d and %d", len(echos), lists, 2*len(clients), len(clients))
	}
	if r := findEvents(sevents, "svc/record"); len(r) != 0 {
		t.Errorf("svc/record reached the Perl server though it is routed to HTTP: %v", r)
	}
	if r := findEvents(sevents, "svc/fail"); len(r) != 0 {
		t.Errorf("svc/fail reached the Perl server though it is routed to Go: %v", r)
	}
	var ackArgs, wantAckArgs []string
	for _, e := range findEvents(sevents, "svc/ack_sender") {
		ackArgs = append(ackArgs, fmt.Sprint(e["args"]))
	}
	for _, c := range clients {
		wantAckArgs = append(wantAckArgs, fmt.Sprintf("[%d]", c.ack), fmt.Sprintf("[proxy %d]", c.ack+4))
	}
	sort.Strings(ackArgs)
	sort.Strings(wantAckArgs)
	if fmt.Sprint(ackArgs) != fmt.Sprint(wantAckArgs) {
		t.Errorf("the Perl server's ack_sender served %v, want %v", ackArgs, wantAckArgs)
	}
	// The daemon was the Perl server's only peer.
	regs := map[string]bool{}
	for _, e := range findEvents(sevents, "monitor") {
		if e.str("what") == "register" {
			regs[e.str("name")] = true
		}
	}
	if !regs["Gw"] {
		t.Errorf("the Perl server never saw the daemon register: %v", findEvents(sevents, "monitor"))
	}
	for n := range regs {
		if strings.HasPrefix(n, "E2EClient") {
			t.Errorf("a Perl client reached the Perl server directly: %s", n)
		}
	}
	if err := gw.stop(); err != nil {
		t.Errorf("daemon drain: %v", err)
	}
}
