package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/daemon"
)

// The end-to-end tests (issue #4 section 7) run ikcgate the way a user
// does: the daemon from an HCL configuration, real Perl IKC peers on both
// sides, the ikc and ikcgate binaries built from cmd/.

// e2eDaemon is an in-process ikcgate started from an HCL text.
type e2eDaemon struct {
	d        *daemon.Daemon
	addr     string // the first IKC listener, host:port
	port     string
	ops      string // http://host:port of the operations server, "" if off
	stopped  chan error
	stopped1 sync.Once
	cancel   context.CancelFunc
	err      error
}

// startE2EDaemon parses hcl (as file e2e.hcl), runs the daemon until the
// test ends, and waits until it is ready. Its log goes to the test log.
func startE2EDaemon(t *testing.T, hcl string, opts daemon.Options) *e2eDaemon {
	t.Helper()
	cfg, err := daemon.ParseConfig("e2e.hcl", []byte(hcl), opts)
	if err != nil {
		t.Fatalf("the test's configuration is invalid: %v\n%s", err, hcl)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "ikcgate", Level: hclog.Info, Output: logWriter{t}})
	}
	d, err := daemon.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &e2eDaemon{d: d, stopped: make(chan error, 1), cancel: cancel}
	go func() { e.stopped <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-e.stopped:
		cancel()
		t.Fatalf("the daemon stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("the daemon was not ready within 10s")
	}
	e.addr = d.Addrs()[0].String()
	e.port = e.addr[strings.LastIndexByte(e.addr, ':')+1:]
	if a := d.OpsAddr(); a != nil {
		e.ops = "http://" + a.String()
	}
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return e
}

// stop drains the daemon (as SIGTERM does) and returns what Run returned.
func (e *e2eDaemon) stop() error {
	e.stopped1.Do(func() {
		e.cancel()
		select {
		case e.err = <-e.stopped:
		case <-time.After(40 * time.Second):
			e.err = errors.New("Run did not return within 40s of the drain")
		}
	})
	return e.err
}

// e2eBuild builds a command of this module (e.g. "cmd/ikc") into a
// temporary directory and returns the binary's path. When the test binary
// has the race detector, so does the command.
func e2eBuild(t *testing.T, pkg string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, serr := os.Stat(goBin); serr != nil {
			t.Fatalf("no go command to build %s with: %v", pkg, err)
		}
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/ikcgate/ikcgate/"+pkg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("built %s in %v (race detector: %v)", pkg, time.Since(start).Round(time.Millisecond), raceEnabled)
	return bin
}

// e2eEnv is the environment of the binaries e2eBuild made: a race-enabled
// one must not sleep a second at exit (GORACE's atexit_sleep_ms), and
// exits 66 if it found a race.
func e2eEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0 exitcode=66")
}

// promSeries is a Prometheus text exposition: series ("name{labels}" as
// printed) to value.
type promSeries map[string]float64

// scrapeMetrics GETs url (a /metrics endpoint) with a short timeout.
func scrapeMetrics(c *http.Client, url string) (promSeries, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseProm(resp.Body)
}

func parseProm(r io.Reader) (promSeries, error) {
	out := promSeries{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("bad metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// httpStatus GETs url and returns the status code and body ("" and 0 when
// the server does not answer).
func httpStatus(c *http.Client, url string) (int, string) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, strings.TrimSpace(string(b))
}
