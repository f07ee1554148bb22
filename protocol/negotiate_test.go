package protocol

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testServerConfig() ServerConfig {
	return ServerConfig{
		KernelID: "vm-6b04c5f0-000016eb-00000001",
		Names:    []string{"Srv", "SrvAlias", "127.0.0.1:34422"},
		Freezers: []string{"Storable", "FreezeThaw"},
		PID:      5867,
	}
}

func testClientConfig() ClientConfig {
	return ClientConfig{
		KernelID: "vm-6b04c5f1-00001716-00000001",
		Names:    []string{"Cli", "CliAlias", "127.0.0.1:53128"},
		Freezers: []string{"Storable", "FreezeThaw", "POE::Component::IKC::Freezer"},
		PID:      5910,
	}
}

func newServer(t *testing.T, cfg ServerConfig) *ServerNegotiator {
	t.Helper()
	n, err := NewServerNegotiator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newClient(t *testing.T, cfg ClientConfig) *ClientNegotiator {
	t.Helper()
	n, err := NewClientNegotiator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// step is one line in and the exact lines expected out.
type step struct {
	in   string
	want []string
}

func runSteps(t *testing.T, rx func(string) ([]string, error), steps []step) {
	t.Helper()
	for i, s := range steps {
		got, err := rx(s.in)
		if err != nil {
			t.Fatalf("step %d %q: %v", i, s.in, err)
		}
		if d := cmp.Diff(s.want, got); d != "" {
			t.Fatalf("step %d %q: sent (-want +got):\n%s", i, s.in, d)
		}
	}
}

const serverSetupReply = "SETUP KERNEL=vm-6b04c5f0-000016eb-00000001,Srv,SrvAlias,127.0.0.1:34422;FREEZER=Storable;PID=5867"

func TestServerAnswersNotToSetupWithUnknownFieldAndStaysInS010(t *testing.T) {
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"SETUP KERNEL=Go;FREEZER=Storable;X=1", []string{"NOT"}},
		{"SETUP KERNEL=Go;FREEZER=Storable;PID=abc", []string{"NOT"}},
		{"SETUP KERNEL=Go;FREEZER=;PID=1", []string{"NOT"}},
		{"SETUP KERNEL=Go;;FREEZER=Storable", []string{"NOT"}}, // empty middle field
		{"SETUP ;KERNEL=Go;FREEZER=Storable", []string{"NOT"}}, // empty first field
		{"SETUP FREEZER=Storable;PID=1", []string{"NOT"}},      // no KERNEL
		{"SETUP KERNEL=,,;FREEZER=Storable", []string{"NOT"}},  // KERNEL list splits to nothing
	})
	if n.Done() || n.State() != "S010" {
		t.Fatalf("done=%v state=%s after bad SETUPs; want S010", n.Done(), n.State())
	}
	runSteps(t, n.Receive, []step{{"SETUP KERNEL=Go;FREEZER=Storable;PID=7", []string{serverSetupReply}}})
	if !n.Done() {
		t.Fatal("not done after a good SETUP")
	}
}

func TestServerRefusesUnknownFreezerAndAcceptsARetryOnTheSameConnection(t *testing.T) {
	// The refusal-and-retry transcript of PROTOCOL.md §2.3.
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"SETUP KERNEL=Go2;FREEZER=Bogus::Pkg;PID=42", []string{"NOT"}},
		{"SETUP KERNEL=Go2;FREEZER=FreezeThaw", []string{strings.Replace(serverSetupReply, "Storable", "FreezeThaw", 1)}},
	})
	want := Result{Dialogue: DialogueIKC0, Freezer: "FreezeThaw", PeerKernelID: "Go2", PeerNames: []string{"Go2"}}
	if d := cmp.Diff(want, n.Result()); d != "" {
		t.Fatalf("result (-want +got):\n%s", d)
	}
}

func TestServerPicksTheFirstAllowedFreezerInTheClientsOrder(t *testing.T) {
	n := newServer(t, testServerConfig()) // allows Storable, FreezeThaw
	runSteps(t, n.Receive, []step{{
		"SETUP KERNEL=C;FREEZER=Sereal,FreezeThaw,Storable;PID=1",
		[]string{strings.Replace(serverSetupReply, "Storable", "FreezeThaw", 1)},
	}})
	if got := n.Result().Freezer; got != "FreezeThaw" {
		t.Fatalf("freezer %q, want FreezeThaw", got)
	}
}

