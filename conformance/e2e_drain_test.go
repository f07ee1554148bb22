package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eProc is the ikcgate binary running, its JSON log collected.
type e2eProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    []map[string]any
	raw    bytes.Buffer // what was not JSON (a race report, a panic)
	stdout bytes.Buffer
	done   chan struct{}
	err    error
}

func (p *e2eProc) records(msg string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, r := range p.log {
		if msg == "" || r["@message"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// e2eWaitFor polls the peer's events until ok says yes.
func (p *perlPeer) e2eWaitFor(t *testing.T, d time.Duration, what string, ok func([]perlEvent) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ok(p.e2eEvents()) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("perl peer exited before %s: %v\nevents: %v\nstderr:\n%s", what, p.err, p.e2eEvents(), p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("perl peer: no %s within %v; events: %v\nstderr:\n%s", what, d, p.e2eEvents(), p.stderr.String())
		}
	}
}

// TestDrainUnderLoad runs the real ikcgate binary (built from cmd/ikcgate,
// with -race when the tests have it) from a configuration file, with
// -listen on an ephemeral port, and 16 real Perl IKC::Client processes
// (perl/e2e_caller.pl) calling demo/sleep (~200 ms) in a loop, two calls
// outstanding each, so that at any moment every channel has one call
// running and one queued. After the load has run for a second, SIGTERM.
//
// What is proven, and how:
//
//   - Every call the daemon accepted got its reply. "Accepted" is counted
//     by the daemon itself: ikcgate_requests_total{session="demo",
//     state="sleep"} counts every request taken off a channel for its
//     handler, when the handler is done (gateway's RequestServed, called
//     after the reply is queued and before the channel can close). A
//     request arriving during the drain is refused before that (logged at
//     debug, "request refused: shutting down") and is not counted. The
//     counter is final for the 16 callers once their 16 channels are
//     closed, but the operations server stops right after the drain; so a
//     17th client calls slow/sleep (the demo handler under another route,
//     so other series) for 2.5 s just before SIGTERM, which holds the drain
//     open. A scrape during the drain that shows draining, at most one
//     server connection open, and no slow/sleep served yet (so that one
//     connection is the slow one) has the final count of accepted
//     demo/sleep calls. It must equal the replies the 16 clients received,
//     every reply must answer a distinct call that client sent (demo/sleep
//     returns its argument, unique per call), and no demo/sleep failed.
//     Nothing read was dropped silently either: in the same scrape,
//     ikcgate_frames_received_total (frames read off the sockets; the
//     callers send nothing but their calls) must equal the accepted calls
//     plus the refused ones (the daemon's debug log names each) plus the
//     slow call. So a call sent but not answered was refused, or reached
//     a socket the daemon had closed.
//   - The slow call, in flight at SIGTERM, got its reply too.
//   - /readyz turned 503 "draining" during the drain.
//   - The daemon exited 0 with no race report, and logged "drained"
//     within its drain_timeout.
//   - Every Perl client saw the server go away, and exited 0 on its own.
func TestDrainUnderLoad(t *testing.T) {
	needIKC(t)
	const callers = 16
	bin := e2eBuild(t, "cmd/ikcgate")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ikcgate.hcl")
	if err := os.WriteFile(cfgFile, []byte(`
kernel {
  name = "gw"
}
# Replaced by -listen.
listen = ["tcp 127.0.0.1:6603"]
drain_timeout = "20s"
operations {
  listen = "127.0.0.1:0"
}
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
route "slow/*" {
  kind    = "go"
  handler = "demo"
}
logging {
  level  = "debug"
  format = "json"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	gw := &e2eProc{done: make(chan struct{})}
	gw.cmd = exec.Command(bin, "-config", cfgFile, "-listen", "tcp 127.0.0.1:0")
	gw.cmd.Env = e2eEnv()
	gw.cmd.Stdout = &gw.stdout
	stderr, err := gw.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var r map[string]any
			gw.mu.Lock()
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				gw.log = append(gw.log, r)
				if r["@message"] == "ikcgate ready" {
					ready <- r
				}
			} else {
				gw.raw.Write(sc.Bytes())
				gw.raw.WriteByte('\n')
			}
			gw.mu.Unlock()
		}
		gw.err = gw.cmd.Wait()
		close(gw.done)
	}()
	t.Cleanup(func() {
		select {
		case <-gw.done:
		default:
			gw.cmd.Process.Kill()
			<-gw.done
		}
	})
	var port, ops string
	select {
	case r := <-ready:
		l, _ := r["listen"].(string)
		port = l[strings.LastIndexByte(l, ':')+1:]
		ops, _ = r["operations"].(string)
		ops = "http://" + ops
	case <-gw.done:
		t.Fatalf("ikcgate exited before it was ready: %v\n%s", gw.err, gw.raw.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("ikcgate was not ready within 20s:\n%v\n%s", gw.records(""), gw.raw.String())
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	if code, body := httpStatus(hc, ops+"/readyz"); code != http.StatusOK || body != "ready" {
		t.Fatalf("/readyz before the drain: %d %q", code, body)
	}

	// The load: 16 callers, each with two calls outstanding.
	var load []*perlPeer
	for i := 0; i < callers; i++ {
		proto := "IKC0"
		if i%4 == 3 {
			proto = "IKC"
		}
		load = append(load, startIKCPeer(t, "e2e_caller.pl", "--port", port, "--server", "gw", "--state", "demo/sleep",
			"--ms", "200", "--depth", "2", "--protocol", proto, "--name", fmt.Sprintf("E2ECaller%02d", i), "--timeout", "90"))
	}
	for _, p := range load {
		p.e2eWaitFor(t, 60*time.Second, "first reply", func(es []perlEvent) bool { return len(findEvents(es, "reply")) > 0 })
	}
	loaded := time.Now()
	slow := startIKCPeer(t, "e2e_caller.pl", "--port", port, "--server", "gw", "--state", "slow/sleep",
		"--ms", "2500", "--depth", "1", "--max", "1", "--name", "E2ESlow", "--timeout", "90")
	slow.e2eWaitFor(t, 30*time.Second, "the slow call sent", func(es []perlEvent) bool { return len(findEvents(es, "sent")) > 0 })
	time.Sleep(300 * time.Millisecond) // the slow call reaches its handler
	if d := time.Second - time.Since(loaded); d > 0 {
		time.Sleep(d)
	}

	// SIGTERM, then watch the drain from the operations server until it
	// stops answering.
	sigterm := time.Now()
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var (
		saw503  bool
		final   promSeries // the scrape with the final demo/sleep counts
		scrapes int
	)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		code, body := httpStatus(hc, ops+"/readyz")
		if code == 0 {
			break // the operations server has stopped: the drain is over
		}
		switch {
		case code == http.StatusServiceUnavailable && body == "draining":
			saw503 = true
		case code == http.StatusOK && body == "ready" && !saw503:
			// The signal is delivered asynchronously: not draining yet.
		default:
			t.Errorf("/readyz after SIGTERM: %d %q (after a 503: %v)", code, body, saw503)
		}
		if final == nil {
			if m, err := scrapeMetrics(hc, ops+"/metrics"); err == nil {
				scrapes++
				slowServed := 0.0
				for k, v := range m {
					if strings.HasPrefix(k, `ikcgate_requests_total{session="slow"`) {
						slowServed += v
					}
				}
				// The slow call is checked below to have got its reply, so
				// it was accepted and its channel open until it was
				// served: while slowServed is 0, the one open connection
				// is the slow one, and the 16 callers' are closed.
				if m["ikcgate_draining"] == 1 && m[`ikcgate_connections_open{role="server"}`] <= 1 && slowServed == 0 {
					final = m
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-gw.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("ikcgate did not exit within 30s of the drain's end")
	}
	drainTook := time.Since(sigterm)
	var ee *exec.ExitError
	if gw.err != nil {
		code := -1
		if errors.As(gw.err, &ee) {
			code = ee.ExitCode()
		}
		t.Errorf("ikcgate exited with %v (code %d), want 0; non-JSON stderr:\n%s", gw.err, code, gw.raw.String())
	}
	if strings.Contains(gw.raw.String(), "DATA RACE") {
		t.Errorf("ikcgate's race detector reported:\n%s", gw.raw.String())
	}
	if !saw503 {
		t.Error(`/readyz never answered 503 "draining" during the drain`)
	}
	if len(gw.records("drained")) != 1 || len(gw.records("drain deadline passed; the channels still open were closed")) != 0 {
		t.Errorf("ikcgate did not drain within its deadline: %v", gw.records(""))
	}
	for _, r := range gw.records("") {
		if r["@level"] == "error" {
			t.Errorf("ikcgate logged an error: %v", r)
		}
	}

	// Every Perl client saw the server go away and exited 0 on its own.
	all := append(append([]*perlPeer(nil), load...), slow)
	evs := make([][]perlEvent, len(all))
	for i, p := range all {
		evs[i] = p.wait(30 * time.Second)
		if len(findEvents(evs[i], "closed")) != 1 || len(findEvents(evs[i], "exit")) != 1 || len(findEvents(evs[i], "timeout")) != 0 {
			t.Errorf("caller %d did not see the connection close and exit: %v\nstderr:\n%s", i, evs[i], p.stderr.String())
		}
	}
	sevs := evs[callers]
	if r := findEvents(sevs, "reply"); len(r) != 1 || r[0]["arg"] != float64(2501) || r[0]["t"].(float64) < float64(sigterm.UnixNano())/1e9 {
		t.Errorf("the slow call in flight at SIGTERM: replies %v, want its 2501 after SIGTERM", r)
	}

	// Which client each refusal was for: "channel open" names the peer.
	names := map[string]string{}
	for _, r := range gw.records("channel open") {
		peer, _ := r["peer"].(string)
		ns, _ := r["names"].([]any)
		for _, n := range ns {
			if s, _ := n.(string); strings.HasPrefix(s, "E2E") {
				names[peer] = s
			}
		}
	}
	refused := map[string]int{}
	for _, r := range gw.records("request refused: shutting down") {
		peer, _ := r["peer"].(string)
		refused[names[peer]]++
	}

	// The accounting.
	replies, afterSigterm, sent := 0, 0, 0
	var perClient []string
	for i := 0; i < callers; i++ {
		name := fmt.Sprintf("E2ECaller%02d", i)
		sentArgs := map[float64]bool{}
		for _, e := range findEvents(evs[i], "sent") {
			sentArgs[e["arg"].(float64)] = true
		}
		got := map[float64]bool{}
		for _, e := range findEvents(evs[i], "reply") {
			a, _ := e["arg"].(float64)
			if !sentArgs[a] || got[a] {
				t.Errorf("%s: reply %v answers no call of its own, or answers one twice", name, e)
			}
			got[a] = true
			if e["t"].(float64) >= float64(sigterm.UnixNano())/1e9 {
				afterSigterm++
			}
		}
		unanswered := len(sentArgs) - len(got)
		if refused[name] > unanswered {
			t.Errorf("%s: the daemon refused %d calls, but only %d went unanswered", name, refused[name], unanswered)
		}
		sent += len(sentArgs)
		replies += len(got)
		perClient = append(perClient, fmt.Sprintf("%s sent %d, answered %d, refused %d, unread %d", name, len(sentArgs), len(got), refused[name], unanswered-refused[name]))
	}
	sort.Strings(perClient)
	t.Logf("drain: SIGTERM after %v of load; exit after %v; %d scrapes during the drain\n%s", sigterm.Sub(loaded).Round(time.Millisecond), drainTook.Round(time.Millisecond), scrapes, strings.Join(perClient, "\n"))
	if final == nil {
		t.Fatalf("no scrape during the drain showed the 16 callers' channels closed while the slow call was still running; cannot count the accepted calls (%d scrapes)", scrapes)
	}
	accepted := final[`ikcgate_requests_total{session="demo",state="sleep",type="call"}`]
	failed := final[`ikcgate_request_errors_total{session="demo",state="sleep"}`]
	t.Logf("demo/sleep: %d sent, %v accepted by the daemon, %d replies received (%d after SIGTERM), %v failed", sent, accepted, replies, afterSigterm, failed)
	if accepted != float64(replies) {
		t.Errorf("the daemon accepted %v demo/sleep calls but the clients received %d replies", accepted, replies)
	}
	if failed != 0 {
		t.Errorf("%v demo/sleep calls failed in the daemon", failed)
	}
	// Nothing read was dropped silently: every frame the daemon read (the
	// callers send nothing but their calls, the slow client its one call)
	// was a call it either accepted or refused, saying so in its log.
	read := final["ikcgate_frames_received_total"]
	refusedAll := len(gw.records("request refused: shutting down"))
	if read != accepted+float64(refusedAll)+1 {
		t.Errorf("the daemon read %v frames, but accepted %v demo/sleep calls, refused %d and accepted 1 slow/sleep call: %v unaccounted for", read, accepted, refusedAll, read-accepted-float64(refusedAll)-1)
	}
	if replies < 2*callers || afterSigterm == 0 {
		t.Errorf("too little load to prove anything: %d replies, %d after SIGTERM", replies, afterSigterm)
	}
}
