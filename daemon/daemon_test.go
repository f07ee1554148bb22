package daemon

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// logWriter sends log lines to the test log until the test ends.
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t *testing.T, name string) hclog.Logger {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: w})
}

const testConfigHCL = `
listen = ["tcp 127.0.0.1:0"]
drain_timeout = "5s"
operations {
  listen = "127.0.0.1:0"
}
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
`

type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	ops    string // http://host:port
}

// start runs a daemon with the HCL src until the test ends.
func start(t *testing.T, src string, opts Options) *running {
	t.Helper()
	cfg, err := ParseConfig("test.hcl", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t, "ikcgate")
	}
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-r.done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("daemon not ready after 5s")
	}
	if a := d.OpsAddr(); a != nil {
		r.ops = "http://" + a.String()
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- err // for a second stop
	case <-time.After(10 * time.Second):
		t.Error("daemon did not stop within 10s")
	}
}

// dial connects a Go client kernel to the daemon's first listener.
func dial(t *testing.T, r *running) (*gateway.Kernel, *gateway.Peer) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Name = "testclient"
	cfg.CallTimeout = 5 * time.Second
	cfg.Logger = testLogger(t, "client")
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		k.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := r.d.Addrs()[0]
	p, err := k.Dial(ctx, a.Network(), a.String())
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

