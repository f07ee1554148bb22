package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
)

func TestDefaultConfigPublishesDemoOnLoopback(t *testing.T) {
	cfg, err := DefaultConfig(Options{})
	if err != nil {
		t.Fatalf("embedded default does not load: %v", err)
	}
	if cfg.KernelName != "ikcgate" {
		t.Errorf("kernel name %q, want ikcgate", cfg.KernelName)
	}
	if want := []ListenAddr{{"tcp", "127.0.0.1:6603"}}; !cmp.Equal(cfg.Listen, want) {
		t.Errorf("listen %v, want %v", cfg.Listen, want)
	}
	if cfg.OpsListen != "127.0.0.1:6604" {
		t.Errorf("operations.listen %q, want 127.0.0.1:6604", cfg.OpsListen)
	}
	if len(cfg.Routes) != 1 || cfg.Routes[0].Pattern != "demo/*" || cfg.Routes[0].Kind != KindGo || cfg.Routes[0].Handler != DemoHandlerName {
		t.Errorf("routes %+v, want demo/* -> go handler demo", cfg.Routes)
	}
	if !cmp.Equal(cfg.Freezers, []string{"Storable", "Sereal"}) {
		t.Errorf("freezers %v", cfg.Freezers)
	}
	if cfg.DrainTimeout != 30*time.Second || cfg.Limits.MaxFrameSize != gateway.DefaultMaxFrameSize || cfg.Limits.CallTimeout != gateway.DefaultCallTimeout {
		t.Errorf("defaults not filled in: %+v", cfg)
	}
	if cfg.LogLevel != "info" || cfg.LogFormat != "text" {
		t.Errorf("logging %s/%s", cfg.LogLevel, cfg.LogFormat)
	}
}

