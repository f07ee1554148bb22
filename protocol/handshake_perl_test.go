package protocol

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests negotiate with real Perl IKC kernels. They need perl with
// POE::Component::IKC in @INC (e.g. PERL5LIB pointing at a lib tree holding
// it) and skip otherwise. They only close a connection after its
// negotiation finished: an early close kills Perl IKC 0.2400+.

const perlIKCServer = `
use strict; use warnings;
use POE; use POE::Component::IKC::Server;
$| = 1;
my $port = POE::Component::IKC::Server->spawn(port => 0, ip => '127.0.0.1',
    name => 'PerlSrv', aliases => ['PerlAlias'], protocol => $ARGV[0]);
print "PORT $port\n";
POE::Session->create(inline_states => {
  _start => sub {
    $_[KERNEL]->alias_set('watch');
    $_[KERNEL]->post(IKC => 'publish', 'watch', ['echo']);
    $_[KERNEL]->call(IKC => 'monitor', '*' => { register => 'reg', unregister => 'unreg' });
  },
  reg => sub { print "REGISTER ", join('|', map { defined $_ ? $_ : 'undef' } @_[ARG1, ARG2]), "\n" },
  unreg => sub { $_[KERNEL]->post(IKC => 'shutdown') },
  echo => sub { return $_[ARG0] },
});
POE::Kernel->run;
print "EXIT\n";
`

const perlIKCClient = `
use strict; use warnings;
use POE; use POE::Component::IKC::Client;
$| = 1;
my ($port, $protocol, @serializers) = @ARGV;
POE::Component::IKC::Client->spawn(ip => '127.0.0.1', port => $port, name => 'PerlCli',
    protocol => $protocol, serializers => \@serializers,
    on_connect => sub { print "CONNECTED\n"; $poe_kernel->post(IKC => 'shutdown') });
POE::Kernel->run;
print "EXIT\n";
`

func needPerlIKC(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("talks to real Perl kernels")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl not installed")
	}
	if out, err := exec.Command("perl", "-MPOE::Component::IKC::Server", "-MPOE::Component::IKC::Client", "-e1").CombinedOutput(); err != nil {
		t.Skipf("POE::Component::IKC not in Perl's @INC (set PERL5LIB): %v: %.200s", err, out)
	}
}

// perlProc runs a Perl script and hands out its stdout lines.
type perlProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan error
}

func startPerl(t *testing.T, script string, args ...string) *perlProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peer.pl")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("perl", append([]string{path}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &perlProc{cmd: cmd, lines: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range p.lines {
		}
		<-p.done
		if t.Failed() {
			t.Logf("perl stderr:\n%s", stderr.String())
		}
	})
	return p
}

// expect waits for a stdout line with the given prefix.
func (p *perlProc) expect(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("perl exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("perl did not print %q in time", prefix)
		}
	}
}

