package protocol

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// specTable is PROTOCOL.md §6.1's parse table plus cases checked against
// the real Specifier.pm (TestParseSpecifierAgreesWithPerl re-checks them
// all when Perl and IKC are installed).
var specTable = []struct {
	in   string
	want Specifier
}{
	{"poe://K/s/e", Specifier{Kernel: "K", Session: "s", State: "e"}},
	{"poe://K/s", Specifier{Kernel: "K", Session: "s"}},
	{"poe://K/s/", Specifier{Kernel: "K", Session: "s"}},
	{"poe://K", Specifier{Kernel: "K"}},
	{"poe:/s/e", Specifier{Session: "s", State: "e"}},
	{"s/e", Specifier{Session: "s", State: "e"}},
	{"poe:e", Specifier{State: "e"}},
	{"//K/s/e", Specifier{Kernel: "K", Session: "s", State: "e"}},
	{"//K/s", Specifier{Kernel: "K", State: "s"}},
	{"poe://127.0.0.1:603/s/e", Specifier{Kernel: "127.0.0.1:603", Session: "s", State: "e"}},
	{"poe://K/s/e?x", Specifier{Kernel: "K", Session: "s", State: "e", Args: "x", HasArgs: true}},
	{"poe://0/0/0", Specifier{}},
	// Beyond the table, each checked with Perl.
	{"poe://K/s/e?0", Specifier{Kernel: "K", Session: "s", State: "e"}}, // false args are dropped
	{"poe://K/s/e\n", Specifier{Kernel: "K", Session: "s", State: "e"}}, // Perl's $ allows one final newline
	{"s/e\n", Specifier{Session: "s", State: "e"}},
	{"\n", Specifier{}},
	{"poe:", Specifier{}},
	{"poe:/", Specifier{}},
	{"poe://", Specifier{}},
	{"poe:///s/e", Specifier{Session: "s", State: "e"}},
	{"poe:?a", Specifier{Args: "a", HasArgs: true}},
	{"?a", Specifier{Args: "a", HasArgs: true}},
	{"//K/", Specifier{Kernel: "K"}},
	{"//K/e", Specifier{Kernel: "K", State: "e"}},
	{"//K/?x", Specifier{Kernel: "K", Args: "x", HasArgs: true}},
	{"poe://K/e", Specifier{Kernel: "K", Session: "e"}},
	{"poe://K?x", Specifier{Kernel: "K", Args: "x", HasArgs: true}},
	{"poe://*/s/e", Specifier{Kernel: "*", Session: "s", State: "e"}},
	{"poe://unix:_tmp_x_s.sock/s/e", Specifier{Kernel: "unix:_tmp_x_s.sock", Session: "s", State: "e"}},
	{"poe://unix:a.b:1-2/s/e", Specifier{Kernel: "unix:a.b:1-2", Session: "s", State: "e"}},
	{"poe://ab:1/s/e", Specifier{Kernel: "ab:1", Session: "s", State: "e"}},
	{"poe://vm-6b04cc83-000005e1-00000001/IKC/ping", Specifier{Kernel: "vm-6b04cc83-000005e1-00000001", Session: "IKC", State: "ping"}},
	{"poe:// /s/e", Specifier{Kernel: " ", Session: "s", State: "e"}},
	{" ", Specifier{State: " "}},
	{"e", Specifier{State: "e"}},
	{"s/", Specifier{Session: "s"}},
	{"poe://K/s/e x", Specifier{Kernel: "K", Session: "s", State: "e x"}},
	{"poe://Kéé/séssion/état", Specifier{Kernel: "Kéé", Session: "séssion", State: "état"}},
	{"poe://KⒶ/s/e\u2160", Specifier{Kernel: "KⒶ", Session: "s", State: "e\u2160"}}, // Other_Alphabetic, Nl
	{"poe://Kx:\u0663\u0664/s/e", Specifier{Kernel: "Kx:\u0663\u0664", Session: "s", State: "e"}},
}