func TestServerNeverAcceptsAFreezerOutsideItsAllowList(t *testing.T) {
	// Perl would accept "::Storable" and "main::Storable" (the same package)
	// and require any installed module; the allow-list is matched exactly.
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"SETUP KERNEL=C;FREEZER=::Storable,main::Storable,Data::Dumper", []string{"NOT"}},
	})
}

func TestServerParsesSetupWithPerlsQuirks(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		names   []string
		pid     int
		hasPID  bool
		freezer string
	}{
		{"accumulated fields", "SETUP KERNEL=a;KERNEL=b,c;FREEZER=Bogus;FREEZER=Storable;PID=1;PID=2", []string{"a", "b", "c"}, 2, true, "Storable"},
		{"unanchored field tests", "SETUP XKERNEL=a;xFREEZER=Storable;myPID=12abc", []string{"a"}, 12, true, "Storable"},
		{"KERNEL= is tested before FREEZER=", "SETUP KERNEL=a;FREEZER=KERNEL=b;FREEZER=Storable", []string{"a", "b"}, 0, false, "Storable"},
		{"trailing empty fields dropped", "SETUP KERNEL=a,b,,;FREEZER=Storable,;;", []string{"a", "b"}, 0, false, "Storable"},
		{"empty middle names kept", "SETUP KERNEL=a,,b;FREEZER=Storable", []string{"a", "", "b"}, 0, false, "Storable"},
		{"two spaces", "SETUP  KERNEL=a;FREEZER=Storable", []string{"a"}, 0, false, "Storable"},
		{"PID after non-digits", "SETUP KERNEL=a;FREEZER=Storable;PID=xPID=5", []string{"a"}, 5, true, "Storable"},
		{"ClientLite", "SETUP KERNEL=LiteClient;FREEZER=Storable;PID=1819", []string{"LiteClient"}, 1819, true, "Storable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newServer(t, testServerConfig())
			send, err := n.Receive(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if !n.Done() {
				t.Fatalf("sent %q and not done", send)
			}
			want := Result{Dialogue: DialogueIKC0, Freezer: tt.freezer, PeerKernelID: tt.names[0], PeerNames: tt.names, PeerPID: tt.pid, PeerHasPID: tt.hasPID}
			if d := cmp.Diff(want, n.Result()); d != "" {
				t.Fatalf("result (-want +got):\n%s", d)
			}
		})
	}
}

func TestServerOmitsPIDForOldClients(t *testing.T) {
	cfg := testServerConfig()
	cfg.OmitPID = true
	n := newServer(t, cfg)
	runSteps(t, n.Receive, []step{{"SETUP KERNEL=Old;FREEZER=Storable", []string{strings.TrimSuffix(serverSetupReply, ";PID=5867")}}})
}

func TestServerInS010IgnoresWhatPerlIgnores(t *testing.T) {
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"OK", nil}, {"NOT", nil}, {"DONE", nil}, {"hello", nil}, {"", nil},
		{"SETUP", nil}, {"SETUP ", nil}, {"SETUPKERNEL=a;FREEZER=Storable", nil},
		{"HELLO IKC10", nil}, {"HELLO ", nil},
		{"HELLO IKC2", []string{"NOT"}},
	})
	if n.State() != "S010" {
		t.Fatalf("state %s, want S010", n.State())
	}
}

func TestLegacyOnlyServerAnswersNotToEverySetup(t *testing.T) {
	cfg := testServerConfig()
	cfg.LegacyOnly = true
	n := newServer(t, cfg)
	runSteps(t, n.Receive, []step{
		{"SETUP KERNEL=a;FREEZER=Storable;PID=1", []string{"NOT"}},
		{"SETUPX", []string{"NOT"}}, // /^SETUP/ is unanchored
		{"HELLO IKC0", []string{"NOT"}},
		{"OK", nil}, {"NOT", nil}, {"junk", nil},
		{"HELLO", []string{"IAM vm-6b04c5f0-000016eb-00000001"}},
	})
}

