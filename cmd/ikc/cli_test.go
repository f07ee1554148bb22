package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/dumper"
	"github.com/ikcgate/ikcgate/perlcompat/freezethaw"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
)

// ikcBin is the ikc binary TestMain builds.
var ikcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ikc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ikcBin = filepath.Join(dir, "ikc")
	build := exec.Command("go", "build", "-o", ikcBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ikc: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// ikc runs the binary as a user would, with stdin.
func ikc(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ikcBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("ikc %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ikc %q did not finish in 30s", args)
	}
	return r
}

// want checks the exit code and the exact stdout; a non-zero code must
// come with a message on stderr, and a zero one with a quiet stderr.
func (r result) want(t *testing.T, code int, stdout string) {
	t.Helper()
	if r.code != code || r.stdout != stdout {
		t.Errorf("exit %d, stdout %q; want exit %d, stdout %q (stderr %q)", r.code, r.stdout, code, stdout, r.stderr)
	}
	if code != 0 && !strings.HasPrefix(r.stderr, "ikc: ") {
		t.Errorf("exit %d with stderr %q, want an \"ikc: \" message", code, r.stderr)
	}
	if code == 0 && r.stderr != "" {
		t.Errorf("stderr %q, want nothing (quiet by default)", r.stderr)
	}
}

type goServer struct {
	k       *gateway.Kernel
	addr    string
	unix    string
	records chan perlcompat.Value
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log("server: " + strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startGoServer runs an ikcgate kernel "GoSrv" on loopback TCP and a unix
// socket, with every freezer, until the test ends.
func startGoServer(t *testing.T) *goServer {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Name = "GoSrv"
	cfg.Freezers = []perlcompat.Freezer{storable.Freezer{}, freezethaw.Freezer{}, dumper.Freezer{}}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "GoSrv", Level: hclog.Info, Output: logWriter{t}})
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{k: k, records: make(chan perlcompat.Value, 10)}
	k.HandleFunc("svc/echo", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		return r.Arg(0), nil
	})
	k.HandleFunc("svc/describe", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		s, err := formatJSONValue(r.Arg(0))
		return perlcompat.Text(s), err
	})
	k.HandleFunc("svc/fail", func(context.Context, *gateway.Request) (perlcompat.Value, error) {
		return nil, errors.New("the fail state always fails")
	})
	k.HandleFunc("svc/noreturn", func(context.Context, *gateway.Request) (perlcompat.Value, error) {
		return nil, nil
	})
	k.HandleFunc("svc/record", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		s.records <- r.Arg(0)
		return nil, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.unix = filepath.Join(t.TempDir(), "ikc.sock")
	ul, err := net.Listen("unix", s.unix)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{}, 2)
	go func() { k.Serve(l); served <- struct{}{} }()
	go func() { k.Serve(ul); served <- struct{}{} }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		<-served
		<-served
	})
	return s
}