func TestExampleConfigInDocsIsValid(t *testing.T) {
	cfg, err := LoadConfig("testdata/example.hcl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, r := range cfg.Routes {
		kinds[r.Pattern] = r.Kind
	}
	want := map[string]string{"demo/*": "go", "orders/*": "upstream", "billing/charge": "http"}
	if !cmp.Equal(kinds, want) {
		t.Errorf("routes %v, want %v", kinds, want)
	}
	if len(cfg.Access.AllowNetworks) != 2 || len(cfg.Access.AllowKernels) != 2 {
		t.Errorf("access %+v", cfg.Access)
	}
	if len(cfg.Listen) != 2 || cfg.Listen[1].Network != "unix" {
		t.Errorf("listen %v", cfg.Listen)
	}
	// The docs must show the file the test checks.
	doc, err := os.ReadFile("CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := os.ReadFile("testdata/example.hcl")
	if !bytes.Contains(doc, bytes.TrimSpace(ex)) {
		t.Error("CONFIG.md does not hold testdata/example.hcl verbatim")
	}
}

func TestEveryValidationErrorNamesKeyAndLine(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		key       string
	}{
		{"unknown top-level key", "kernel {}\nlisten = [\"tcp 127.0.0.1:1\"]\nbogus = 1\n", 3, `"bogus"`},
		{"syntax error", "kernel {\n  name = \n}\n", 2, ""},
		{"kernel name with separator", "kernel {\n  name = \"a;b\"\n}\n", 2, "kernel.name"},
		{"empty kernel name", "kernel {\n  name = \"\"\n}\n", 2, "kernel.name"},
		{"bad alias", "kernel {\n  aliases = [\"ok\", \"x y\"]\n}\n", 2, "kernel.aliases[1]"},
		{"listen not host:port", "\nlisten = [\"tcp nowhere\"]\n", 2, "listen[0]"},
		{"listen port out of range", "listen = [\"127.0.0.1:99999\"]\n", 1, "listen[0]"},
		{"listener block bad address", "\n\nlistener {\n  address = \"unix:\"\n}\n", 4, "listener.address"},
		{"listener twice", "listen = [\"127.0.0.1:1\"]\nlistener {\n  address = \"tcp 127.0.0.1:1\"\n}\n", 3, "listener.address"},
		{"listen wrong type", "listen = \"tcp 127.0.0.1:1\"\n", 1, "listen"},
		{"unknown freezer", "\nfreezers = [\"Storable\", \"YAML\"]\n", 2, "freezers[1]"},
		{"freezer twice", "freezers = [\"Storable\", \"Storable\"]\n", 1, "freezers[1]"},
		{"no freezers", "freezers = []\n", 1, "freezers"},
		{"negative frame size", "limits {\n  max_frame_size = -1\n}\n", 2, "limits.max_frame_size"},
		{"fractional send queue", "limits {\n\n  send_queue = 1.5\n}\n", 3, "limits.send_queue"},
		{"frame size as text", "limits {\n  max_frame_size = \"big\"\n}\n", 2, "limits.max_frame_size"},
		{"bad duration", "limits {\n  call_timeout = \"soon\"\n}\n", 2, "limits.call_timeout"},
		{"zero duration", "limits {\n  negotiation_timeout = \"0s\"\n}\n", 2, "limits.negotiation_timeout"},
		{"bad queue_full", "limits {\n  queue_full = \"drop\"\n}\n", 2, "limits.queue_full"},
		{"unknown limit", "limits {\n  max_frames = 3\n}\n", 2, `"max_frames"`},
		{"bad CIDR", "access {\n  allow_networks = [\"10.0.0.0/33\"]\n}\n", 2, "access.allow_networks[0]"},
		{"bad glob", "access {\n  allow_kernels = [\"[a-\"]\n}\n", 2, "access.allow_kernels[0]"},
		{"empty class glob", "access {\n  allow_classes = [\"Foo::*\", \"\"]\n}\n", 2, "access.allow_classes[1]"},
		{"route pattern without state", "route \"demo\" {\n  kind = \"go\"\n}\n", 1, `route "demo"`},
		{"route in session IKC", "route \"IKC/ping\" {\n  kind = \"go\"\n}\n", 1, `route "IKC/ping"`},
		{"route kind unknown", "route \"a/b\" {\n  kind = \"grpc\"\n}\n", 2, `route "a/b".kind`},
		{"route kind missing", "route \"a/b\" {\n}\n", 1, `route "a/b".kind`},
		{"go handler not registered", "route \"a/b\" {\n  kind = \"go\"\n  handler = \"nope\"\n}\n", 3, `route "a/b".handler`},
		{"go handler defaulting to pattern", "route \"a/b\" {\n  kind = \"go\"\n}\n", 1, `route "a/b".handler`},
		{"upstream without address", "route \"a/*\" {\n  kind = \"upstream\"\n}\n", 1, `route "a/*".address`},
		{"upstream bad address", "route \"a/*\" {\n  kind = \"upstream\"\n  address = \"perl\"\n}\n", 3, `route "a/*".address`},
		{"http without url", "route \"a/*\" {\n  kind = \"http\"\n}\n", 1, `route "a/*".url`},
		{"http bad url", "route \"a/*\" {\n  kind = \"http\"\n  url = \"ftp://x/\"\n}\n", 3, `route "a/*".url`},
		{"http bad timeout", "route \"a/*\" {\n  kind = \"http\"\n  url = \"http://x/\"\n  timeout = \"-1s\"\n}\n", 4, `route "a/*".timeout`},
		{"http bad header", "route \"a/*\" {\n  kind = \"http\"\n  url = \"http://x/\"\n  headers = { \"a b\" = \"c\" }\n}\n", 4, `route "a/*".headers`},
		{"key of another kind", "route \"a/*\" {\n  kind = \"go\"\n  handler = \"demo\"\n  url = \"http://x/\"\n}\n", 4, `route "a/*".url`},
		{"route twice", "route \"a/*\" {\n  kind = \"go\"\n  handler = \"demo\"\n}\nroute \"a/*\" {\n  kind = \"go\"\n  handler = \"demo\"\n}\n", 5, `route "a/*"`},
		{"bad log level", "logging {\n  level = \"loud\"\n}\n", 2, "logging.level"},
		{"bad log format", "logging {\n  format = \"xml\"\n}\n", 2, "logging.format"},
		{"bad operations listen", "operations {\n  listen = \"6604\"\n}\n", 2, "operations.listen"},
		{"bad drain_timeout", "\n\ndrain_timeout = 30\n", 3, "drain_timeout"},
		{"two kernel blocks", "kernel {}\nkernel {}\n", 2, "kernel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.hcl", []byte(c.src), Options{})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("bad.hcl:%d:", c.line)) {
				t.Errorf("error does not name bad.hcl:%d:\n%s", c.line, msg)
			}
			if !strings.Contains(msg, c.key) {
				t.Errorf("error does not name the key %s:\n%s", c.key, msg)
			}
		})
	}
}