func TestLegacyServerFollowsPerlStateByState(t *testing.T) {
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"HELLO", []string{"IAM vm-6b04c5f0-000016eb-00000001"}},
		{"NOT", nil},              // S001 ignores NOT
		{"junk", []string{"NOT"}}, // and prods at anything else
		{"OK", []string{"IAM 127.0.0.1:34422"}},
		{"OK", []string{"IAM SrvAlias"}},
		{"OK", []string{"IAM Srv"}},
		{"OK", []string{"DONE"}},
		{"OK", []string{"NOT"}}, // S002: OK is not expected any more
		{"IAM vm-6b04c5f1-00001716-00000001", []string{"OK"}},
		{"IAM\t127.0.0.1:34022", []string{"OK"}}, // \s+
		{"IAM bad name", []string{"NOT"}},
		{"IAM caf\xc3\xa9", []string{"NOT"}}, // \w is ASCII on byte strings
		{"NOT", nil},
		{"IAM Cli", []string{"OK"}},
		{"DONE", nil},
		{"FREEZER FreezeThaw", []string{"OK"}},
		{"FREEZER Foo.Bar", []string{"NOT"}}, // bad characters: refused, selection kept
		{"FREEZER", []string{"NOT"}},
		{"NOT", nil},
		{"UP", []string{"NOT"}},
		{"WORLD", []string{"UP"}},
	})
	want := Result{
		Dialogue: DialogueLegacy, Freezer: "FreezeThaw",
		PeerKernelID: "vm-6b04c5f1-00001716-00000001",
		PeerNames:    []string{"vm-6b04c5f1-00001716-00000001", "127.0.0.1:34022", "Cli"},
	}
	if d := cmp.Diff(want, n.Result()); d != "" {
		t.Fatalf("result (-want +got):\n%s", d)
	}
	if _, err := n.Receive("WORLD"); !errors.Is(err, ErrNegotiationDone) {
		t.Fatalf("Receive after done: %v, want ErrNegotiationDone", err)
	}
}

func TestLegacyServerFallsBackToStorableWhenARefusedOfferFollowsAnAcceptedOne(t *testing.T) {
	// Perl rebuilds its filter for every well-formed offer; a package it
	// can't use leaves it with none, so the default (Storable) is used.
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{
		{"HELLO", []string{"IAM vm-6b04c5f0-000016eb-00000001"}},
		{"OK", []string{"IAM 127.0.0.1:34422"}}, {"OK", []string{"IAM SrvAlias"}}, {"OK", []string{"IAM Srv"}}, {"OK", []string{"DONE"}},
		{"DONE", nil},
		{"FREEZER FreezeThaw", []string{"OK"}},
		{"FREEZER Bogus::Pkg", []string{"NOT"}},
		{"WORLD", []string{"UP"}},
	})
	r := n.Result()
	if r.Freezer != "Storable" || r.PeerKernelID != "" || len(r.PeerNames) != 0 {
		t.Fatalf("result %+v; want Storable and no peer names", r)
	}
}

func TestLegacyServerStopsAnnouncingAtAPerlFalseName(t *testing.T) {
	cfg := testServerConfig()
	cfg.Names = []string{"Srv", "0", "127.0.0.1:1"}
	n := newServer(t, cfg)
	runSteps(t, n.Receive, []step{
		{"HELLO", []string{"IAM " + cfg.KernelID}},
		{"OK", []string{"IAM 127.0.0.1:1"}},
		{"OK", []string{"DONE"}}, // "0" is false in Perl: Srv is never sent
	})
	// IKC0 announces every name.
	n = newServer(t, cfg)
	runSteps(t, n.Receive, []step{{"SETUP KERNEL=a;FREEZER=Storable", []string{"SETUP KERNEL=" + cfg.KernelID + ",Srv,0,127.0.0.1:1;FREEZER=Storable;PID=5867"}}})
}

func TestServerStopsAPeerThatSendsEndlessIgnoredLines(t *testing.T) {
	cfg := testServerConfig()
	cfg.Limits.MaxLines = 10
	n := newServer(t, cfg)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = n.Receive("OK")
	}
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "lines" || le.Max != 10 || !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err %v; want a lines LimitError", err)
	}
	if _, again := n.Receive("HELLO"); again != err {
		t.Fatalf("after failing, Receive returned %v, want the same error", again)
	}
}