// echoCases: a VALUE, what comes back from an ikcgate echo over Storable
// in JSON and with -perl. Storable (nfreeze) carries floats and integers
// beyond 32 bits as strings, and immortal booleans as "1" and "", as Perl
// 5.36 does.
var echoCases = []struct {
	name, in, json, perl string
}{
	{"ascii", `"hello"`, `"hello"`, `'hello'`},
	{"characters", `"café ☺"`, `"café ☺"`, `"caf\N{U+E9} \x{263a}"`},
	{"latin1 characters", `"é"`, `"é"`, `"\N{U+E9}"`},
	{"bytes", `{"$bytes":"caffe9"}`, `{"$bytes":"caffe9"}`, `"\xca\xff\xe9"`},
	{"integer", `42`, `42`, `42`},
	{"small negative integer", `-7`, `-7`, `-7`},
	{"64-bit integer", `-9000000000`, `"-9000000000"`, `'-9000000000'`}, // nfreeze has no 64-bit integers
	{"numeric string", `"42"`, `"42"`, `'42'`},
	{"float", `1.5`, `"1.5"`, `'1.5'`},
	{"true", `true`, `"1"`, `'1'`},
	{"false", `false`, `""`, `''`},
	{"array", `[1,"x",null]`, `[1,"x",null]`, `[1,'x',undef]`},
	{"hash", `{"b":[1,"x"],"a":1}`, `{"a":1,"b":[1,"x"]}`, `{'a' => 1,'b' => [1,'x']}`},
	{"dollar and byte keys", `{"$$k":1,"$bytes:ff":2}`, `{"$$k":1,"$bytes:ff":2}`, `{'$k' => 1,"\xff" => 2}`},
	{"scalar ref", `{"$ref":"x"}`, `{"$ref":"x"}`, `\'x'`},
	{"ref to ref", `{"$ref":{"$ref":1}}`, `{"$ref":{"$ref":1}}`, `\\1`},
	{"ref to array ref", `{"$ref":[1]}`, `{"$ref":[1]}`, `\[1]`},
	{"blessed hash", `{"$blessed":"My::Class","$value":{"k":"v"}}`, `{"$blessed":"My::Class","$value":{"k":"v"}}`, `bless( {'k' => 'v'}, 'My::Class' )`},
	{"blessed array", `{"$blessed":"A","$value":[]}`, `{"$blessed":"A","$value":[]}`, `bless( [], 'A' )`},
	{"blessed scalar ref", `{"$blessed":"C","$value":{"$ref":"x"}}`, `{"$blessed":"C","$value":{"$ref":"x"}}`, `bless( do{\(my $o = 'x')}, 'C' )`},
}

func TestGoCallEcho(t *testing.T) {
	s := startGoServer(t)
	for _, c := range echoCases {
		t.Run(c.name, func(t *testing.T) {
			ikc(t, "", "-server", s.addr, "call", "svc/echo", c.in).want(t, 0, c.json+"\n")
			ikc(t, "", "-server", s.addr, "-perl", "call", "poe://GoSrv/svc/echo", c.in).want(t, 0, c.perl+"\n")
		})
	}
}

func TestGoCallForms(t *testing.T) {
	s := startGoServer(t)
	const v = `{"list":[1,{"$bytes":"ff"}],"text":"☺"}`
	const ascii = `{"list":[1,{"$bytes":"ff"},{"$ref":"x"}],"text":"plain"}`
	t.Run("stdin", func(t *testing.T) {
		ikc(t, "\n"+v+"\n", "-server", s.addr, "call", "svc/echo", "-").want(t, 0, v+"\n")
	})
	t.Run("no value is undef", func(t *testing.T) {
		ikc(t, "", "-server", s.addr, "call", "svc/describe").want(t, 0, `"null"`+"\n")
		ikc(t, "", "-server", s.addr, "call", "svc/describe", "null").want(t, 0, `"null"`+"\n")
	})
	t.Run("what the server gets", func(t *testing.T) {
		ikc(t, "", "-server", s.addr, "call", "svc/describe", `[true,false,1.0,"\u00e9"]`).want(t, 0, `"[\"1\",\"\",1,\"é\"]"`+"\n")
	})
	t.Run("an undef reply is no reply", func(t *testing.T) {
		// As in Perl: a state returning undef sends nothing back.
		ikc(t, "", "-server", s.addr, "-timeout", "300ms", "call", "svc/echo", "null").want(t, 4, "")
	})
	t.Run("unix socket", func(t *testing.T) {
		ikc(t, "", "-server", "unix:"+s.unix, "call", "poe://GoSrv/svc/echo", v).want(t, 0, v+"\n")
	})
	t.Run("by kernel ID", func(t *testing.T) {
		ikc(t, "", "-server", s.addr, "call", "poe://"+s.k.ID()+"/svc/echo", v).want(t, 0, v+"\n")
	})
	t.Run("legacy", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "-legacy", "-v", "call", "svc/echo", v)
		if r.code != 0 || r.stdout != v+"\n" || !strings.Contains(r.stderr, "dialogue=IKC ") {
			t.Errorf("exit %d, stdout %q, stderr %q; want the echo over the legacy dialogue", r.code, r.stdout, r.stderr)
		}
	})
	for _, fz := range []string{"storable", "freezethaw", "dumper", "FreezeThaw", "POE::Component::IKC::Freezer"} {
		t.Run("freezer "+fz, func(t *testing.T) {
			want := map[string]string{"storable": "Storable", "freezethaw": "FreezeThaw", "dumper": "POE::Component::IKC::Freezer"}[strings.ToLower(fz)]
			if want == "" {
				want = fz
			}
			echoed := ascii
			if want == "FreezeThaw" {
				echoed = strings.Replace(ascii, "[1,", `["1",`, 1) // FreezeThaw numbers are strings
			}
			r := ikc(t, "", "-server", s.addr, "-freezer", fz, "-v", "call", "svc/echo", ascii)
			if r.code != 0 || r.stdout != echoed+"\n" || !strings.Contains(r.stderr, "freezer="+want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want the echo with freezer=%s", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	t.Run("characters FreezeThaw can't carry", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "-freezer", "freezethaw", "call", "svc/echo", v)
		r.want(t, 2, "")
		if !strings.Contains(r.stderr, "FreezeThaw") {
			t.Errorf("stderr %q does not name the freezer", r.stderr)
		}
	})
	t.Run("verbose logs to stderr only", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "-v", "call", "svc/echo", `1`)
		if r.code != 0 || r.stdout != "1\n" || !strings.Contains(r.stderr, "[DEBUG]") {
			t.Errorf("exit %d, stdout %q, stderr %q; want debug logs on stderr", r.code, r.stdout, r.stderr)
		}
	})
}