func TestClientHandshakeWithARealPerlServer(t *testing.T) {
	needPerlIKC(t)
	for _, tt := range []struct {
		serverProtocol string
		legacyOnly     bool
	}{{"IKC0", false}, {"IKC", false}, {"IKC0", true}} {
		t.Run(fmt.Sprintf("server %s, client legacy-only %v", tt.serverProtocol, tt.legacyOnly), func(t *testing.T) {
			p := startPerl(t, perlIKCServer, tt.serverProtocol)
			port := strings.TrimPrefix(p.expect(t, "PORT "), "PORT ")
			conn, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			id := NewKernelID("gotest", time.Now(), os.Getpid(), 1)
			cfg := ClientConfig{
				KernelID: id, Names: []string{"GoCli", conn.LocalAddr().String()},
				Freezers: []string{"Storable"}, PID: os.Getpid(), LegacyOnly: tt.legacyOnly,
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, leftover, err := ClientHandshake(ctx, conn, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(leftover) != 0 {
				t.Errorf("the Perl server sent %q unasked", leftover)
			}
			serverAddr := "127.0.0.1:" + port
			if res.Freezer != "Storable" || len(res.PeerNames) != 4 {
				t.Fatalf("result %+v", res)
			}
			names := res.PeerNames[1:]
			if res.Dialogue == DialogueIKC0 {
				if d := cmp.Diff([]string{"PerlSrv", "PerlAlias", serverAddr}, names); d != "" {
					t.Errorf("IKC0 names (-want +got):\n%s", d)
				}
				if !res.PeerHasPID || res.PeerPID != p.cmd.Process.Pid {
					t.Errorf("PID %d (has %v), want %d", res.PeerPID, res.PeerHasPID, p.cmd.Process.Pid)
				}
			} else if d := cmp.Diff([]string{serverAddr, "PerlAlias", "PerlSrv"}, names); d != "" {
				t.Errorf("legacy names (-want +got):\n%s", d)
			}
			wantDialogue := DialogueIKC0
			if tt.serverProtocol == "IKC" || tt.legacyOnly {
				wantDialogue = DialogueLegacy
			}
			if res.Dialogue != wantDialogue || res.FellBack != (tt.serverProtocol == "IKC" && !tt.legacyOnly) {
				t.Errorf("dialogue %v fellBack %v", res.Dialogue, res.FellBack)
			}
			// Perl registered us under our kernel ID: it is done too.
			if got := p.expect(t, "REGISTER "); got != "REGISTER "+id+"|1" {
				t.Errorf("perl registered %q, want our ID", got)
			}
			conn.Close()
			p.expect(t, "EXIT")
		})
	}
}

func TestServerHandshakeWithARealPerlClient(t *testing.T) {
	needPerlIKC(t)
	for _, tt := range []struct {
		name         string
		clientProto  string
		offers       []string
		ourLegacy    bool
		wantDialogue Dialogue
		wantFreezer  string
	}{
		{"IKC0", "IKC0", []string{"Storable", "FreezeThaw"}, false, DialogueIKC0, "Storable"},
		{"IKC0 picks the first allowed in the client's order", "IKC0", []string{"FreezeThaw", "Storable"}, false, DialogueIKC0, "FreezeThaw"},
		{"IKC0 client falls back", "IKC0", []string{"FreezeThaw", "Storable"}, true, DialogueLegacy, "FreezeThaw"},
		{"legacy client", "IKC", []string{"Storable"}, false, DialogueLegacy, "Storable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
			p := startPerl(t, perlIKCClient, append([]string{port, tt.clientProto}, tt.offers...)...)
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			cfg := ServerConfig{
				KernelID: NewKernelID("gotest", time.Now(), os.Getpid(), 2),
				Names:    []string{"GoSrv", conn.LocalAddr().String()},
				Freezers: []string{"Storable", "FreezeThaw"}, PID: os.Getpid(), LegacyOnly: tt.ourLegacy,
			}
			res, _, err := ServerHandshake(context.Background(), conn, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Dialogue != tt.wantDialogue || res.Freezer != tt.wantFreezer {
				t.Errorf("dialogue %v freezer %q, want %v %q", res.Dialogue, res.Freezer, tt.wantDialogue, tt.wantFreezer)
			}
			client := conn.RemoteAddr().String()
			want := []string{res.PeerKernelID, "PerlCli", client}
			if res.Dialogue == DialogueLegacy {
				want = []string{res.PeerKernelID, client, "PerlCli"}
			}
			if d := cmp.Diff(want, res.PeerNames); d != "" || !strings.Contains(res.PeerKernelID, fmt.Sprintf("-%08x-", p.cmd.Process.Pid)) {
				t.Errorf("peer names (-want +got):\n%s (pid %d)", d, p.cmd.Process.Pid)
			}
			p.expect(t, "CONNECTED") // Perl's on_connect: it finished too
			p.expect(t, "EXIT")
		})
	}
}

// TestRealPerlServerUsesStorableWhenARefusedOfferFollowsAnAcceptedOne
// checks the legacy rule ServerNegotiator.s003 copies: Perl rebuilds its
// filter for every well-formed FREEZER, so an unusable package after an
// accepted one leaves the default, Storable. A Storable frame sent
// afterwards is answered in Storable; with FreezeThaw still selected the
// Perl server would die thawing it.
func TestRealPerlServerUsesStorableWhenARefusedOfferFollowsAnAcceptedOne(t *testing.T) {
	needPerlIKC(t)
	frame, err := exec.Command("perl", "-MStorable=nfreeze", "-e",
		`my $d = nfreeze({event => "poe://PerlSrv/watch/echo", params => ["hi"], `+
			`rsvp => {kernel => "GoKid", session => "s", state => "r"}}); print length($d), "\0", $d`).Output()
	if err != nil {
		t.Fatal(err)
	}
	p := startPerl(t, perlIKCServer, "IKC")
	port := strings.TrimPrefix(p.expect(t, "PORT "), "PORT ")
	conn, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	lr := NewLineReader(conn, 0)
	say := func(line, want string) {
		t.Helper()
		if _, err := conn.Write(AppendLine(nil, line)); err != nil {
			t.Fatal(err)
		}
		if want == "" {
			return
		}
		got, err := lr.ReadLine()
		if err != nil || !strings.HasPrefix(got, want) {
			t.Fatalf("after %q: got %q, %v; want %q", line, got, err, want)
		}
	}
	say("HELLO", "IAM ")
	say("OK", "IAM 127.0.0.1:")
	say("OK", "IAM PerlAlias")
	say("OK", "IAM PerlSrv")
	say("OK", "DONE")
	say("IAM GoKid", "OK")
	say("DONE", "")
	say("FREEZER FreezeThaw", "OK")
	say("FREEZER Bogus::Pkg", "NOT")
	say("WORLD", "UP")
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	reply := append([]byte(nil), lr.Buffered()...)
	buf := make([]byte, 4096)
	for !strings.Contains(string(reply), "\x00\x05\x0b") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no Storable reply (%q so far): %v", reply, err)
		}
		reply = append(reply, buf[:n]...)
	}
	p.expect(t, "REGISTER GoKid|1")
}