func TestServerStopsAPeerOfferingTenThousandFreezers(t *testing.T) {
	offers := make([]string, 10000)
	for i := range offers {
		offers[i] = fmt.Sprintf("Pkg%d", i)
	}
	cfg := testServerConfig()
	cfg.Limits.MaxLineLength = 1 << 20 // so the line itself is accepted
	n := newServer(t, cfg)
	_, err := n.Receive("SETUP KERNEL=a;FREEZER=" + strings.Join(offers, ",") + ";PID=1")
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "freezers" || le.Max != DefaultMaxFreezers {
		t.Fatalf("err %v; want a freezers LimitError", err)
	}

	// The legacy dialogue offers one per line.
	n = newServer(t, testServerConfig())
	for _, l := range []string{"HELLO", "OK", "OK", "OK", "OK", "DONE"} {
		if _, err := n.Receive(l); err != nil {
			t.Fatal(err)
		}
	}
	err = nil
	for i := 0; i < len(offers) && err == nil; i++ {
		_, err = n.Receive("FREEZER " + offers[i])
	}
	if !errors.As(err, &le) || le.Limit != "freezers" {
		t.Fatalf("err %v; want a freezers LimitError", err)
	}
}

func TestServerStopsAPeerAnnouncingTooManyNames(t *testing.T) {
	cfg := testServerConfig()
	cfg.Limits.MaxNames = 3
	n := newServer(t, cfg)
	if _, err := n.Receive("SETUP KERNEL=a,b;KERNEL=c,d;FREEZER=Storable"); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err %v, want ErrLimitExceeded", err)
	}
	n = newServer(t, cfg)
	var err error
	for _, l := range []string{"HELLO", "OK", "OK", "OK", "OK", "IAM a", "IAM b", "IAM c", "IAM d"} {
		if _, err = n.Receive(l); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("err %v, want ErrLimitExceeded", err)
	}
}

func TestNegotiatorRefusesOverlongLines(t *testing.T) {
	cfg := testServerConfig()
	cfg.Limits.MaxLineLength = 100
	n := newServer(t, cfg)
	if _, err := n.Receive("SETUP KERNEL=" + strings.Repeat("a", 100)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v, want ErrLineTooLong", err)
	}
}

func TestNegotiatorsRejectAPeerThatSpeaksAnotherProtocol(t *testing.T) {
	for _, line := range []string{
		"GET / HTTP/1.1",
		"POST /api HTTP/1.0",
		"HTTP/1.1 400 Bad Request",
		"SSH-2.0-OpenSSH_9.2",
		"\x16\x03\x01\x02\x00\x01",
		"147\x00\x05\x0b\x03",
		"\x00\x00\x00",
	} {
		n := newServer(t, testServerConfig())
		_, err := n.Receive(line)
		var fe *ForeignProtocolError
		if !errors.Is(err, ErrNotIKC) || !errors.As(err, &fe) {
			t.Errorf("server, first line %q: err %v; want ErrNotIKC", line, err)
		}
		c := newClient(t, testClientConfig())
		c.Start()
		if _, err := c.Receive(line); !errors.Is(err, ErrNotIKC) {
			t.Errorf("client, first line %q: err %v; want ErrNotIKC", line, err)
		}
	}
	// Only the first line is judged; later, Perl's rules apply.
	n := newServer(t, testServerConfig())
	runSteps(t, n.Receive, []step{{"hi", nil}, {"GET / HTTP/1.1", nil}})
}

func TestClientSendsSetupAndFallsBackToHelloOnNot(t *testing.T) {
	n := newClient(t, testClientConfig())
	if d := cmp.Diff([]string{"SETUP KERNEL=vm-6b04c5f1-00001716-00000001,Cli,CliAlias,127.0.0.1:53128;FREEZER=Storable,FreezeThaw,POE::Component::IKC::Freezer;PID=5910"}, n.Start()); d != "" {
		t.Fatalf("Start (-want +got):\n%s", d)
	}
	if again := n.Start(); again != nil {
		t.Fatalf("second Start sent %q", again)
	}
	runSteps(t, n.Receive, []step{
		{"NOT", []string{"HELLO"}},
		{"IAM vm-6b04c5f0-000016eb-00000001", []string{"OK"}},
		{"NOT", nil},
		{"IAM bad name", []string{"NOT"}},
		{"IAM Srv", []string{"OK"}},
		{"DONE", []string{"IAM vm-6b04c5f1-00001716-00000001"}},
		{"NOT", nil},
		{"OK", []string{"IAM 127.0.0.1:53128"}},
		{"OK", []string{"IAM CliAlias"}},
		{"OK", []string{"IAM Cli"}},
		{"OK", []string{"DONE", "FREEZER Storable"}},
		{"NOT", []string{"FREEZER FreezeThaw"}},
		{"junk", []string{"NOT"}},
		{"OK", []string{"WORLD"}},
		{"NOT", nil},
		{"OK", []string{"NOT"}},
		{"UP", nil},
	})
	want := Result{
		Dialogue: DialogueLegacy, Freezer: "FreezeThaw", FellBack: true,
		PeerKernelID: "vm-6b04c5f0-000016eb-00000001",
		PeerNames:    []string{"vm-6b04c5f0-000016eb-00000001", "Srv"},
	}
	if d := cmp.Diff(want, n.Result()); d != "" {
		t.Fatalf("result (-want +got):\n%s", d)
	}
}

