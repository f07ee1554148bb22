package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ikcgate/ikcgate/daemon"
	"github.com/ikcgate/ikcgate/internal/leaktest"
)

// e2eRun is one run of a command: its exit code and output.
type e2eRun struct {
	code           int
	stdout, stderr string
}

func (r e2eRun) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// runIkc runs the ikc binary with args, bounded to 30 s.
func runIkc(t *testing.T, bin string, args ...string) e2eRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e2eEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := e2eRun{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ikc %q did not finish within 30s", args)
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("ikc %q: %v", args, err)
	}
	return r
}

// TestIkcCLIAgainstPerlAndDaemon builds cmd/ikc and runs it as a user
// would against a real Perl IKC server and against the daemon (its demo
// session, and svc/* forwarded to that same Perl server): ping (both
// dialogues), call echo in JSON and with -perl, post (the Perl server
// prints what it thawed, directly and through the daemon; the demo
// counter adds up), remote errors (exit 1, Perl's words on stderr, stdout
// empty), a state that returns undef (no reply: exit 4, through the daemon
// as directly) and an unknown kernel (exit 3). Every echo must print
// exactly the same through the daemon's upstream, through its demo echo
// and straight from Perl: a user cannot tell which answered.
func TestIkcCLIAgainstPerlAndDaemon(t *testing.T) {
	needIKC(t)
	leaktest.Check(t)
	ikcBin := e2eBuild(t, "cmd/ikc")
	srv := startIKCPeer(t, "ikc_server.pl", "--name", "PerlSrv")
	perl := fmt.Sprintf("127.0.0.1:%v", srv.waitEvent("listening", 20*time.Second)["port"])
	gw := startE2EDaemon(t, fmt.Sprintf(`
kernel {
  name = "gw"
}
listen = ["tcp 127.0.0.1:0"]
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
route "svc/*" {
  kind    = "upstream"
  address = "tcp %s"
}
`, perl), daemon.Options{})

	ikc := func(args ...string) e2eRun { t.Helper(); return runIkc(t, ikcBin, args...) }
	want := func(r e2eRun, code int, stdout string) {
		t.Helper()
		if r.code != code || r.stdout != stdout {
			t.Errorf("got %v; want exit %d, stdout %q", r, code, stdout)
		}
		if code == 0 && r.stderr != "" {
			t.Errorf("exit 0 with stderr %q (ikc is quiet by default)", r.stderr)
		}
		if code != 0 && !strings.HasPrefix(r.stderr, "ikc: ") {
			t.Errorf("exit %d with stderr %q, want an \"ikc: \" message", code, r.stderr)
		}
	}
	wantErr := func(r e2eRun, code int, msg string) {
		t.Helper()
		want(r, code, "")
		if !strings.Contains(r.stderr, msg) {
			t.Errorf("stderr %q lacks %q", r.stderr, msg)
		}
	}

	t.Run("ping", func(t *testing.T) {
		for _, args := range [][]string{
			{"-server", perl, "ping"}, {"-server", perl, "-legacy", "ping", "poe://PerlSrv"},
			{"-server", gw.addr, "ping"}, {"-server", gw.addr, "-legacy", "ping", "poe://gw"},
		} {
			want(ikc(args...), 0, "PONG\n")
		}
	})

	t.Run("echo", func(t *testing.T) {
		for _, c := range []struct{ in, json, perl string }{
			{`{"b":[1,"x",null],"a":1}`, `{"a":1,"b":[1,"x",null]}`, `{'a' => 1,'b' => [1,'x',undef]}`},
			{`"café ☺"`, `"café ☺"`, `"caf\N{U+E9} \x{263a}"`},
			{`{"$bytes":"caffe9"}`, `{"$bytes":"caffe9"}`, `"\xca\xff\xe9"`},
			{`1.5`, `"1.5"`, `'1.5'`}, // nfreeze carries floats as strings, as Perl does
			{`{"$blessed":"My::Class","$value":{"k":[{"$ref":"x"}]}}`, `{"$blessed":"My::Class","$value":{"k":[{"$ref":"x"}]}}`, `bless( {'k' => [\'x']}, 'My::Class' )`},
		} {
			for _, target := range []struct{ server, spec string }{
				{perl, "poe://PerlSrv/svc/echo"}, // Perl itself
				{gw.addr, "svc/echo"},            // through the daemon to Perl
				{gw.addr, "poe://gw/demo/echo"},  // the daemon's Go echo
			} {
				want(ikc("-server", target.server, "call", target.spec, c.in), 0, c.json+"\n")
				want(ikc("-server", target.server, "-perl", "call", target.spec, c.in), 0, c.perl+"\n")
			}
		}
		// Legacy dialogue through the daemon to Perl.
		want(ikc("-server", gw.addr, "-legacy", "call", "svc/echo", `[1,{"k":"v"}]`), 0, `[1,{"k":"v"}]`+"\n")
	})

	t.Run("post", func(t *testing.T) {
		want(ikc("-server", perl, "post", "svc/record", `"straight to perl"`), 0, "")
		want(ikc("-server", gw.addr, "post", "svc/record", `["through","gw",7]`), 0, "")
		// ikc confirms a post with a ping on the same channel: sent to
		// Perl directly, Perl has handled the post when ikc exits. Through
		// the daemon, the ping confirms only that the daemon took it; the
		// forwarded post reaches Perl on another channel, soon after.
		wantRecs := []string{"[str \"straight to perl\"\n]", "[ref #0 ARRAY 3\n str \"through\"\n str \"gw\"\n int 7\n]"}
		recs := map[string]bool{}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			for _, e := range findEvents(srv.e2eEvents(), "svc/record") {
				recs[fmt.Sprint(e["args"])] = true
			}
			if recs[wantRecs[1]] || time.Now().After(deadline) {
				break
			}
		}
		for _, w := range wantRecs {
			if !recs[w] {
				t.Errorf("the Perl server did not record %q; it recorded %v", w, recs)
			}
		}
		want(ikc("-server", gw.addr, "post", "demo/count", "5"), 0, "")
		want(ikc("-server", gw.addr, "-legacy", "post", "demo/count", "7"), 0, "")
		want(ikc("-server", gw.addr, "call", "demo/total"), 0, "12\n")
	})

	t.Run("errors", func(t *testing.T) {
		// An unpublished state: Perl's words, straight and relayed.
		wantErr(ikc("-server", perl, "call", "svc/nosuch", "1"), 1, "Session 'svc' has not published state 'nosuch'")
		wantErr(ikc("-server", gw.addr, "call", "svc/nosuch", "1"), 1, "Session 'svc' has not published state 'nosuch'")
		wantErr(ikc("-server", perl, "post", "svc/nosuch", "1"), 1, "Session 'svc' has not published state 'nosuch'")
		// A session nobody publishes: the daemon refuses it as Perl does.
		wantErr(ikc("-server", perl, "call", "nosuch/x"), 1, "Session 'nosuch' is not available for remote kernels")
		wantErr(ikc("-server", gw.addr, "call", "nosuch/x"), 1, "Session 'nosuch' is not available for remote kernels")
		// A Go handler's error.
		wantErr(ikc("-server", gw.addr, "call", "demo/fail", `"on purpose"`), 1, "demo/fail: on purpose")
		wantErr(ikc("-server", gw.addr, "-legacy", "-perl", "call", "demo/fail", `"legacy"`), 1, "demo/fail: legacy")
		// undef sends no reply, straight or forwarded: a timeout.
		wantErr(ikc("-server", perl, "-timeout", "300ms", "call", "svc/noreturn"), 4, "")
		wantErr(ikc("-server", gw.addr, "-timeout", "300ms", "call", "svc/noreturn"), 4, "")
		// A kernel the server does not know.
		wantErr(ikc("-server", gw.addr, "call", "poe://Nobody/demo/echo", "1"), 3, "")
	})

	t.Run("whoami", func(t *testing.T) {
		for _, c := range []struct {
			flags    []string
			dialogue string
		}{{nil, "IKC0"}, {[]string{"-legacy"}, "IKC"}} {
			r := ikc(append(append([]string{"-server", gw.addr}, c.flags...), "call", "demo/whoami")...)
			if w := fmt.Sprintf(`{"dialogue":%q,"freezer":"Storable","kernel":"`, c.dialogue); r.code != 0 || !strings.HasPrefix(r.stdout, w) || r.stderr != "" {
				t.Errorf("whoami %v: %v; want a line starting %s", c.flags, r, w)
			}
		}
	})

	// Both servers survived every connection: quit Perl through the daemon.
	want(ikc("-server", gw.addr, "post", "poe://gw/svc/quit"), 0, "")
	events := srv.wait(15 * time.Second)
	if len(findEvents(events, "quit")) != 1 || len(findEvents(events, "exit")) != 1 {
		t.Errorf("the Perl server did not quit cleanly: %v\n%s", findEvents(events, "quit"), srv.stderr.String())
	}
	if err := gw.stop(); err != nil {
		t.Errorf("daemon drain: %v", err)
	}
}

// e2eEvents is what the peer printed so far.
func (p *perlPeer) e2eEvents() []perlEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]perlEvent(nil), p.events...)
}
