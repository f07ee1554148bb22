package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// needIKC skips the test when POE::Component::IKC is not in Perl's @INC.
// It is on CPAN, not in Debian, so CI on a fresh machine may lack it.
func needIKC(t *testing.T) {
	t.Helper()
	if os.Getenv("IKCGATE_NO_PERL") == "1" {
		t.Skip("IKCGATE_NO_PERL=1: real Perl peers disabled")
	}
	out, err := exec.Command("perl", "-MPOE::Component::IKC::Server", "-MPOE::Component::IKC::ClientLite", "-e1").CombinedOutput()
	if err != nil {
		t.Skipf("POE::Component::IKC is not in Perl's @INC (install it with cpanm, or set PERL5LIB); skipping the real IKC peer test: %s", firstLine(out))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// perlEvent is one JSON line an IKC peer script printed.
type perlEvent map[string]any

func (e perlEvent) str(k string) string {
	s, _ := e[k].(string)
	return s
}

// perlPeer runs one of the scripts in perl/ and collects its JSON events.
type perlPeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []perlEvent
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func startIKCPeer(t *testing.T, script string, args ...string) *perlPeer {
	t.Helper()
	cmd := exec.Command("perl", append([]string{filepath.Join("perl", script)}, args...)...)
	p := &perlPeer{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e perlEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = perlEvent{"ev": "unparsed", "line": sc.Text()}
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
	return p
}

// wait waits for the script to exit and fails the test if it died.
func (p *perlPeer) wait(d time.Duration) []perlEvent {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("perl peer did not finish in %v", d)
	}
	if p.err != nil {
		p.t.Errorf("perl peer exited with %v; stderr:\n%s", p.err, p.stderr.String())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]perlEvent(nil), p.events...)
}

func findEvents(events []perlEvent, ev string) []perlEvent {
	var out []perlEvent
	for _, e := range events {
		if e.str("ev") == ev {
			out = append(out, e)
		}
	}
	return out
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// goKernel starts a gateway kernel named name on a loopback TCP listener
// and on a unix socket, shut down when the test ends. It publishes the
// states the Perl scripts expect.
func goKernel(t *testing.T, name string, mutate func(*gateway.Config)) (k *gateway.Kernel, tcpAddr, unixPath string, records chan []perlcompat.Value) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Name = name
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: logWriter{t}})
	if mutate != nil {
		mutate(&cfg)
	}
	return goKernelWith(t, cfg)
}

// goKernelWith is goKernel with a whole Config.
func goKernelWith(t *testing.T, cfg gateway.Config) (k *gateway.Kernel, tcpAddr, unixPath string, records chan []perlcompat.Value) {
	t.Helper()
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	records = make(chan []perlcompat.Value, 100)
	k.HandleFunc("svc/echo", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) { return r.Arg(0), nil })
	k.HandleFunc("svc/record", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		records <- r.Args
		return nil, nil
	})
	k.HandleFunc("svc/ack_sender", func(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
		return nil, r.PostBack(ctx, "ack", r.Args...)
	})
	k.HandleFunc("svc/fail", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		s, _ := perlcompat.StringOf(r.Arg(0))
		return nil, &failure{s}
	})
	k.HandleFunc("svc/add_1", func(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
		// ClientLite's post_respond: params are [n, rsvp]; post n+1 there.
		a, ok := r.Arg(0).(*perlcompat.Array)
		if !ok || len(a.Elems) != 2 {
			return nil, &failure{"add_1 wants [n, rsvp]"}
		}
		n, err := perlcompat.AsInt(a.Elems[0])
		if err != nil {
			return nil, err
		}
		return nil, r.PostTo(ctx, a.Elems[1], perlcompat.Int(n+1))
	})
	k.HandleFunc("svc/noreturn", func(context.Context, *gateway.Request) (perlcompat.Value, error) { return nil, nil })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unixPath = filepath.Join(t.TempDir(), "ikc.sock")
	ul, err := net.Listen("unix", unixPath)
	if err != nil {
		t.Fatal(err)
	}
	go k.Serve(l)
	go k.Serve(ul)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return k, l.Addr().String(), unixPath, records
}

type failure struct{ why string }

func (f *failure) Error() string { return "failed on purpose: " + f.why }