func TestClientAnswersNotToASetupReplyItCannotUse(t *testing.T) {
	n := newClient(t, testClientConfig())
	n.Start()
	runSteps(t, n.Receive, []step{
		{"SETUP KERNEL=S;FREEZER=Sereal;PID=1", []string{"NOT"}},              // not offered: Perl would die
		{"SETUP KERNEL=S;FREEZER=Storable,FreezeThaw;PID=1", []string{"NOT"}}, // not exactly one
		{"SETUP KERNEL=S;PID=1", []string{"NOT"}},                             // none
		{"SETUP FREEZER=Storable", []string{"NOT"}},                           // no KERNEL
		{"SETUP KERNEL=S;FREEZER=Storable;X=1", []string{"NOT"}},              // unknown field
		{"OK", []string{"NOT"}},                                               // anything else
		{"SETUP", []string{"NOT"}},
	})
	if n.Done() {
		t.Fatal("done after refusing every reply")
	}
	runSteps(t, n.Receive, []step{{"SETUP KERNEL=S,Srv;FREEZER=FreezeThaw;PID=99", nil}})
	want := Result{Dialogue: DialogueIKC0, Freezer: "FreezeThaw", PeerKernelID: "S", PeerNames: []string{"S", "Srv"}, PeerPID: 99, PeerHasPID: true}
	if d := cmp.Diff(want, n.Result()); d != "" {
		t.Fatalf("result (-want +got):\n%s", d)
	}
}

func TestLegacyClientUsesStorableWhenTheServerRefusesEveryOffer(t *testing.T) {
	cfg := testClientConfig()
	cfg.LegacyOnly = true
	cfg.Freezers = []string{"FreezeThaw", "POE::Component::IKC::Freezer"}
	n := newClient(t, cfg)
	if d := cmp.Diff([]string{"HELLO"}, n.Start()); d != "" {
		t.Fatal(d)
	}
	cfg.Names = nil
	runSteps(t, n.Receive, []step{
		{"IAM S", []string{"OK"}},
		{"DONE", []string{"IAM " + cfg.KernelID}},
		{"OK", []string{"IAM 127.0.0.1:53128"}}, {"OK", []string{"IAM CliAlias"}}, {"OK", []string{"IAM Cli"}},
		{"OK", []string{"DONE", "FREEZER FreezeThaw"}},
		{"NOT", []string{"FREEZER POE::Component::IKC::Freezer"}},
		{"NOT", []string{"WORLD"}},
		{"UP", nil},
	})
	if r := n.Result(); r.Freezer != DefaultFreezer || r.FellBack || r.Dialogue != DialogueLegacy {
		t.Fatalf("result %+v; want legacy with Storable", r)
	}
}

func TestLegacyClientWithoutFreezersSaysWorldRightAfterDone(t *testing.T) {
	n := newClient(t, ClientConfig{KernelID: "LiteClient", LegacyOnly: true})
	n.Start()
	runSteps(t, n.Receive, []step{
		{"IAM S", []string{"OK"}},
		{"DONE", []string{"IAM LiteClient"}},
		{"OK", []string{"DONE", "WORLD"}},
		{"UP", nil},
	})
	if !n.Done() || n.Result().Freezer != "Storable" {
		t.Fatalf("done=%v result=%+v", n.Done(), n.Result())
	}
}

