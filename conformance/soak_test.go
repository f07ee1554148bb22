package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// TestSoak holds 1,000 connections to a real ikcgate process for
// IKCGATE_SOAK (a duration; scripts/soak runs 10m, CI 60s): Go channels
// and, when POE::Component::IKC is installed, Perl client processes, each
// calling demo/echo with a checksummed payload and posting demo/count 1.
// At the end every call has exactly one correct reply, the counter equals
// the posts sent (each arrived exactly once), the daemon's RSS stayed flat
// after warm-up, and its goroutine count is back to its idle value. The
// figures are printed.
func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("IKCGATE_SOAK"))
	if err != nil || dur <= 0 {
		t.Skip("set IKCGATE_SOAK=60s (or use scripts/soak) to run the soak test")
	}
	// Go raises the soft open-file limit to the hard one at startup
	// (Go 1.19 and later): the soak needs nothing more.
	conns := 1000
	if s := os.Getenv("IKCGATE_SOAK_CONNS"); s != "" {
		conns, _ = strconv.Atoi(s)
	}
	perlClients := 0
	if exec.Command("perl", "-MPOE::Component::IKC::Client", "-e1").Run() == nil {
		perlClients = 20
	} else {
		t.Log("POE::Component::IKC is not in @INC: Go clients only")
	}

	// The real daemon, on free ports.
	bin := filepath.Join(t.TempDir(), "ikcgate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/ikcgate").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ikcPort, opsPort := freePort(t), freePort(t)
	cfgFile := filepath.Join(t.TempDir(), "soak.hcl")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
listen = ["tcp 127.0.0.1:%d"]
freezers = ["Storable"]
operations {
  listen = "127.0.0.1:%d"
}
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
logging {
  level = "warn"
}
limits {
  max_connections = %d
}
`, ikcPort, opsPort, conns+100)), 0o644)
	daemon := exec.Command(bin, "-config", cfgFile)
	var dlog bytes.Buffer
	daemon.Stdout, daemon.Stderr = &dlog, &dlog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	ops := fmt.Sprintf("http://127.0.0.1:%d", opsPort)
	waitHTTP(t, ops+"/readyz")
	addr := fmt.Sprintf("127.0.0.1:%d", ikcPort)
	idleG := metric(t, ops, "go_goroutines")

	cfg := gateway.DefaultConfig()
	cfg.Name = "SoakGo"
	cfg.CallTimeout = 30 * time.Second
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: logWriter{t}})
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	goConns := conns - perlClients
	peers := make([]*gateway.Peer, goConns)
	ctx, cancel := context.WithTimeout(context.Background(), dur+5*time.Minute)
	defer cancel()
	for i := range peers {
		if peers[i], err = k.Dial(ctx, "tcp", addr); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	var perl []*perlPeer
	for i := 0; i < perlClients; i++ {
		perl = append(perl, startIKCPeer(t, "soak_client.pl", "--port", fmt.Sprint(ikcPort), "--server", "ikcgate",
			"--seconds", fmt.Sprint(dur.Seconds()), "--interval", "0.2"))
	}

	var calls, replies, bad, posts atomic.Int64
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for seq := 0; time.Now().Before(stop); seq++ {
				data := make([]byte, 64+r.IntN(4096))
				for j := range data {
					data[j] = byte(r.Uint32())
				}
				sum := sha256.Sum256(data)
				calls.Add(1)
				v, err := p.Call(ctx, "demo/echo", perlcompat.NewHash().
					Set("seq", perlcompat.Int(int64(seq))).
					Set("data", perlcompat.Bytes(data)).
					Set("sum", perlcompat.Bytes(sum[:])))
				if err == nil && echoIntact(v, seq) {
					replies.Add(1)
				} else {
					bad.Add(1)
				}
				if err := p.Post(ctx, "demo/count", 1); err == nil {
					posts.Add(1)
				}
				time.Sleep(time.Duration(500+r.IntN(1000)) * time.Millisecond)
			}
		}()
	}

	// Sample the daemon while it works.
	var rss []float64
	sampleEvery := max(dur/12, time.Second)
	for time.Now().Before(stop) {
		time.Sleep(sampleEvery)
		rss = append(rss, metric(t, ops, "process_resident_memory_bytes"))
	}
	wg.Wait()
	var perlCalls, perlReplies, perlBad, perlPosts int64
	for _, p := range perl {
		ev := p.wait(dur + time.Minute)
		s := findEvents(ev, "summary")
		if len(s) != 1 {
			t.Errorf("a Perl soak client gave no summary: %s", p.stderr.String())
			continue
		}
		perlCalls += int64(s[0]["calls"].(float64))
		perlReplies += int64(s[0]["replies"].(float64))
		perlBad += int64(s[0]["bad"].(float64))
		perlPosts += int64(s[0]["posts"].(float64))
	}
	totalV, err := peers[0].Call(ctx, "demo/total", nil)
	if err != nil {
		t.Fatal(err)
	}
	total, _ := perlcompat.AsInt(totalV)
	for _, p := range peers {
		p.Close()
	}
	// Goroutines back to idle once every channel is gone.
	var endG float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		endG = metric(t, ops, "go_goroutines")
		if endG <= idleG+2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Logf("soak %v, %d Go connections and %d Perl clients", dur, goConns, perlClients)
	t.Logf("Go: %d calls, %d correct replies, %d bad; %d posts", calls.Load(), replies.Load(), bad.Load(), posts.Load())
	t.Logf("Perl: %d calls, %d correct replies, %d bad; %d posts", perlCalls, perlReplies, perlBad, perlPosts)
	t.Logf("demo/total %d; daemon RSS samples (MiB): %s", total, mib(rss))
	t.Logf("daemon goroutines: idle %v, after %v", idleG, endG)

	if bad.Load() != 0 || replies.Load() != calls.Load() {
		t.Errorf("Go calls: %d of %d without exactly one correct reply", calls.Load()-replies.Load(), calls.Load())
	}
	if perlBad != 0 || perlReplies != perlCalls {
		t.Errorf("Perl calls: %d of %d without exactly one correct reply", perlCalls-perlReplies, perlCalls)
	}
	if total != posts.Load()+perlPosts {
		t.Errorf("demo/total %d, posts sent %d: not every post arrived exactly once", total, posts.Load()+perlPosts)
	}
	if endG > idleG+2 {
		t.Errorf("daemon goroutines %v after the soak, %v idle", endG, idleG)
	}
	// Flat after warm-up: the last samples within 25% (+16 MiB) of the
	// one at the end of the first quarter.
	if len(rss) >= 4 {
		base := rss[len(rss)/4]
		for _, r := range rss[len(rss)/4:] {
			if r > base*1.25+16<<20 {
				t.Errorf("daemon RSS grew after warm-up: %s MiB", mib(rss))
				break
			}
		}
	}
	if strings.Contains(dlog.String(), "panic") {
		t.Errorf("daemon log mentions a panic:\n%s", dlog.String())
	}
}

func echoIntact(v perlcompat.Value, seq int) bool {
	h, ok := v.(*perlcompat.Hash)
	if !ok {
		return false
	}
	s, _ := perlcompat.AsInt(h.Get("seq"))
	data, _ := h.Get("data").(perlcompat.Str)
	sum, _ := h.Get("sum").(perlcompat.Str)
	got := sha256.Sum256([]byte(data.S))
	return s == int64(seq) && string(got[:]) == sum.S
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// metric scrapes one unlabelled gauge from a Prometheus endpoint.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func mib(xs []float64) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.1f", x/(1<<20))
	}
	return b.String()
}