func TestConfigReportsEveryErrorAtOnce(t *testing.T) {
	src := "limits {\n  send_queue = 0\n  work_queue = 0\n}\nlogging {\n  level = \"loud\"\n}\n"
	_, err := ParseConfig("bad.hcl", []byte(src), Options{})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if n := len(ce.Lines()); n != 3 {
		t.Errorf("%d errors, want 3:\n%v", n, err)
	}
}

func TestConfigAcceptsHandlersAndFreezersOfTheBinary(t *testing.T) {
	h := gateway.HandlerFunc(func(context.Context, *gateway.Request) (perlcompat.Value, error) { return nil, nil })
	opts := Options{
		Handlers: map[string]gateway.Handler{"mine": h},
		Freezers: map[string]FreezerFactory{"My::Freezer": builtinFreezers["Storable"].new},
	}
	src := "freezers = [\"My::Freezer\", \"ikcgate::Sereal\", \"POE::Component::IKC::Freezer\"]\nroute \"x/*\" {\n  kind = \"go\"\n  handler = \"mine\"\n}\n"
	cfg, err := ParseConfig("ok.hcl", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	fz, warnings, err := newRegistry(opts).buildFreezers(cfg.Freezers, 0)
	if err != nil || len(fz) != 3 {
		t.Fatalf("freezers %v, %v", fz, err)
	}
	if fz[1].Name() != "ikcgate::Sereal" {
		t.Errorf("Sereal negotiates as %q", fz[1].Name())
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "eval") {
		t.Errorf("the Data::Dumper freezer must warn loudly, got %q", warnings)
	}
	if _, err := ParseConfig("ok.hcl", []byte(src), Options{}); err == nil {
		t.Error("a binary without the handler and freezer accepted the config")
	}
}

func TestCheckFlagExitsZeroOrOneWithTheErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte("listen = [\"127.0.0.1:0\"]\n"), 0o600)
	os.WriteFile(bad, []byte("listen = [\"127.0.0.1:0\"]\nlimits {\n  max_frame_size = 0\n}\n"), 0o600)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := MainArgs(context.Background(), args, Options{Stdout: &out, Stderr: &errb})
		return code, out.String(), errb.String()
	}
	if code, out, _ := run("-check"); code != 0 || !strings.Contains(out, "default.hcl") {
		t.Errorf("-check on the default: %d %q", code, out)
	}
	if code, _, errs := run("-check", "-config", good); code != 0 {
		t.Errorf("-check good: %d %s", code, errs)
	}
	code, _, errs := run("-check", "-config", bad)
	if code != 1 || !strings.Contains(errs, "bad.hcl:3:") || !strings.Contains(errs, "limits.max_frame_size") {
		t.Errorf("-check bad: %d %q", code, errs)
	}
	if code, _, _ := run("-check", "-config", filepath.Join(dir, "missing.hcl")); code != 1 {
		t.Errorf("-check on a missing file: %d", code)
	}
	if code, _, _ := run("-listen", "nowhere"); code != 2 {
		t.Errorf("bad -listen: %d, want 2", code)
	}
	if code, out, _ := run("-version"); code != 0 || !strings.HasPrefix(out, "ikcgate ") {
		t.Errorf("-version: %d %q", code, out)
	}
}