func call(t *testing.T, p *gateway.Peer, to string, arg any) (perlcompat.Value, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Call(ctx, to, arg)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoSessionAnswersEveryStateOverIKC(t *testing.T) {
	leaktest.Check(t)
	r := start(t, testConfigHCL, Options{})
	k, p := dial(t, r)
	responded := make(chan perlcompat.Value, 1)
	k.HandleFunc("back/got", func(_ context.Context, req *gateway.Request) (perlcompat.Value, error) {
		responded <- req.Arg(0)
		return nil, nil
	})

	nested := map[string]any{"list": []any{int64(1), "two", map[string]any{"three": "3.5"}}, "none": nil, "name": "café"}
	v, err := call(t, p, "demo/echo", nested)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := perlcompat.FromGo(nested)
	if diff := cmp.Diff(perlcompat.ToGo(want), perlcompat.ToGo(v)); diff != "" {
		t.Errorf("echo changed the value (-sent +got):\n%s", diff)
	}

	v, err = call(t, p, "demo/time", nil)
	if n, ok := v.(perlcompat.Int); err != nil || !ok || time.Since(time.Unix(int64(n), 0)).Abs() > time.Minute {
		t.Errorf("time = %#v, %v; want an Int near now", v, err)
	}

	began := time.Now()
	v, err = call(t, p, "demo/sleep", 50)
	if got, _ := perlcompat.AsInt(v); err != nil || got != 50 || time.Since(began) < 50*time.Millisecond {
		t.Errorf("sleep 50 = %#v, %v after %v", v, err, time.Since(began))
	}

	ctx := context.Background()
	for _, n := range []int{3, 4, -2} {
		if err := p.Post(ctx, "demo/count", n); err != nil {
			t.Fatal(err)
		}
	}
	v, err = call(t, p, "demo/total", nil) // same channel: served after the posts
	if got, _ := perlcompat.AsInt(v); err != nil || got != 5 {
		t.Errorf("total = %#v, %v; want 5", v, err)
	}

	_, err = call(t, p, "demo/fail", "the-reason-42")
	var re *gateway.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "the-reason-42") {
		t.Errorf("fail: %v; want a *gateway.RemoteError with the argument", err)
	}

	v, err = call(t, p, "demo/whoami", nil)
	h, ok := v.(*perlcompat.Hash)
	if err != nil || !ok {
		t.Fatalf("whoami = %#v, %v", v, err)
	}
	got := perlcompat.ToGo(h)
	wantWho := map[string]any{"kernel": p.LocalID(), "freezer": "Storable", "dialogue": "IKC0"}
	if diff := cmp.Diff(wantWho, got); diff != "" {
		t.Errorf("whoami (-want +got):\n%s", diff)
	}

	_, err = call(t, p, "demo/nonesuch", nil)
	if !errors.As(err, &re) || !strings.Contains(re.Message, "has not published state 'nonesuch'") {
		t.Errorf("unknown state: %v", err)
	}

	// respond, as ClientLite's post_respond sends it: [value, rsvp].
	rsvp := map[string]any{"kernel": "testclient", "session": "back", "state": "got"}
	if err := p.Post(ctx, "demo/respond", []any{nested, rsvp}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-responded:
		if diff := cmp.Diff(perlcompat.ToGo(want), perlcompat.ToGo(v)); diff != "" {
			t.Errorf("respond posted back a changed value (-sent +got):\n%s", diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("respond posted nothing back to the rsvp")
	}
	_, err = call(t, p, "demo/respond", "no rsvp")
	if !errors.As(err, &re) || !strings.Contains(re.Message, "[value, rsvp]") {
		t.Errorf("respond without an rsvp: %v; want a remote error that says what it wants", err)
	}
}

func TestDemoEchoInListContextReturnsTheArrayElements(t *testing.T) {
	d := NewDemo()
	arr := perlcompat.NewArray(perlcompat.Int(1), perlcompat.Text("b"))
	for _, c := range []struct {
		arg  perlcompat.Value
		want perlcompat.Value
	}{
		{arr, perlcompat.NewArray(perlcompat.Int(1), perlcompat.Text("b"))},
		{perlcompat.Text("x"), perlcompat.NewArray(perlcompat.Text("x"))},
	} {
		v, err := d.ServeIKC(context.Background(), &gateway.Request{Session: "demo", State: "echo", Args: []perlcompat.Value{c.arg}, WantArray: protocol.WantList})
		if err != nil || !cmp.Equal(perlcompat.ToGo(v), perlcompat.ToGo(c.want)) {
			t.Errorf("echo %v in list context = %#v, %v", perlcompat.ToGo(c.arg), v, err)
		}
	}
	v, _ := d.ServeIKC(context.Background(), &gateway.Request{Session: "demo", State: "echo", Args: []perlcompat.Value{arr}})
	if v != arr {
		t.Error("scalar echo did not return ARG0 itself")
	}
}

func TestDemoSleepStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := NewDemo().ServeIKC(ctx, &gateway.Request{Session: "demo", State: "sleep", Args: []perlcompat.Value{perlcompat.Int(60000)}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 5*time.Second {
		t.Errorf("sleep 60000 with a 20ms context: %v after %v", err, time.Since(began))
	}
}

func TestHTTPRoutePostsParamsAndRelaysTheReply(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	var seen http.Header
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		seen, body = req.Header.Clone(), string(b)
		mu.Unlock()
		switch req.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"got": `+string(b)+`, "n": 7, "big": 18446744073709551615, "f": 1.5, "t": true, "u": null}`)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "kaboom: database down\nsecond line\n")
		case "/slow":
			select {
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	src := testConfigHCL + `
route "web/ok" {
  kind = "http"
  url  = "` + srv.URL + `/ok"
  headers = { "X-Token" = "t0k" }
}
route "web/empty" {
  kind = "http"
  url  = "` + srv.URL + `/empty"
}
route "web/fail" {
  kind = "http"
  url  = "` + srv.URL + `/fail"
}
route "web/slow" {
  kind    = "http"
  url     = "` + srv.URL + `/slow"
  timeout = "100ms"
}
`
	r := start(t, src, Options{})
	_, p := dial(t, r)

	v, err := call(t, p, "web/ok", map[string]any{"a": []any{1, "x", nil}})
	if err != nil {
		t.Fatal(err)
	}
	// Storable's nfreeze carries floats, big unsigned integers and
	// booleans as strings, as it does between Perl kernels.
	wantV := map[string]any{"got": map[string]any{"a": []any{int64(1), "x", nil}}, "n": int64(7), "big": "18446744073709551615", "f": "1.5", "t": "1", "u": nil}
	if diff := cmp.Diff(wantV, perlcompat.ToGo(v)); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	mu.Lock()
	if body != `{"a":[1,"x",null]}` {
		t.Errorf("body %s", body)
	}
	for k, want := range map[string]string{"X-Ikc-Session": "web", "X-Ikc-State": "ok", "X-Ikc-Kernel": p.LocalID(), "X-Ikc-Call": "1", "Content-Type": "application/json", "X-Token": "t0k"} {
		if got := seen.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = p.Call(ctx, "web/empty", "x")
	cancel()
	if !errors.Is(err, gateway.ErrNoReply) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("empty body: %v, want no reply", err)
	}

	_, err = call(t, p, "web/fail", "x")
	var re *gateway.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "500") || !strings.Contains(re.Message, "kaboom: database down") || strings.Contains(re.Message, "second line") {
		t.Errorf("500: %v; want a remote error with the status and the first line", err)
	}

	_, err = call(t, p, "web/slow", "x")
	if !errors.As(err, &re) || !strings.Contains(re.Message, "timed out") {
		t.Errorf("slow endpoint: %v; want a remote error saying it timed out", err)
	}
}

func TestValueToJSONAndBack(t *testing.T) {
	h := perlcompat.NewHash().Set("s", perlcompat.Str{S: "caf\xe9"}).Set("n", perlcompat.Int(-3)).Set("u", perlcompat.Undef{}).
		Set("b", perlcompat.Bool(false)).Set("r", &perlcompat.Ref{Target: perlcompat.Text("x")})
	h.Class = "Some::Class"
	js, err := ValueToJSON(h)
	if err != nil {
		t.Fatal(err)
	}
	if string(js) != `{"b":false,"n":-3,"r":"x","s":"café","u":null}` {
		t.Errorf("JSON %s", js)
	}
	if _, err := ValueToJSON(perlcompat.Float(math.NaN())); err == nil {
		t.Error("NaN encoded")
	}
	v, err := JSONToValue([]byte(`[1, 2.5, "é", 1e400, 123456789012345678901234]`))
	if err != nil {
		t.Fatal(err)
	}
	a := v.(*perlcompat.Array)
	if a.Elems[0] != perlcompat.Int(1) || a.Elems[1] != perlcompat.Float(2.5) || a.Elems[2] != perlcompat.Text("é") {
		t.Errorf("decoded %#v", a.Elems)
	}
	if _, err := JSONToValue([]byte(`{"a":1} trailing`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestOperationsEndpointsReportHealthReadinessAndMetrics(t *testing.T) {
	leaktest.Check(t)
	r := start(t, testConfigHCL, Options{})
	_, p := dial(t, r)
	if _, err := call(t, p, "demo/echo", "hi"); err != nil {
		t.Fatal(err)
	}
	call(t, p, "demo/fail", "x")
	if code, _ := httpGet(t, r.ops+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := httpGet(t, r.ops+"/readyz"); code != 200 {
		t.Errorf("/readyz %d %s", code, body)
	}
	if code, body := httpGet(t, r.ops+"/routes"); code != 200 || !strings.Contains(body, "demo/* go handler") {
		t.Errorf("/routes %d %s", code, body)
	}
	code, body := httpGet(t, r.ops+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`ikcgate_connections_open{role="server"} 1`,
		`ikcgate_negotiations_total{dialogue="IKC0",freezer="Storable"} 1`,
		`ikcgate_requests_total{session="demo",state="echo",type="call"} 1`,
		`ikcgate_request_errors_total{session="demo",state="fail"} 1`,
		`ikcgate_request_duration_seconds_bucket{session="demo",state="echo"`,
		`ikcgate_frames_received_total`,
		`ikcgate_frame_bytes_sent_total`,
		`ikcgate_negotiation_failures_total 0`,
		`ikcgate_ready 1`,
		`ikcgate_build_info{version="dev"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestPprofIsServedOnlyWhenOperationsPprofIsTrue(t *testing.T) {
	leaktest.Check(t)
	off := start(t, testConfigHCL, Options{})
	if code, _ := httpGet(t, off.ops+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof off: /debug/pprof/ answered %d, want 404", code)
	}
	on := start(t, strings.Replace(testConfigHCL, "listen = \"127.0.0.1:0\"\n}", "listen = \"127.0.0.1:0\"\n  pprof = true\n}", 1), Options{})
	if !on.d.Config().OpsPprof {
		t.Fatal("operations.pprof = true not parsed")
	}
	if code, body := httpGet(t, on.ops+"/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("pprof on: /debug/pprof/goroutine %d %.80s", code, body)
	}
	// go tool pprof posts the addresses it wants symbolized.
	resp, err := http.Post(on.ops+"/debug/pprof/symbol", "text/plain", strings.NewReader("0x1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("pprof on: POST /debug/pprof/symbol answered %d, want 200", resp.StatusCode)
	}
}

func TestDrainLetsAnInFlightCallFinishAndFlipsReadiness(t *testing.T) {
	leaktest.Check(t)
	r := start(t, testConfigHCL, Options{})
	_, p := dial(t, r)
	type result struct {
		v   perlcompat.Value
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := call(t, p, "demo/sleep", 700)
		res <- result{v, err}
	}()
	time.Sleep(200 * time.Millisecond) // the call is being served
	r.cancel()                         // SIGTERM

	deadline := time.Now().Add(2 * time.Second)
	for {
		code, body := httpGet(t, r.ops+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q while draining", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := httpGet(t, r.ops+"/healthz"); code != 200 {
		t.Errorf("/healthz %d while draining", code)
	}
	// New connections are refused while the call finishes.
	cfg := gateway.DefaultConfig()
	cfg.Logger = hclog.NewNullLogger()
	k2, _ := gateway.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	a := r.d.Addrs()[0]
	if _, err := k2.Dial(ctx, a.Network(), a.String()); err == nil {
		t.Error("a new connection was accepted while draining")
	}
	cancel()
	k2.Shutdown(context.Background())

	got := <-res
	if n, _ := perlcompat.AsInt(got.v); got.err != nil || n != 700 {
		t.Errorf("in-flight sleep: %#v, %v; want its reply 700", got.v, got.err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run after drain: %v", err)
		}
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

func TestReloadAddsAndRetractsRoutesWithoutDroppingClients(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "ikcgate.hcl")
	os.WriteFile(file, []byte(testConfigHCL), 0o600)
	r := start(t, testConfigHCL, Options{})
	r.d.configPath = file
	_, p := dial(t, r)
	if _, err := call(t, p, "demo/echo", "before"); err != nil {
		t.Fatal(err)
	}

	next := strings.Replace(testConfigHCL, `route "demo/*"`, `route "demo2/*"`, 1) + "\nlimits {\n  send_queue = 99\n  call_timeout = \"7s\"\n  max_connections = 5\n}\n"
	os.WriteFile(file, []byte(next), 0o600)
	if err := r.d.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	if v, err := call(t, p, "demo2/echo", "after"); err != nil || perlcompat.ToGo(v) != "after" {
		t.Errorf("added route: %v, %v", v, err)
	}
	_, err := call(t, p, "demo/echo", "gone")
	var re *gateway.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "not available") {
		t.Errorf("retracted route: %v", err)
	}
	select {
	case <-p.Done():
		t.Fatal("reload closed the client's channel")
	default:
	}
	if got := r.d.Kernel().Published(); !cmp.Equal(got, []string{"demo2/*"}) {
		t.Errorf("published %v", got)
	}
	if l := r.d.Kernel().Limits(); l.CallTimeout != 7*time.Second || l.MaxConnections != 5 {
		t.Errorf("limits after reload: %+v", l)
	}

	// A bad file is refused and the running routes stay.
	os.WriteFile(file, []byte(next+"\nbogus = 1\n"), 0o600)
	if err := r.d.ReloadFile(); err == nil {
		t.Error("a bad configuration was applied")
	}
	if v, err := call(t, p, "demo2/echo", "still"); err != nil || perlcompat.ToGo(v) != "still" {
		t.Errorf("after a refused reload: %v, %v", v, err)
	}
	if _, body := httpGet(t, r.ops+"/metrics"); !strings.Contains(body, `ikcgate_config_reloads_total{result="error"} 1`) || !strings.Contains(body, `ikcgate_config_reloads_total{result="ok"} 1`) {
		t.Error("reloads not counted")
	}
}

func TestHandlersNamedByPatternArePublishedWithoutConfig(t *testing.T) {
	leaktest.Check(t)
	h := gateway.HandlerFunc(func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		return perlcompat.Text("mine:" + r.State), nil
	})
	r := start(t, testConfigHCL, Options{Handlers: map[string]gateway.Handler{"mysvc/do": h}})
	_, p := dial(t, r)
	if v, err := call(t, p, "mysvc/do", nil); err != nil || perlcompat.ToGo(v) != "mine:do" {
		t.Errorf("mysvc/do: %v, %v", v, err)
	}
}

func TestAccessRefusesPeersOutsideAllowedNetworks(t *testing.T) {
	leaktest.Check(t)
	r := start(t, testConfigHCL+"\naccess {\n  allow_networks = [\"192.0.2.0/24\"]\n}\n", Options{})
	cfg := gateway.DefaultConfig()
	cfg.Logger = hclog.NewNullLogger()
	k, _ := gateway.New(cfg)
	defer k.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a := r.d.Addrs()[0]
	if _, err := k.Dial(ctx, a.Network(), a.String()); err == nil {
		t.Error("127.0.0.1 connected though only 192.0.2.0/24 is allowed")
	}
}

func TestMainArgsRunsTheDaemonUntilCancelled(t *testing.T) {
	// os/signal's loop, once started, runs for good: start it first.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP) // MainArgs watches it too
	leaktest.Check(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "c.hcl")
	sock := filepath.Join(dir, "ikc.sock")
	os.WriteFile(file, []byte(testConfigHCL), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- MainArgs(ctx, []string{"-config", file, "-listen", "unix:" + sock}, Options{Logger: testLogger(t, "main")})
	}()
	cfg := gateway.DefaultConfig()
	cfg.Logger = hclog.NewNullLogger()
	k, _ := gateway.New(cfg)
	var p *gateway.Peer
	for deadline := time.Now().Add(5 * time.Second); p == nil; {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		p, _ = k.Dial(dctx, "unix", sock)
		dcancel()
		if p == nil && time.Now().After(deadline) {
			t.Fatal("the -listen unix socket never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := call(t, p, "demo/echo", "via unix"); err != nil || perlcompat.ToGo(v) != "via unix" {
		t.Errorf("echo over the -listen socket: %v, %v", v, err)
	}
	k.Shutdown(context.Background())
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d", c)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Error("the unix socket was left behind")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("MainArgs did not return")
	}
}

func TestUpstreamRouteForwardsToAnotherKernel(t *testing.T) {
	leaktest.Check(t)
	// A Go kernel stands in for the Perl server.
	ucfg := gateway.DefaultConfig()
	ucfg.Name = "perlsrv"
	ucfg.Logger = testLogger(t, "upstream")
	up, err := gateway.New(ucfg)
	if err != nil {
		t.Fatal(err)
	}
	up.HandleFunc("orders/get", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		s, _ := perlcompat.StringOf(r.Arg(0))
		return perlcompat.Text("order " + s), nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(l)
	defer up.Shutdown(context.Background())

	r := start(t, testConfigHCL+`
route "orders/*" {
  kind    = "upstream"
  address = "tcp `+l.Addr().String()+`"
}
`, Options{})
	_, p := dial(t, r)
	if v, err := call(t, p, "orders/get", 42); err != nil || perlcompat.ToGo(v) != "order 42" {
		t.Errorf("forwarded call: %v, %v", v, err)
	}
	if _, body := httpGet(t, r.ops+"/metrics"); !strings.Contains(body, `ikcgate_upstream_up{address="tcp `+l.Addr().String()+`",route="orders/*"} 1`) {
		t.Error("/metrics lacks the upstream as up")
	}
}

func TestAccessAllowClassesClosesChannelsCarryingOtherClasses(t *testing.T) {
	leaktest.Check(t)
	r := start(t, testConfigHCL+"\naccess {\n  allow_classes = [\"My::*\"]\n}\n", Options{})
	_, p := dial(t, r)
	ok := &perlcompat.Hash{Class: "My::Order"}
	ok.Set("id", perlcompat.Int(1))
	if v, err := call(t, p, "demo/echo", ok); err != nil {
		t.Fatalf("allowed class: %v, %v", v, err)
	}
	bad := &perlcompat.Hash{Class: "Evil::Thing"}
	if _, err := call(t, p, "demo/echo", perlcompat.NewArray(bad)); !errors.Is(err, gateway.ErrDisconnected) {
		t.Fatalf("refused class: %v, want the channel closed", err)
	}
}

func TestAPanicBuildingTheOperationsServerSurfacesFromRun(t *testing.T) {
	testHookOpsHandler = func() { panic("conflicting routes") }
	defer func() { testHookOpsHandler = nil }()
	cfg, err := ParseConfig("test.hcl", []byte(testConfigHCL), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: testLogger(t, "ikcgate")})
	if err != nil {
		t.Fatal(err)
	}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		d.Run(context.Background())
	}()
	select {
	case p := <-recovered:
		if p != "conflicting routes" {
			t.Errorf("Run panicked with %v, want the handler's panic", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run neither returned nor panicked within 5s: the panic was swallowed")
	}
}