func TestClientReceiveBeforeStartFails(t *testing.T) {
	n := newClient(t, testClientConfig())
	if _, err := n.Receive("NOT"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("err %v, want ErrNotStarted", err)
	}
}

func TestNegotiatorRejectsLinesContainingTerminators(t *testing.T) {
	n := newServer(t, testServerConfig())
	if _, err := n.Receive("HELLO\r\nOK"); err == nil {
		t.Fatal("a line with CR LF inside was accepted")
	}
}

func TestConfigValidateRefusesWhatWouldBreakADialogue(t *testing.T) {
	good := testServerConfig()
	for name, mut := range map[string]func(*ServerConfig){
		"empty kernel ID":        func(c *ServerConfig) { c.KernelID = "" },
		"comma in name":          func(c *ServerConfig) { c.Names = []string{"a,b"} },
		"space in name":          func(c *ServerConfig) { c.Names = []string{"my server"} },
		"empty name":             func(c *ServerConfig) { c.Names = []string{""} },
		"no freezers":            func(c *ServerConfig) { c.Freezers = nil },
		"freezer with semicolon": func(c *ServerConfig) { c.Freezers = []string{"Storable;PID=1"} },
		"negative PID":           func(c *ServerConfig) { c.PID = -1 },
		"negative limit":         func(c *ServerConfig) { c.Limits.MaxLines = -1 },
	} {
		c := good
		mut(&c)
		if _, err := NewServerNegotiator(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cc := testClientConfig()
	cc.Freezers = nil
	if err := cc.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("IKC0 client without freezers: %v, want ErrInvalidConfig", err)
	}
	cc.LegacyOnly = true
	if err := cc.Validate(); err != nil {
		t.Errorf("legacy client without freezers: %v", err)
	}
	d := DefaultServerConfig()
	d.KernelID = "k"
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultServerConfig plus a kernel ID: %v", err)
	}
	dc := DefaultClientConfig()
	dc.KernelID = "k"
	if err := dc.Validate(); err != nil {
		t.Errorf("DefaultClientConfig plus a kernel ID: %v", err)
	}
}

func TestNegotiatorDoesNotShareTheCallersSlices(t *testing.T) {
	cfg := testServerConfig()
	n := newServer(t, cfg)
	cfg.Names[0] = "Changed"
	cfg.Freezers[0] = "Other"
	runSteps(t, n.Receive, []step{{"SETUP KERNEL=a;FREEZER=Storable", []string{"SETUP KERNEL=vm-6b04c5f0-000016eb-00000001,Srv,SrvAlias,127.0.0.1:34422;FREEZER=Storable;PID=5867"}}})
	r := n.Result()
	r.PeerNames[0] = "x"
	if n.Result().PeerNames[0] != "a" {
		t.Fatal("Result shares PeerNames with the negotiator")
	}
}

// pump runs our client against our server in memory.
func pump(t *testing.T, c *ClientNegotiator, s *ServerNegotiator) {
	t.Helper()
	toServer := c.Start()
	var toClient []string
	for i := 0; i < 1000 && !(c.Done() && s.Done()); i++ {
		for len(toServer) > 0 {
			out, err := s.Receive(toServer[0])
			if err != nil {
				t.Fatalf("server on %q: %v", toServer[0], err)
			}
			toServer, toClient = toServer[1:], append(toClient, out...)
		}
		for len(toClient) > 0 {
			out, err := c.Receive(toClient[0])
			if err != nil {
				t.Fatalf("client on %q: %v", toClient[0], err)
			}
			toClient, toServer = toClient[1:], append(toServer, out...)
		}
	}
	if !c.Done() || !s.Done() {
		t.Fatalf("not done: client %s, server %s", c.State(), s.State())
	}
	if len(toServer) > 0 || len(toClient) > 0 {
		t.Fatalf("lines left over: %q %q", toServer, toClient)
	}
}