func TestGoPost(t *testing.T) {
	s := startGoServer(t)
	// Ten times: the post must reach the handler although ikc disconnects
	// right after it.
	for i := range 10 {
		spec := []string{"svc/record", "poe://GoSrv/svc/record"}[i%2]
		ikc(t, "", "-server", s.addr, "post", spec, `{"n":[1,{"$ref":"☺"}]}`).want(t, 0, "")
		select {
		case v := <-s.records:
			got, err := formatJSONValue(v)
			if want := `{"n":[1,{"$ref":"☺"}]}`; err != nil || got != want {
				t.Errorf("post %s: the server got %s (%v), want %s", spec, got, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("post %s: nothing reached svc/record", spec)
		}
	}
	r := ikc(t, "", "-server", s.addr, "post", "svc/nosuch", "1")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "has not published state 'nosuch'") {
		t.Errorf("post to an unpublished state: stderr %q lacks the remote error", r.stderr)
	}
	r = ikc(t, "", "-server", s.addr, "post", "svc/fail", "1")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "the fail state always fails") {
		t.Errorf("post to a failing state: stderr %q lacks the remote error", r.stderr)
	}
}

func TestGoPingSubscribe(t *testing.T) {
	s := startGoServer(t)
	ikc(t, "", "-server", s.addr, "ping").want(t, 0, "PONG\n")
	ikc(t, "", "-server", s.addr, "ping", "poe://GoSrv").want(t, 0, "PONG\n")
	ikc(t, "", "-server", s.addr, "subscribe", "poe://GoSrv/svc").want(t, 0, `{"kernel":"GoSrv","session":"svc"}`+"\n")
	receipt := fmt.Sprintf(`{"kernel":%q,"session":"svc"}`, s.k.ID())
	ikc(t, "", "-server", "unix:"+s.unix, "subscribe", "svc").want(t, 0, receipt+"\n")
	ikc(t, "", "-server", s.addr, "-perl", "subscribe", "svc").want(t, 0, fmt.Sprintf(`{'kernel' => '%s','session' => 'svc'}`, s.k.ID())+"\n")

	r := ikc(t, "", "-server", s.addr, "subscribe", "poe://GoSrv/nosuch")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("refused subscription: stderr %q does not name the session", r.stderr)
	}
}

