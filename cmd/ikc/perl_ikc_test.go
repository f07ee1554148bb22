package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// needIKC skips the test when POE::Component::IKC is not in Perl's @INC
// (it is on CPAN, not in Debian; set PERL5LIB or install it with cpanm).
func needIKC(t *testing.T) {
	t.Helper()
	if os.Getenv("IKCGATE_NO_PERL") == "1" {
		t.Skip("IKCGATE_NO_PERL=1: real Perl peers disabled")
	}
	out, err := exec.Command("perl", "-MPOE::Component::IKC::Server", "-e1").CombinedOutput()
	if err != nil {
		line, _, _ := strings.Cut(string(out), "\n")
		t.Skipf("POE::Component::IKC is not in Perl's @INC (install it with cpanm, or set PERL5LIB); skipping the test against a real Perl IKC server: %v %s", err, line)
	}
}

// perlServer is conformance/perl/ikc_server.pl: a real IKC::Server named
// PerlSrv publishing svc/echo, svc/record, svc/noreturn, svc/quit...
type perlServer struct {
	t      *testing.T
	cmd    *exec.Cmd
	port   int
	unix   string
	mu     sync.Mutex
	events []map[string]any
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func startPerlServer(t *testing.T, args ...string) *perlServer {
	t.Helper()
	script := filepath.Join("..", "..", "conformance", "perl", "ikc_server.pl")
	cmd := exec.Command("perl", append([]string{script, "--name", "PerlSrv", "--timeout", "60"}, args...)...)
	p := &perlServer{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = map[string]any{"ev": "unparsed", "line": sc.Text()}
			}
			if e["ev"] == "listening" {
				listening <- e
			}
			p.mu.Lock()
			p.events = append(p.events, e)
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case e := <-listening:
		if port, ok := e["port"].(float64); ok {
			p.port = int(port)
		}
		p.unix, _ = e["unix"].(string)
	case <-p.done:
		t.Fatalf("the Perl IKC server exited before listening: %v\n%s", p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the Perl IKC server did not listen within 20s; stderr:\n%s", p.stderr.String())
	}
	return p
}

func (p *perlServer) addr() string {
	if p.unix != "" {
		return "unix:" + p.unix
	}
	return fmt.Sprintf("127.0.0.1:%d", p.port)
}

// waitEvent waits for an event named ev for which match is true.
func (p *perlServer) waitEvent(ev string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, e := range p.events {
			if e["ev"] == ev && (match == nil || match(e)) {
				p.mu.Unlock()
				return e
			}
		}
		p.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("the Perl server printed no matching %q event; events: %v", ev, p.snapshot())
	return nil
}

func (p *perlServer) snapshot() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// quit posts svc/quit with ikc and checks that the server shuts down
// cleanly: it survived every ikc connection before.
func (p *perlServer) quit(t *testing.T) {
	t.Helper()
	ikc(t, "", "-server", p.addr(), "post", "svc/quit").want(t, 0, "")
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the Perl server did not exit after svc/quit")
	}
	if p.err != nil {
		t.Errorf("the Perl server exited with %v; stderr:\n%s", p.err, p.stderr.String())
	}
	p.waitEvent("exit", nil)
}

func TestPerlServer(t *testing.T) {
	needIKC(t)
	p := startPerlServer(t)
	srv := p.addr()

	t.Run("ping", func(t *testing.T) {
		ikc(t, "", "-server", srv, "ping").want(t, 0, "PONG\n")
		ikc(t, "", "-server", srv, "ping", "poe://PerlSrv").want(t, 0, "PONG\n")
		ikc(t, "", "-server", srv, "-legacy", "ping").want(t, 0, "PONG\n")
	})
	t.Run("call echo", func(t *testing.T) {
		// Perl's thaw and nfreeze give back what ikcgate's echo does.
		for _, c := range echoCases {
			ikc(t, "", "-server", srv, "call", "poe://PerlSrv/svc/echo", c.in).want(t, 0, c.json+"\n")
			ikc(t, "", "-server", srv, "-perl", "call", "svc/echo", c.in).want(t, 0, c.perl+"\n")
		}
	})
	t.Run("post", func(t *testing.T) {
		ikc(t, "", "-server", srv, "post", "svc/record", `{"mark":"☺","b":{"$bytes":"ff"},"n":7}`).want(t, 0, "")
		// describe.pm's view of what Perl thawed: flags and all.
		e := p.waitEvent("svc/record", func(e map[string]any) bool {
			return strings.Contains(fmt.Sprint(e["args"]), `utf8 "\xe2\x98\xba"`)
		})
		desc := fmt.Sprint(e["args"])
		for _, want := range []string{`key str "b"`, `str "\xff"`, `int 7`} {
			if !strings.Contains(desc, want) {
				t.Errorf("Perl saw %s, lacking %s", desc, want)
			}
		}
		ikc(t, "", "-server", srv, "-legacy", "post", "poe://PerlSrv/svc/record", `"legacy post"`).want(t, 0, "")
		p.waitEvent("svc/record", func(e map[string]any) bool {
			return strings.Contains(fmt.Sprint(e["args"]), `str "legacy post"`)
		})
		r := ikc(t, "", "-server", srv, "post", "svc/nosuch", "1")
		r.want(t, 1, "")
		if !strings.Contains(r.stderr, "has not published state 'nosuch'") {
			t.Errorf("post to an unpublished state: stderr %q lacks Perl's message", r.stderr)
		}
	})
	t.Run("subscribe", func(t *testing.T) {
		r := ikc(t, "", "-server", srv, "subscribe", "poe://PerlSrv/svc")
		var receipt map[string]string
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &receipt) != nil || receipt["session"] != "svc" || receipt["kernel"] == "" {
			t.Errorf("subscribe: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = ikc(t, "", "-server", srv, "subscribe", "poe://PerlSrv/nosuch")
		r.want(t, 1, "")
	})
	t.Run("errors", func(t *testing.T) {
		r := ikc(t, "", "-server", srv, "call", "svc/nosuch", "1")
		r.want(t, 1, "")
		if !strings.Contains(r.stderr, "has not published state 'nosuch'") {
			t.Errorf("stderr %q lacks Perl's message", r.stderr)
		}
		r = ikc(t, "", "-server", srv, "-timeout", "300ms", "call", "svc/noreturn")
		r.want(t, 4, "")
		ikc(t, "", "-server", srv, "call", "poe://Nobody/svc/echo").want(t, 3, "")
	})
	p.quit(t)
}

func TestPerlServerUnix(t *testing.T) {
	needIKC(t)
	p := startPerlServer(t, "--unix", filepath.Join(t.TempDir(), "perl.sock"))
	ikc(t, "", "-server", p.addr(), "ping").want(t, 0, "PONG\n")
	ikc(t, "", "-server", p.addr(), "call", "svc/echo", `{"a":[1,"x"]}`).want(t, 0, `{"a":[1,"x"]}`+"\n")
	p.quit(t)
}