func TestOurClientAndServerAgreeInEveryMode(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		clientLegacy, serverLegacy  bool
		offers, allowed             []string
		wantDialogue                Dialogue
		wantFreezer                 string
		wantFellBack, wantServerPID bool
	}{
		{"IKC0", false, false, []string{"FreezeThaw", "Storable"}, []string{"Storable", "FreezeThaw"}, DialogueIKC0, "FreezeThaw", false, true},
		{"IKC0 refused by legacy-only server", false, true, []string{"FreezeThaw", "Storable"}, []string{"Storable"}, DialogueLegacy, "Storable", true, false},
		{"IKC0 with no common freezer", false, false, []string{"FreezeThaw"}, []string{"Storable"}, DialogueLegacy, "Storable", true, false},
		{"legacy client, IKC0 server", true, false, []string{"Sereal", "FreezeThaw"}, []string{"Storable", "FreezeThaw"}, DialogueLegacy, "FreezeThaw", false, false},
		{"legacy both", true, true, []string{"Sereal"}, []string{"Storable"}, DialogueLegacy, "Storable", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc := testClientConfig()
			cc.LegacyOnly, cc.Freezers = tt.clientLegacy, tt.offers
			sc := testServerConfig()
			sc.LegacyOnly, sc.Freezers = tt.serverLegacy, tt.allowed
			c, s := newClient(t, cc), newServer(t, sc)
			pump(t, c, s)
			cr, sr := c.Result(), s.Result()
			if cr.Dialogue != tt.wantDialogue || sr.Dialogue != tt.wantDialogue {
				t.Fatalf("dialogues %v/%v, want %v", cr.Dialogue, sr.Dialogue, tt.wantDialogue)
			}
			if cr.Freezer != tt.wantFreezer || sr.Freezer != tt.wantFreezer {
				t.Fatalf("freezers %q/%q, want %q", cr.Freezer, sr.Freezer, tt.wantFreezer)
			}
			if cr.FellBack != tt.wantFellBack {
				t.Fatalf("FellBack %v", cr.FellBack)
			}
			if d := cmp.Diff(append([]string{cc.KernelID}, cc.Names...), sr.PeerNames); tt.wantDialogue == DialogueIKC0 && d != "" {
				t.Fatalf("server saw client names (-want +got):\n%s", d)
			}
			if tt.wantDialogue == DialogueLegacy {
				// Legacy names arrive last to first after the ID.
				want := []string{cc.KernelID, "127.0.0.1:53128", "CliAlias", "Cli"}
				if d := cmp.Diff(want, sr.PeerNames); d != "" {
					t.Fatalf("server saw client names (-want +got):\n%s", d)
				}
			}
			if cr.PeerHasPID != tt.wantServerPID || (tt.wantServerPID && cr.PeerPID != sc.PID) {
				t.Fatalf("client saw server PID %d (has %v)", cr.PeerPID, cr.PeerHasPID)
			}
		})
	}
}

func TestNewKernelIDHasPerlsForm(t *testing.T) {
	got := NewKernelID("vm", time.Unix(0x6b04c5f1, 0), 0x1716, 1)
	if got != "vm-6b04c5f1-00001716-00000001" {
		t.Fatalf("got %q", got)
	}
	// Perl packs each value with "N": 32 bits.
	if got := NewKernelID("h", time.Unix(1<<32+5, 0), 1<<32+7, 1<<32); got != "h-00000005-00000007-00000000" {
		t.Fatalf("got %q", got)
	}
}

func TestUnixNamesAreMangledLikeChannelPm(t *testing.T) {
	// Names from the j2-aliases-unix capture.
	if got := UnixServerName("/tmp/ikc-capture-sock/j2-aliases-unix.server.sock"); got != "unix:_tmp_ikc-capture-sock_j2-aliases-unix.server.sock" {
		t.Errorf("server name %q", got)
	}
	if got := UnixClientName("/tmp/ikc-capture-sock/j2-aliases-unix.relay.sock", 2806, 3); got != "unix:_tmp_ikc-capture-sock_j2-aliases-unix.relay.sock:2806-3" {
		t.Errorf("client name %q", got)
	}
	if got := MangleUnixPath("/tmp/x/s.sock"); got != "_tmp_x_s.sock" {
		t.Errorf("§1 example: %q", got)
	}
	if got := MangleUnixPath("a  b//c\xc3\xa9d:e"); got != "a_b_c_d:e" {
		t.Errorf("runs collapse: %q", got)
	}
}

func TestDialogueNamesArePerlsProtocolNames(t *testing.T) {
	if DialogueIKC0.String() != "IKC0" || DialogueLegacy.String() != "IKC" || Dialogue(0).String() != "Dialogue(0)" {
		t.Fatal(DialogueIKC0.String(), DialogueLegacy.String(), Dialogue(0).String())
	}
}