func TestGoErrors(t *testing.T) {
	s := startGoServer(t)
	t.Run("remote error", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "call", "svc/fail", `1`)
		r.want(t, 1, "")
		if !strings.Contains(r.stderr, "the fail state always fails") {
			t.Errorf("stderr %q lacks the handler's message", r.stderr)
		}
	})
	t.Run("unpublished state", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "call", "poe://GoSrv/svc/nosuch")
		r.want(t, 1, "")
		if !strings.Contains(r.stderr, "has not published state 'nosuch'") {
			t.Errorf("stderr %q lacks Perl's wording", r.stderr)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "-timeout", "300ms", "call", "svc/noreturn")
		r.want(t, 4, "")
		if r.took < 300*time.Millisecond || r.took > 5*time.Second {
			t.Errorf("took %v, want about the 300ms timeout", r.took)
		}
		if !strings.Contains(r.stderr, "no reply within -timeout 300ms") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("unknown kernel", func(t *testing.T) {
		r := ikc(t, "", "-server", s.addr, "call", "poe://Nobody/svc/echo")
		r.want(t, 3, "")
		if !strings.Contains(r.stderr, "GoSrv") {
			t.Errorf("stderr %q does not say which names the server has", r.stderr)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		r := ikc(t, "", "-server", addr, "call", "svc/echo")
		r.want(t, 3, "")
		if !strings.Contains(r.stderr, "refused") {
			t.Errorf("stderr %q", r.stderr)
		}
		ikc(t, "", "-server", "unix:"+filepath.Join(t.TempDir(), "none.sock"), "ping").want(t, 3, "")
	})
	t.Run("not an IKC server", func(t *testing.T) {
		// A server that accepts and closes at once: negotiation fails.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		defer func() { l.Close(); <-done }()
		ikc(t, "", "-server", l.Addr().String(), "-timeout", "2s", "ping").want(t, 3, "")
	})
}

func TestUsage(t *testing.T) {
	bad := [][]string{
		{},
		{"frobnicate", "svc/echo"},
		{"call"},
		{"call", "svc/echo", "1", "2"},
		{"call", "svc"},
		{"call", "a/b/c"},
		{"call", "poe://K/svc"},
		{"call", "poe://*/svc/echo"},
		{"call", "poe://ikc/svc/echo"},
		{"call", "svc/echo", `{"a":`},
		{"call", "svc/echo", `{"$x":1}`},
		{"call", "svc/echo", `[1] [2]`},
		{"post", "svc/echo", `{"$bytes":"xyz"}`},
		{"ping", "svc/echo"},
		{"ping", "poe://K", "x"},
		{"subscribe"},
		{"subscribe", "poe://K/svc/state"},
		{"subscribe", "poe://K/svc", "1"},
		{"-freezer", "Sereal::Nope", "ping"},
		{"-timeout", "0s", "ping"},
		{"-timeout", "soon", "ping"},
		{"-server", "nocolon", "ping"},
		{"-server", "unix:", "ping"},
		{"-nosuchflag", "ping"},
	}
	for _, args := range bad {
		r := ikc(t, "", append([]string{"-server", "127.0.0.1:1"}, args...)...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "ikc -h") {
			t.Errorf("ikc %q: exit %d, stdout %q, stderr %q; want exit 2 and a usage hint", args, r.code, r.stdout, r.stderr)
		}
	}
	r := ikc(t, "", "-server", "127.0.0.1:1", "call", "svc/echo", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "empty JSON value") {
		t.Errorf("empty stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ikc(t, "", "-h")
	if r.code != 0 || r.stdout != usage {
		t.Errorf("-h: exit %d, stdout %q", r.code, r.stdout)
	}
}

// The package comment repeats the usage text; keep them in step.
func TestDocHasUsage(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimRight(usage, "\n"), "\n") {
		if l == "" {
			want.WriteString("//\n")
		} else {
			want.WriteString("//\t" + l + "\n")
		}
	}
	if !strings.Contains(string(doc), want.String()) {
		t.Errorf("doc.go does not contain the usage text as a code block; regenerate it from main.go's usage")
	}
}