// specInvalid lists inputs Perl refuses: PROTOCOL.md §6.1's list and more.
var specInvalid = []string{
	"poe:s/e", "K/s/e", "poe://K/s/IKC:proxy", "poe://K/s.x/e", "poe://K/s/a.b",
	"poe://K//e", "poe://K/s/e/x", "", "0",
	"/", "poe://K/s/e\n\n", "s/e/", " / / ", "poe://a:1/s/e", "poe://-a:1/s/e",
	"poe://unix:/s/e", "poe://unix:a:1/s/e", "poe://x.y:1:2/s/e", "poe://K/s/e?", "poe://K/s/e?a b",
	"poe://K/s/e\r\n", "poe://K\u263a/s/e", "poe://K\u0663\u0663:\u0663/s/e", "poe:\x00", "poe://K/s/e\x00",
	"\xe9", "poe://K\xe9/s/e",
}

func TestParseSpecifierFollowsSpecifierPm(t *testing.T) {
	for _, c := range specTable {
		got, err := ParseSpecifier(c.in)
		if err != nil {
			t.Errorf("ParseSpecifier(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseSpecifier(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, in := range specInvalid {
		got, err := ParseSpecifier(in)
		var se *SpecifierError
		if !errors.Is(err, ErrBadSpecifier) || !errors.As(err, &se) {
			t.Errorf("ParseSpecifier(%q) = %+v, %v; want ErrBadSpecifier", in, got, err)
		}
	}
}

func TestSpecifierStringIsPerlsLossyRendering(t *testing.T) {
	cases := []struct {
		s    Specifier
		want string
	}{
		{Specifier{Kernel: "K", Session: "s", State: "e"}, "poe://K/s/e"},
		{Specifier{Kernel: "K", State: "e"}, "poe://K/e"}, // reads back as session e
		{Specifier{Session: "s", State: "e"}, "poe:/s/e"},
		{Specifier{State: "e"}, "poe:/e"},
		{Specifier{Kernel: "K"}, "poe://K"},
		{Specifier{}, "poe:"},
		{Specifier{Kernel: "0", Session: "0", State: "e"}, "poe:/e"},
		{Specifier{Kernel: "K", Session: "s", State: "e", Args: "x", HasArgs: true}, "poe://K/s/e"},
		{Specifier{Kernel: "vm-1", Session: "client", State: "IKC:proxy"}, "poe://vm-1/client/IKC:proxy"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
		}
	}
	if back, _ := ParseSpecifier(Specifier{Kernel: "K", State: "e"}.String()); back.Session != "e" {
		t.Errorf("poe://K/e no longer reads back as session e: %+v", back)
	}
}

func TestSpecifierFromValueReadsStringAndHashForms(t *testing.T) {
	hash := func(kv ...any) *perlcompat.Hash {
		h := perlcompat.NewHash()
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i].(string), kv[i+1].(perlcompat.Value))
		}
		return h
	}
	s := func(x string) perlcompat.Value { return perlcompat.Text(x) }
	cases := []struct {
		name string
		in   perlcompat.Value
		want Specifier
	}{
		{"string", s("poe://Server/svc/echo"), Specifier{Kernel: "Server", Session: "svc", State: "echo"}},
		{"integer session", hash("kernel", s("TestClient"), "session", perlcompat.Int(2), "state", s("echo_reply")),
			Specifier{Kernel: "TestClient", Session: "2", State: "echo_reply"}},
		{"receipt state with spaces and colons", hash("kernel", s("vm-1"), "session", s("IKC"), "state", s("IKC:receipt 2 CODE(0x55)poe://Server/svc")),
			Specifier{Kernel: "vm-1", Session: "IKC", State: "IKC:receipt 2 CODE(0x55)poe://Server/svc"}},
		{"false parts", hash("kernel", perlcompat.Int(0), "session", s("0"), "state", perlcompat.Undef{}), Specifier{}},
		{"missing parts", hash("session", s("IKCLite")), Specifier{Session: "IKCLite"}},
		{"args kept even when false", hash("session", s("s"), "state", s("e"), "args", s("0")),
			Specifier{Session: "s", State: "e", Args: "0", HasArgs: true}},
		{"args undef", hash("session", s("s"), "args", perlcompat.Undef{}), Specifier{Session: "s", HasArgs: true}},
		{"latin-1 bytes in hash form", hash("session", perlcompat.Bytes([]byte("caf\xe9"))), Specifier{Session: "café"}},
		{"number", perlcompat.Int(42), Specifier{State: "42"}},
		{"utf8 string", perlcompat.Str{S: "poe://K/séance/e", UTF8: true}, Specifier{Kernel: "K", Session: "séance", State: "e"}},
		{"ascii byte string", perlcompat.Str{S: "s/e"}, Specifier{Session: "s", State: "e"}},
	}
	for _, c := range cases {
		got, err := SpecifierFromValue(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: SpecifierFromValue = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	bad := []struct {
		name string
		in   perlcompat.Value
	}{
		{"undef", perlcompat.Undef{}},
		{"nil", nil},
		{"empty string", s("")},
		{"zero", perlcompat.Int(0)},
		{"false", perlcompat.Bool(false)},
		{"array", perlcompat.NewArray(s("s"), s("e"))},
		{"scalar ref", &perlcompat.Ref{Target: s("poe:/s/e")}},
		{"blessed hash", &perlcompat.Hash{Class: "Foo", Entries: hash("session", s("s")).Entries}},
		{"ref part", hash("session", perlcompat.NewArray())},
		{"ref args", hash("session", s("s"), "args", perlcompat.NewHash())},
		{"latin-1 byte string", perlcompat.Bytes([]byte("poe://K/caf\xe9/e"))},
		{"utf8 flag on invalid utf8", perlcompat.Str{S: "poe:/s/\xff", UTF8: true}},
		{"invalid string", s("poe://K/s.x/e")},
	}
	for _, c := range bad {
		if got, err := SpecifierFromValue(c.in); !errors.Is(err, ErrBadSpecifier) {
			t.Errorf("%s: SpecifierFromValue = %+v, %v; want ErrBadSpecifier", c.name, got, err)
		}
	}
}

func TestSpecifierValueIsTheNormalizedHashForm(t *testing.T) {
	got := Specifier{Kernel: "K", Session: "0", State: "été", Args: "x", HasArgs: true}.Value()
	want := &perlcompat.Hash{Entries: []perlcompat.Entry{
		{Key: perlcompat.Str{S: "kernel"}, Value: perlcompat.Str{S: "K"}},
		{Key: perlcompat.Str{S: "session"}, Value: perlcompat.Str{}},
		{Key: perlcompat.Str{S: "state"}, Value: perlcompat.Str{S: "été", UTF8: true}},
		{Key: perlcompat.Str{S: "args"}, Value: perlcompat.Str{S: "x"}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Value() (-want +got):\n%s", diff)
	}
	back, err := SpecifierFromValue(got)
	if err != nil || back != (Specifier{Kernel: "K", State: "été", Args: "x", HasArgs: true}) {
		t.Errorf("hash form reads back as %+v, %v", back, err)
	}
	if _, ok := (Specifier{Session: "s"}).Value().Lookup("args"); ok {
		t.Error("args key present without HasArgs")
	}
}

func TestSpecifierWireValuePrefersTheStringFormWhenLossless(t *testing.T) {
	cases := []struct {
		s          Specifier
		wantString string // "" means the hash form
	}{
		{Specifier{Kernel: "Server", Session: "svc", State: "echo"}, "poe://Server/svc/echo"},
		{Specifier{Kernel: "K", Session: "s", State: "e", Args: "x", HasArgs: true}, "poe://K/s/e?x"},
		{Specifier{Kernel: "K", Session: "s", State: "IKC:proxy"}, ""},
		{Specifier{Kernel: "K", State: "e"}, ""},
		{Specifier{Kernel: "K", Session: "s.x", State: "e"}, ""},
		{Specifier{Kernel: "K", Session: "s", State: "e", Args: "0", HasArgs: true}, ""},
	}
	for _, c := range cases {
		v := c.s.wireValue()
		str, isStr := v.(perlcompat.Str)
		if c.wantString != "" && (!isStr || str.S != c.wantString) {
			t.Errorf("%+v: wire value %#v, want %q", c.s, v, c.wantString)
		}
		if c.wantString == "" && isStr {
			t.Errorf("%+v: wire value %q, want the hash form", c.s, str.S)
		}
		if back, err := SpecifierFromValue(v); err != nil || back != c.s {
			t.Errorf("%+v: wire value reads back as %+v, %v", c.s, back, err)
		}
	}
}

// TestParseSpecifierAgreesWithPerl runs every table input, invalid input
// and fuzz corpus entry through the real Specifier.pm and compares.
func TestParseSpecifierAgreesWithPerl(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl not installed")
	}
	// POE::Component::IKC is on CPAN, not in Debian: found through Perl's
	// own @INC (PERL5LIB) or not at all.
	if out, err := exec.Command("perl", "-MPOE::Component::IKC::Specifier", "-e1").CombinedOutput(); err != nil {
		t.Skipf("POE::Component::IKC is not in Perl's @INC (cpanm POE::Component::IKC, or set PERL5LIB); skipping: %s", bytes.SplitN(out, []byte("\n"), 2)[0])
	}
	inputs := []string{}
	for _, c := range specTable {
		inputs = append(inputs, c.in)
	}
	inputs = append(inputs, specInvalid...)
	inputs = append(inputs, specFuzzSeeds...)
	inputs = append(inputs, specCorpus(t)...)
	// Perl reads one hex-encoded input per line; a UTF-8-valid input is
	// decoded to characters (as Go text is), others stay bytes.
	script := `use strict; use POE::Component::IKC::Specifier;
while (my $l = <STDIN>) { chomp $l; my $s = pack "H*", $l; utf8::decode($s);
  my $r = specifier_parse($s);
  if (!$r) { print "INVALID\n"; next }
  my @p = map { my $x = $r->{$_}; utf8::encode($x); unpack "H*", $x } qw(kernel session state);
  my $a = exists $r->{args} ? $r->{args} : undef;
  push @p, defined $a ? do { utf8::encode($a); "+" . unpack "H*", $a } : "-";
  print join(" ", @p), "\n" }`
	cmd := exec.Command("perl", "-e", script)
	var in bytes.Buffer
	for _, s := range inputs {
		in.WriteString(hex.EncodeToString([]byte(s)) + "\n")
	}
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl with POE::Component::IKC::Specifier failed: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	lines := 0
	for i := 0; sc.Scan(); i++ {
		lines++
		if i >= len(inputs) {
			t.Fatal("perl printed too many lines")
		}
		got, goErr := ParseSpecifier(inputs[i])
		line := sc.Text()
		if line == "INVALID" {
			if goErr == nil {
				t.Errorf("%q: Perl refuses it, Go parses %+v", inputs[i], got)
			}
			continue
		}
		f := strings.Split(line, " ")
		if len(f) != 4 {
			t.Fatalf("perl line %q", line)
		}
		dec := func(h string) string { b, _ := hex.DecodeString(h); return string(b) }
		want := Specifier{Kernel: dec(f[0]), Session: dec(f[1]), State: dec(f[2])}
		if strings.HasPrefix(f[3], "+") {
			want.Args, want.HasArgs = dec(f[3][1:]), true
		}
		if goErr != nil || got != want {
			t.Errorf("%q: Perl parses %+v, Go %+v, %v", inputs[i], want, got, goErr)
		}
	}
	if lines != len(inputs) {
		t.Fatalf("perl answered %d of %d inputs", lines, len(inputs))
	}
}

// specCorpus returns the strings of the FuzzParseSpecifier regression
// corpus, so that Perl re-checks what the fuzzer found.
func specCorpus(t *testing.T) []string {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseSpecifier")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "string("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestSimpleSpecifierFastPathAgreesWithTheGrammar checks the fast path
// against the regular expressions on every input the tests know and on
// generated simple and near-simple ones.
func TestSimpleSpecifierFastPathAgreesWithTheGrammar(t *testing.T) {
	inputs := append([]string(nil), specInvalid...)
	for _, c := range specTable {
		inputs = append(inputs, c.in)
	}
	inputs = append(inputs, specFuzzSeeds...)
	parts := []string{"a", "Srv", "0", "", "k.x", "s-1", "a_b", "x:1", "é", "a b", "00", "1"}
	for _, k := range parts {
		for _, s := range parts {
			for _, e := range parts {
				inputs = append(inputs, "poe://"+k+"/"+s+"/"+e, "poe://"+k+"/"+s+"/"+e+"?q", "poe://"+k+"/"+s+"/"+e+"/x")
			}
		}
	}
	for _, in := range inputs {
		fast, ok := parseSimpleSpecifier(in)
		if !ok {
			continue
		}
		// The slow path, without the fast one in front of it.
		saved := in
		m := specFormA.FindStringSubmatchIndex(saved)
		if m == nil {
			t.Errorf("%q: fast path accepted what the grammar refuses", in)
			continue
		}
		slow, err := parseSpecifierSlow(in)
		if err != nil || slow != fast {
			t.Errorf("%q: fast %+v, grammar %+v (%v)", in, fast, slow, err)
		}
	}
}
