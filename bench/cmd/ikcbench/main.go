// Command ikcbench is scripts/bench: it measures ikcgate against a real Perl
// POE::Component::IKC 0.2402 server under the same load, in the same run,
// and prints one table of absolute figures and ratios (issue 5).
//
//	ikcbench -ikcgate PATH [-reps 3] [-quick] [-rows 1,2,3,...]
//
// Both servers run as their own processes on 127.0.0.1: ikcgate (the
// daemon binary, its demo session) and bench/perl/server.pl (an
// IKC::Server publishing the same demo/echo, demo/count and demo/total).
// Perl-client rows run bench/perl/client.pl processes; Go-client rows run
// the load in this process (gateway kernels, or raw negotiations for idle
// connections). Server CPU is the utime+stime delta of the server process
// (/proc/PID/stat) around each measurement, with stime, the kernel's part,
// beside it for Perl-client rows; RSS is VmRSS.
//
// Every figure is the median of -reps repetitions, printed with its
// min-max; rows 1-6 alternate the two servers' repetitions (see
// alternate). Ratios are ikcgate / Perl (for latency, CPU and memory lower
// is better; for rates higher is better). Without POE::Component::IKC in
// Perl's @INC the Perl columns are skipped with a message.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/gcfloor"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

var (
	ikcgateBin = flag.String("ikcgate", "", "the ikcgate binary (required)")
	reps       = flag.Int("reps", 3, "repetitions of each measurement (the median is printed)")
	quick      = flag.Bool("quick", false, "short runs: fewer messages and seconds (noisier)")
	rowsFlag   = flag.String("rows", "9,1,2,3,4,5,6,7,8", "rows to run, comma-separated")
	perlDir    = flag.String("perl-dir", "bench/perl", "directory of server.pl and client.pl")
	verbose    = flag.Bool("v", false, "print every sample as it is taken")
	rawEcho    = flag.Bool("raw-echo-server", false, "internal: be row 9's trivial framed echo server, announcing its address on stdout")
	rawRelayTo = flag.String("raw-relay", "", "internal: be row 8's trivial TCP relay to this address, announcing its own on stdout")
	rawSetup   = flag.Bool("raw-setup-server", false, "internal: be row 6's trivial negotiating server, announcing its address on stdout")
)

func main() {
	flag.Parse()
	if *rawEcho {
		rawEchoServer()
		return
	}
	if *rawRelayTo != "" {
		rawRelay(*rawRelayTo)
		return
	}
	if *rawSetup {
		serveChild(negotiateTrivially)
		return
	}
	if *ikcgateBin == "" {
		fmt.Fprintln(os.Stderr, "ikcbench: -ikcgate is required")
		os.Exit(2)
	}
	// Go raises the soft open-file limit to the hard one at startup (Go
	// 1.19 and later), and the daemon it starts does the same: row 7's
	// 10,000 connections need only a hard limit above them.
	b := &bench{rows: map[string]bool{}}
	for _, r := range strings.Split(*rowsFlag, ",") {
		b.rows[strings.TrimSpace(r)] = true
	}
	b.tmp, _ = os.MkdirTemp("", "ikcbench.")
	cleanup = func() {
		b.stopAll()
		os.RemoveAll(b.tmp)
	}
	defer cleanup()
	if out, err := exec.Command("perl", "-MPOE::Component::IKC::Server", "-MPOE::Component::IKC::ClientLite", "-e",
		`print $POE::Component::IKC::Server::VERSION`).CombinedOutput(); err != nil {
		fmt.Println("NOTE: POE::Component::IKC is not in Perl's @INC (install it with cpanm, or set PERL5LIB):")
		fmt.Println("      the Perl columns and the rows that need Perl clients are skipped.")
	} else {
		b.perl = true
		b.perlVersion = strings.TrimSpace(string(out))
	}
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s; reps %d%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), *reps, map[bool]string{true: ", quick", false: ""}[*quick])
	if b.perl {
		fmt.Printf("perl: POE::Component::IKC %s\n", b.perlVersion)
	}
	// The Go clients here stand for a user's program that embeds a
	// kernel, run as the README advises: with the heap floor the daemon
	// runs with (package gcfloor).
	if gcf := gcfloor.Start(gcfloor.DefaultFloor); gcf != nil {
		defer gcf.Stop()
		fmt.Printf("go clients: GC heap floor %d MiB (package gcfloor)\n", gcfloor.DefaultFloor>>20)
	} else {
		fmt.Println("go clients: no GC heap floor (GOGC is set)")
	}
	fmt.Println("NOTE: figures are from a shared, noisy machine unless you made sure it is idle; compare the ratios.")
	fmt.Println()
	b.run()
	b.print()
}

// ---- servers ----------------------------------------------------------

type server struct {
	kind   string // "ikcgate" or "perl"
	kernel string // the name clients address
	addr   string
	cmd    *exec.Cmd
}

func (s *server) pid() int { return s.cmd.Process.Pid }

type bench struct {
	rows        map[string]bool
	perl        bool
	perlVersion string
	tmp         string
	servers     []*server
	results     []*result
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "ikcbench:", err)
	if cleanup != nil {
		cleanup() // os.Exit skips main's defers: no server may outlive the run
	}
	os.Exit(1)
}

// cleanup stops every server started and removes the temporary files; main
// sets it, and fatal runs it.
var cleanup func()

// startIkcgate runs the daemon with the demo session on demo/* or, with
// upstream set, demo/* forwarded to that Perl server.
func (b *bench) startIkcgate(upstream string) *server {
	port := freePort()
	route := `route "demo/*" {
  kind    = "go"
  handler = "demo"
}`
	if upstream != "" {
		route = fmt.Sprintf(`route "demo/*" {
  kind    = "upstream"
  address = %q
}`, upstream)
	}
	cfg := fmt.Sprintf(`kernel {
  name = "ikcgate"
}
listen = ["tcp 127.0.0.1:%d"]
%s
logging {
  level = "error"
}
`, port, route)
	path := filepath.Join(b.tmp, fmt.Sprintf("ikcgate-%d.hcl", port))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		fatal(err)
	}
	cmd := exec.Command(*ikcgateBin, "-config", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	s := &server{kind: "ikcgate", kernel: "ikcgate", addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	b.servers = append(b.servers, s)
	waitListening(s.addr)
	return s
}

func (b *bench) startPerl() *server {
	cmd := exec.Command("perl", filepath.Join(*perlDir, "server.pl"), "--name", "PerlBench", "--port", "0", "--timeout", "1800")
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	s := &server{kind: "perl", kernel: "PerlBench", cmd: cmd}
	b.servers = append(b.servers, s)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("perl server: %v", err))
	}
	var ev struct{ Port int }
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Port == 0 {
		fatal(fmt.Errorf("perl server said %q", line))
	}
	go io.Copy(io.Discard, out)
	s.addr = fmt.Sprintf("127.0.0.1:%d", ev.Port)
	return s
}

func (b *bench) stop(s *server) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	for i, x := range b.servers {
		if x == s {
			b.servers = append(b.servers[:i], b.servers[i+1:]...)
			break
		}
	}
}

func (b *bench) stopAll() {
	for len(b.servers) > 0 {
		b.stop(b.servers[0])
	}
}

func waitListening(addr string) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fatal(fmt.Errorf("nothing listens on %s", addr))
}

// ---- /proc ------------------------------------------------------------

// cpuSeconds is utime+stime of pid.
func cpuSeconds(pid int) float64 { return cpuOf(pid).total }

// cpuUse is a process's CPU time: in all, and the part spent in the
// kernel (stime). Linux samples the split at its clock tick, so the kernel
// part of a short measurement is the coarser figure.
type cpuUse struct{ total, kernel float64 }

func (c cpuUse) minus(d cpuUse) cpuUse { return cpuUse{c.total - d.total, c.kernel - d.kernel} }

// per is c in µs per one of ops.
func (c cpuUse) per(ops float64) cpuUse { return cpuUse{c.total / ops * 1e6, c.kernel / ops * 1e6} }

// cpuOf reads pid's utime and stime.
func cpuOf(pid int) cpuUse {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuUse{math.NaN(), math.NaN()}
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields after the command: state(0) ... utime(11) stime(12)
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return cpuUse{(u + st) / 100, st / 100} // USER_HZ is 100 on Linux
}

// rssKB is VmRSS of pid.
func rssKB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return math.NaN()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return v
		}
	}
	return math.NaN()
}

// ---- results ----------------------------------------------------------

// result is one line of the table: samples for each side.
type result struct {
	row, what, unit string
	higher          bool // higher is better
	goS, perlS      []float64
	target          string                    // the target, as text
	check           func(g, p float64) string // "met"/"MISSED", or "" for no automatic check
}

func (b *bench) add(row, what, unit string, higher bool) *result {
	r := &result{row: row, what: what, unit: unit, higher: higher}
	b.results = append(b.results, r)
	return r
}

func (r *result) put(side string, v float64) {
	if math.IsNaN(v) {
		return
	}
	if *verbose {
		fmt.Printf("  [%s] %s %s: %.4g %s\n", r.row, side, r.what, v, r.unit)
	}
	if side == "ikcgate" {
		r.goS = append(r.goS, v)
	} else {
		r.perlS = append(r.perlS, v)
	}
}

func stats(s []float64) (med, lo, hi float64, ok bool) {
	if len(s) == 0 {
		return 0, 0, 0, false
	}
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	n := len(c)
	med = c[n/2]
	if n%2 == 0 {
		med = (c[n/2-1] + c[n/2]) / 2
	}
	return med, c[0], c[n-1], true
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func cell(s []float64) string {
	med, lo, hi, ok := stats(s)
	if !ok {
		return "-"
	}
	if len(s) == 1 {
		return num(med)
	}
	return fmt.Sprintf("%s (%s-%s)", num(med), num(lo), num(hi))
}

func (b *bench) print() {
	fmt.Println()
	fmt.Printf("%-4s %-44s %-9s %-26s %-26s %-8s %s\n", "row", "measure", "unit", "ikcgate median (min-max)", "Perl median (min-max)", "ikc/Perl", "target")
	fmt.Println(strings.Repeat("-", 140))
	for _, r := range b.results {
		ratio := "-"
		g, _, _, gok := stats(r.goS)
		p, _, _, pok := stats(r.perlS)
		if gok && pok && p != 0 {
			ratio = fmt.Sprintf("%.3g", g/p)
		}
		verdict := ""
		if r.check != nil && gok {
			if !pok {
				p = math.NaN()
			}
			verdict = r.check(g, p)
		}
		t := r.target
		if verdict != "" {
			t += " => " + verdict
		}
		fmt.Printf("%-4s %-44s %-9s %-26s %-26s %-8s %s\n", r.row, r.what, r.unit, cell(r.goS), cell(r.perlS), ratio, t)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// atLeast: ikcgate >= f * Perl.
func atLeast(f float64) func(g, p float64) string {
	return func(g, p float64) string {
		if math.IsNaN(p) {
			return ""
		}
		return verdict(g >= f*p)
	}
}

// atMost: ikcgate <= f * Perl.
func atMost(f float64) func(g, p float64) string {
	return func(g, p float64) string {
		if math.IsNaN(p) {
			return ""
		}
		return verdict(g <= f*p)
	}
}

func absAtLeast(v float64) func(g, p float64) string {
	return func(g, _ float64) string { return verdict(g >= v) }
}

func absAtMost(v float64) func(g, p float64) string {
	return func(g, _ float64) string { return verdict(g <= v) }
}

// ---- Perl clients ---------------------------------------------------------

type perlOut struct {
	Ops  float64
	Secs float64
	P50  float64
	P99  float64
}

func perlClient(s *server, args ...string) (perlOut, error) {
	port := s.addr[strings.LastIndexByte(s.addr, ':')+1:]
	all := append([]string{filepath.Join(*perlDir, "client.pl"), "--port", port, "--server", s.kernel}, args...)
	cmd := exec.Command("perl", all...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var o perlOut
	if err != nil {
		return o, fmt.Errorf("client.pl %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, &o); err != nil {
		return o, fmt.Errorf("client.pl %s said %q", strings.Join(args, " "), out)
	}
	return o, nil
}

// perlMeasured runs bench/perl/client.pl against s with args and returns
// its report and the server's CPU per operation in µs; ok is false (and
// the error printed) when the client failed.
func perlMeasured(s *server, args ...string) (o perlOut, cpuPerOp cpuUse, ok bool) {
	c0 := cpuOf(s.pid())
	o, err := perlClient(s, args...)
	warn(err)
	return o, cpuOf(s.pid()).minus(c0).per(o.Ops), err == nil
}

// measure runs f and returns the server's CPU seconds meanwhile.
func measure(s *server, f func() error) (cpu float64, err error) {
	c0 := cpuSeconds(s.pid())
	err = f()
	return cpuSeconds(s.pid()) - c0, err
}

// cpuRows are a "server CPU per ..." row and, under it, the part of it
// spent in the kernel: system calls, and loopback TCP's delivery and the
// wake-ups it causes, which the Perl server and ikcgate pay alike for the
// same reads and writes. Rows 1-5 hold ikcgate to a tenth of Perl's CPU
// per request; the second row shows how much of the figure is the
// kernel's, which no server's own code can remove.
type cpuRows struct{ total, kernel *result }

func (b *bench) cpuRows(row, label, per string) cpuRows {
	c := cpuRows{total: b.add(row, label+"server CPU per "+per, "us", false)}
	c.total.target, c.total.check = "<= 1/10 Perl", atMost(0.1)
	c.kernel = b.add(row, label+"  of which in the kernel", "us", false)
	return c
}

func (c cpuRows) put(side string, u cpuUse) {
	c.total.put(side, u.total)
	c.kernel.put(side, u.kernel)
}

func scale(n int) string {
	if *quick {
		n /= 4
	}
	return strconv.Itoa(n)
}

func dur(secs float64) float64 {
	if *quick {
		return secs / 2
	}
	return secs
}

func warn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ikcbench: warning:", err)
	}
}

// ---- the rows -----------------------------------------------------------

func (b *bench) sides(f func(s *server)) {
	g := b.startIkcgate("")
	f(g)
	b.stop(g)
	if b.perl {
		p := b.startPerl()
		f(p)
		b.stop(p)
	}
}

// alternate runs f once per repetition on each side, with both servers
// up throughout and the sides taking turns (ikcgate first in odd
// repetitions, Perl first in even ones): a machine whose speed drifts
// during the run, as this shared one does, then moves both columns alike
// rather than one. An idle server of either kind costs the other nothing.
func (b *bench) alternate(f func(s *server)) {
	sides := []*server{b.startIkcgate("")}
	if b.perl {
		sides = append(sides, b.startPerl())
	}
	defer func() {
		for _, s := range sides {
			b.stop(s)
		}
	}()
	for i := 0; i < *reps; i++ {
		for j := range sides {
			f(sides[(i+j)%len(sides)])
		}
	}
}

func (b *bench) run() {
	if b.rows["9"] {
		b.row9()
	}
	if b.perl && b.rows["1"] {
		fmt.Println("row 1: one Perl client posting")
		r := b.add("1", "Perl client posts", "msgs/s", true)
		r.target, r.check = ">= Perl", atLeast(1)
		c := b.cpuRows("1", "", "post")
		b.alternate(func(s *server) {
			if o, cpu, ok := perlMeasured(s, "--mode", "post", "--n", scale(20000)); ok {
				r.put(s.kind, o.Ops/o.Secs)
				c.put(s.kind, cpu)
			}
		})
	}
	if b.perl && b.rows["2"] {
		fmt.Println("row 2: sequential and pipelined Perl calls")
		seq := b.sequential("2", "Perl client sequential calls", "calls/s", "sequential call", "call", true)
		pr := b.add("2", "Perl client, 16 pipelined calls", "calls/s", true)
		pr.target, pr.check = ">= Perl", atLeast(1)
		pc := b.cpuRows("2", "  ", "call")
		b.alternate(func(s *server) {
			seq.measure(s, "--mode", "call", "--n", scale(4000))
			if o, cpu, ok := perlMeasured(s, "--mode", "call", "--depth", "16", "--n", scale(8000)); ok {
				pr.put(s.kind, o.Ops/o.Secs)
				pc.put(s.kind, cpu)
			}
		})
	}
	if b.perl && b.rows["3"] {
		b.row3()
	}
	if b.perl && b.rows["4"] {
		fmt.Println("row 4: ClientLite calls and post_respond round trips")
		calls := b.sequential("4", "ClientLite sequential calls", "calls/s", "ClientLite call", "call", false)
		// post_respond: a post of [value, rsvp], and the server's post
		// of value back to the rsvp (demo/respond on both servers).
		trips := b.sequential("4", "ClientLite post_respond round trips", "trips/s", "post_respond", "round trip", false)
		b.alternate(func(s *server) {
			calls.measure(s, "--mode", "lite", "--n", scale(4000))
			trips.measure(s, "--mode", "respond", "--n", scale(4000))
		})
	}
	if b.perl && b.rows["5"] {
		b.row5()
	}
	if b.rows["6"] {
		b.row6()
	}
	if b.rows["7"] {
		b.row7()
	}
	if b.perl && b.rows["8"] {
		b.row8()
	}
}

// sequentialRows are the rows of one sequential round trip from a Perl
// client: rate, p50 (and p99), server CPU per round trip, with the
// targets of rows 2 and 4.
type sequentialRows struct {
	rate, p50, p99 *result
	cpu            cpuRows
}

func (b *bench) sequential(row, what, unit, latency, per string, p99 bool) *sequentialRows {
	q := &sequentialRows{rate: b.add(row, what, unit, true)}
	q.rate.target, q.rate.check = ">= Perl", atLeast(1)
	q.p50 = b.add(row, "  "+latency+" p50", "us", false)
	q.p50.target, q.p50.check = ">= 30% lower", atMost(0.7)
	if p99 {
		q.p99 = b.add(row, "  "+latency+" p99", "us", false)
	}
	q.cpu = b.cpuRows(row, "  ", per)
	return q
}

// measure runs client.pl with args against s and records its figures.
func (q *sequentialRows) measure(s *server, args ...string) {
	o, cpu, ok := perlMeasured(s, args...)
	if !ok {
		return
	}
	q.rate.put(s.kind, o.Ops/o.Secs)
	q.p50.put(s.kind, o.P50)
	if q.p99 != nil {
		q.p99.put(s.kind, o.P99)
	}
	q.cpu.put(s.kind, cpu)
}

func (b *bench) row3() {
	fmt.Println("row 3: concurrent Perl client processes calling")
	secs := dur(3)
	for _, k := range []int{1, 4, 16, 64} {
		r := b.add("3", fmt.Sprintf("%d Perl clients, total", k), "calls/s", true)
		r.target, r.check = ">= Perl", atLeast(1)
		p99 := b.add("3", fmt.Sprintf("  %d clients: p99", k), "us", false)
		c := b.cpuRows("3", fmt.Sprintf("  %d clients: ", k), "call")
		b.alternate(func(s *server) {
			// Every process connects, then waits for the same start
			// time: POE takes a while to load with 64 of them on 2 CPUs.
			start := float64(time.Now().UnixNano())/1e9 + 1.5 + 0.12*float64(k)
			var mu sync.Mutex
			var total float64
			var lats []float64
			var wg sync.WaitGroup
			var c0 cpuUse
			var cpuStart sync.Once
			go func() {
				time.Sleep(time.Until(time.Unix(0, int64(start*1e9))))
				cpuStart.Do(func() { c0 = cpuOf(s.pid()) })
			}()
			for j := 0; j < k; j++ {
				wg.Add(1)
				go func(j int) {
					defer wg.Done()
					lf := filepath.Join(b.tmp, fmt.Sprintf("lat-%d-%d", k, j))
					o, err := perlClient(s, "--mode", "call", "--dur", fmt.Sprint(secs), "--start", fmt.Sprintf("%.3f", start), "--lat", lf)
					warn(err)
					if err != nil {
						return
					}
					ls := readLats(lf)
					mu.Lock()
					total += o.Ops / o.Secs
					lats = append(lats, ls...)
					mu.Unlock()
				}(j)
			}
			wg.Wait()
			cpu := cpuOf(s.pid())
			cpuStart.Do(func() {})
			cpu = cpu.minus(c0)
			sort.Float64s(lats)
			if len(lats) > 0 {
				r.put(s.kind, total)
				p99.put(s.kind, lats[int(0.99*float64(len(lats)-1)+0.5)])
				c.put(s.kind, cpu.per(float64(len(lats))))
			}
		})
	}
}

func readLats(path string) []float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []float64
	for _, f := range strings.Fields(string(b)) {
		if v, err := strconv.ParseFloat(f, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (b *bench) row5() {
	fmt.Println("row 5: payloads (Perl client, sequential echo calls)")
	for _, p := range []struct {
		name string
		size int
		n    int
	}{{"100 B", 100, 3000}, {"10 KB", 10 << 10, 2000}, {"1 MB", 1 << 20, 40}} {
		r := b.add("5", "echo "+p.name+", each way", "MB/s", true)
		r.target, r.check = ">= Perl", atLeast(1)
		c := b.cpuRows("5", "  ", "call")
		b.alternate(func(s *server) {
			if o, cpu, ok := perlMeasured(s, "--mode", "call", "--size", strconv.Itoa(p.size), "--n", scale(p.n)); ok {
				r.put(s.kind, float64(p.size)*o.Ops/o.Secs/1e6)
				c.put(s.kind, cpu)
			}
		})
	}
}

func (b *bench) row6() {
	fmt.Println("row 6: connect + negotiate + disconnect")
	for _, legacy := range []bool{false, true} {
		dl := "IKC0"
		if legacy {
			dl = "legacy"
		}
		if b.perl {
			r := b.add("6", "cycles from Perl ClientLite, "+dl, "cycles/s", true)
			r.target, r.check = ">= 10x Perl", atLeast(10)
			n := scale(800)
			if legacy {
				n = scale(200) // Perl's legacy dialogue is slow: keep the run short
			}
			proto := map[bool]string{false: "IKC0", true: "IKC"}[legacy]
			b.alternate(func(s *server) {
				o, err := perlClient(s, "--mode", "connect", "--protocol", proto, "--n", n)
				warn(err)
				if err == nil {
					r.put(s.kind, o.Ops/o.Secs)
				}
			})
		}
		r := b.add("6", fmt.Sprintf("cycles from Go (gateway.Dial x%d), %s", cycleDialers, dl), "cycles/s", true)
		r.target, r.check = ">= 10x Perl", atLeast(10)
		c := b.add("6", "  server CPU per cycle", "us", false)
		// The floor under both: the same dialers against a trivial Go
		// program that answers the dialogue's lines and closes. What it
		// reaches is what loopback TCP's connect and close, and the
		// dialing side, leave on this machine's two cores.
		tr := b.add("6", "  the same against a trivial negotiating program", "cycles/s", true)
		trCPU := b.add("6", "    its CPU per cycle", "us", false)
		trRatio := b.add("6", "  ikcgate / the trivial program", "ratio", true)
		b.alternate(func(s *server) {
			var ops, secs float64
			cpu, err := measure(s, func() (err error) { ops, secs, err = goConnectCycles(s, legacy, dur(2)); return })
			warn(err)
			if err == nil {
				r.put(s.kind, ops/secs)
				c.put(s.kind, cpu/ops*1e6)
			}
			if s.kind != "ikcgate" || err != nil {
				return
			}
			t := b.startTrivialSetup(s)
			defer b.stop(t)
			var tops, tsecs float64
			tcpu, err := measure(t, func() (err error) { tops, tsecs, err = goConnectCycles(t, legacy, dur(2)); return })
			warn(err)
			if err == nil {
				tr.put("ikcgate", tops/tsecs)
				trCPU.put("ikcgate", tcpu/tops*1e6)
				trRatio.put("ikcgate", (ops/secs)/(tops/tsecs))
			}
		})
	}
}

// startTrivialSetup runs row 6's trivial negotiating program in a child
// process, addressed as s's kernel. b.stop ends it.
func (b *bench) startTrivialSetup(s *server) *server {
	cmd, _, addr := startChild("trivial negotiating server", "-raw-setup-server")
	t := &server{kind: "trivial", kernel: s.kernel, addr: addr, cmd: cmd}
	b.servers = append(b.servers, t)
	return t
}

// negotiateTrivially is row 6's trivial Go program: the server's side of
// either dialogue as fixed answers to the client's lines (no parsing, no
// kernel, no channel), then it reads until the client closes. Its legacy
// side announces three names, one per round trip, as ikcgate's server
// does here (its kernel ID, its address, its name).
func negotiateTrivially(c net.Conn) {
	r := bufio.NewReader(c)
	names := []string{"IAM 127.0.0.1:1", "IAM trivial", "DONE"}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		var answer string
		switch line = strings.TrimRight(line, "\r\n"); {
		case strings.HasPrefix(line, "SETUP "):
			answer = "SETUP KERNEL=trivial;FREEZER=Storable;PID=1"
		case line == "HELLO":
			answer = "IAM trivial-kernel-id"
		case line == "OK" && len(names) > 0:
			answer, names = names[0], names[1:]
		case strings.HasPrefix(line, "IAM "), strings.HasPrefix(line, "FREEZER "):
			answer = "OK"
		case line == "WORLD":
			answer = "UP"
		}
		if answer != "" {
			if _, err := io.WriteString(c, answer+"\r\n"); err != nil {
				return
			}
		}
		if answer == "UP" || strings.HasPrefix(answer, "SETUP") {
			io.Copy(io.Discard, r)
			return
		}
	}
}

func quietKernel(name string, legacy bool) *gateway.Kernel {
	cfg := gateway.DefaultConfig()
	cfg.Name = name
	cfg.Logger = hclog.NewNullLogger()
	cfg.LegacyOnly = legacy
	cfg.CallTimeout = 30 * time.Second
	k, err := gateway.New(cfg)
	if err != nil {
		fatal(err)
	}
	return k
}

func shutdown(k *gateway.Kernel) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k.Shutdown(ctx)
}

// goConnectCycles dials, negotiates and closes from cycleDialers
// goroutines at once, each waiting for its channel to be torn down before
// the next dial: one dialer is itself the bottleneck at the rates a Go
// server reaches, which would hide the server's capacity.
func goConnectCycles(s *server, legacy bool, secs float64) (ops, elapsed float64, err error) {
	k := quietKernel("GoBench", legacy)
	defer shutdown(k)
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	var n atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for g := 0; g < cycleDialers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				p, err := k.DialWith(ctx, "tcp", s.addr, gateway.DialOptions{LegacyOnly: legacy})
				cancel()
				if err != nil {
					failed.Store(err)
					return
				}
				p.Close()
				<-p.Done()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return 0, 0, e.(error)
	}
	return float64(n.Load()), time.Since(start).Seconds(), nil
}

const cycleDialers = 4

func (b *bench) row7() {
	fmt.Println("row 7: server RSS with idle connections (Go clients, negotiated, then silent)")
	idle := b.add("7", "server RSS, idle", "KB", false)
	r64 := b.add("7", "server RSS, 64 idle connections", "KB", false)
	per64 := b.add("7", "  per connection (64)", "KB", false)
	n := 10000
	if *quick {
		n = 2000
	}
	rbig := b.add("7", fmt.Sprintf("server RSS, %d idle connections", n), "KB", false)
	perBig := b.add("7", fmt.Sprintf("  per connection (%d)", n), "KB", false)
	perBig.target, perBig.check = "<= 20 KB, all held", absAtMost(20)
	held := b.add("7", fmt.Sprintf("  connections held (of %d)", n), "conns", true)
	held.target, held.check = fmt.Sprintf("%d", n), absAtLeast(float64(n))
	// A fresh server for every repetition: after 10,000 connections
	// closed, Go keeps the freed memory for a while, and an "idle" figure
	// taken then would be that, not idle.
	for i := 0; i < *reps; i++ {
		b.sides(func(s *server) {
			time.Sleep(300 * time.Millisecond)
			base := rssKB(s.pid())
			idle.put(s.kind, base)
			conns, err := holdIdle(s.addr, 64)
			warn(err)
			time.Sleep(500 * time.Millisecond)
			v := rssKB(s.pid())
			r64.put(s.kind, v)
			per64.put(s.kind, (v-base)/64)
			closeAll(conns)
			// Perl's POE select() loop cannot watch more than 1024
			// descriptors (FD_SETSIZE): the big run is ikcgate's only.
			if s.kind == "perl" {
				return
			}
			conns, err = holdIdle(s.addr, n)
			warn(err)
			time.Sleep(time.Second)
			v = rssKB(s.pid())
			rbig.put(s.kind, v)
			perBig.put(s.kind, (v-base)/float64(n))
			held.put(s.kind, float64(countAlive(conns)))
			closeAll(conns)
		})
	}
}

// holdIdle opens n negotiated IKC0 channels (raw connections, so that
// this process stays small) and returns them open.
func holdIdle(addr string, n int) ([]net.Conn, error) {
	var mu sync.Mutex
	var conns []net.Conn
	var firstErr error
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err == nil {
				cfg := protocol.DefaultClientConfig()
				cfg.KernelID = fmt.Sprintf("idle-%d-%d", os.Getpid(), i)
				cfg.Names = []string{"Idle" + strconv.Itoa(i), c.LocalAddr().String()}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, _, err = protocol.ClientHandshake(ctx, c, cfg)
				cancel()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if c != nil {
					c.Close()
				}
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			conns = append(conns, c)
		}(i)
	}
	wg.Wait()
	return conns, firstErr
}

// countAlive counts connections the server has not closed.
func countAlive(conns []net.Conn) int {
	n := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.Read(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			n++
		}
	}
	return n
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

func (b *bench) row8() {
	fmt.Println("row 8: gateway overhead, Perl client -> ikcgate (upstream route) -> Perl server vs -> Perl server")
	r := b.add("8", "Perl client sequential calls", "calls/s", true)
	r.target, r.check = "overhead <= 10%", atLeast(0.9)
	p50 := b.add("8", "  call p50", "us", false)
	p50.target = "<= +100 us"
	p50.check = func(g, p float64) string {
		if math.IsNaN(p) {
			return ""
		}
		return fmt.Sprintf("%+.0f us, %s", g-p, verdict(g-p <= 100))
	}
	pr := b.add("8", "Perl client, 16 pipelined calls", "calls/s", true)
	pr.target, pr.check = "overhead <= 10%", atLeast(0.9)
	// The floor for any hop: the same calls through a trivial Go TCP
	// relay (io.Copy each way, its own process), next to Perl direct.
	rr := b.add("8", "same, sequential, via a trivial Go TCP relay", "calls/s", true)
	rr.check = func(g, p float64) string {
		if math.IsNaN(p) {
			return ""
		}
		return fmt.Sprintf("relay/direct %.2f", g/p)
	}
	rp50 := b.add("8", "  relay call p50", "us", false)
	rp50.check = func(g, p float64) string {
		if math.IsNaN(p) {
			return ""
		}
		return fmt.Sprintf("%+.0f us: a hop's floor here", g-p)
	}
	perl := b.startPerl()
	defer b.stop(perl)
	gw := b.startIkcgate(perl.addr)
	defer b.stop(gw)
	relay := b.startRelay(perl)
	defer b.stop(relay)
	// The upstream channel comes up in the background: wait for it.
	time.Sleep(time.Second)
	for i := 0; i < *reps; i++ {
		for _, s := range []*server{gw, perl} {
			side := map[string]string{"ikcgate": "ikcgate", "perl": "perl"}[s.kind]
			o, err := perlClient(s, "--mode", "call", "--n", scale(4000))
			warn(err)
			if err == nil {
				r.put(side, o.Ops/o.Secs)
				p50.put(side, o.P50)
			}
			o, err = perlClient(s, "--mode", "call", "--depth", "16", "--n", scale(8000))
			warn(err)
			if err == nil {
				pr.put(side, o.Ops/o.Secs)
			}
			if s == perl {
				r, p := rr, rp50
				o, err = perlClient(perl, "--mode", "call", "--n", scale(4000))
				warn(err)
				if err == nil {
					r.put("perl", o.Ops/o.Secs)
					p.put("perl", o.P50)
				}
				o, err = perlClient(relay, "--mode", "call", "--n", scale(4000))
				warn(err)
				if err == nil {
					r.put("ikcgate", o.Ops/o.Secs)
					p.put("ikcgate", o.P50)
				}
			}
		}
	}
}

// rawRelay is row 8's trivial Go program: a TCP relay to upstream, each
// connection copied both ways with io.Copy, nothing parsed.
func rawRelay(upstream string) {
	serveChild(func(c net.Conn) {
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer u.Close()
		go func() { io.Copy(u, c); u.Close() }()
		io.Copy(c, u)
	})
}

// serveChild is the body of ikcbench run as a trivial server (-raw-relay,
// -raw-echo-server): it listens on loopback, prints its address for the
// parent, serves each connection with handle (closing it after), and
// exits when the parent closes its stdin.
func serveChild(handle func(net.Conn)) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	fmt.Println(l.Addr().String())
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // exit with the parent
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// startChild runs ikcbench with args as a serveChild process and returns
// it, running, with the address it announced. Closing stdin stops it.
func startChild(what string, args ...string) (cmd *exec.Cmd, stdin io.Closer, addr string) {
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	cmd = exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("%s: %w", what, err))
	}
	return cmd, in, strings.TrimSpace(line)
}

// startRelay runs rawRelay to the Perl server s in a child process; its
// clients address s's kernel. b.stop ends it.
func (b *bench) startRelay(s *server) *server {
	cmd, _, addr := startChild("relay", "-raw-relay", s.addr)
	r := &server{kind: "relay", kernel: s.kernel, addr: addr, cmd: cmd}
	b.servers = append(b.servers, r)
	return r
}

// ---- row 9: Go clients, the ceiling ----------------------------------

func (b *bench) row9() {
	fmt.Println("row 9: Go client -> server, next to raw loopback framing")
	post := b.add("9", "Go client posts (one channel)", "msgs/s", true)
	post.target, post.check = ">= 1,000,000", absAtLeast(1e6)
	postCPU := b.add("9", "  server CPU per post", "us", false)
	seq := b.add("9", "Go client sequential calls", "calls/s", true)
	seqP50 := b.add("9", "  sequential call p50", "us", false)
	seqCPU := b.add("9", "  server CPU per call", "us", false)
	pipe := b.add("9", "Go client, 64 pipelined calls", "calls/s", true)
	pipe.target, pipe.check = ">= 200,000", absAtLeast(2e5)
	pipeCPU := b.add("9", "  server CPU per call", "us", false)
	async := b.add("9", "Go client, 64 in flight from one goroutine (Peer.Go)", "calls/s", true)
	async.target, async.check = ">= 200,000", absAtLeast(2e5)
	asyncCPU := b.add("9", "  server CPU per call", "us", false)
	rawPipe := b.add("9", "raw framed echo, 64 in flight, echo in its own process", "msgs/s", true)
	rawPipeCPU := b.add("9", "  echo process CPU per round trip", "us", false)
	asyncRatio := b.add("9", "Go client Peer.Go calls / raw 64 in flight", "ratio", true)
	raw := b.add("9", "raw framed ping-pong, echo in its own process", "msgs/s", true)
	// The floor under "server CPU per call": what the trivial echo
	// process spends per round trip, its wake-ups and syscalls.
	rawCPU := b.add("9", "  echo process CPU per round trip", "us", false)
	rawIn := b.add("9", "raw framed ping-pong, both ends in one process", "msgs/s", true)
	rawStream := b.add("9", "raw framed stream (same frame, Go)", "msgs/s", true)
	ratio := b.add("9", "Go->ikcgate seq calls / raw ping-pong", "ratio", true)
	ratio.target, ratio.check = ">= 0.8", absAtLeast(0.8)
	secs := dur(2)
	b.sides(func(s *server) {
		k := quietKernel("GoBench", false)
		defer shutdown(k)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		peer, err := k.Dial(ctx, "tcp", s.addr)
		cancel()
		if err != nil {
			warn(err)
			return
		}
		for i := 0; i < *reps; i++ {
			var ops, el float64
			cpu, err := measure(s, func() (err error) { ops, el, err = goPosts(peer, secs); return })
			warn(err)
			if err == nil {
				post.put(s.kind, ops/el)
				postCPU.put(s.kind, cpu/ops*1e6)
			}
			var lats []float64
			cpu, err = measure(s, func() (err error) { lats, el, err = goCalls(peer, 1, secs); return })
			warn(err)
			if err == nil {
				seq.put(s.kind, float64(len(lats))/el)
				seqP50.put(s.kind, lats[len(lats)/2])
				seqCPU.put(s.kind, cpu/float64(len(lats))*1e6)
				if s.kind == "ikcgate" {
					pp, ppCPU := rawPingPong(secs, false)
					rawCPU.put("ikcgate", ppCPU)
					raw.put("ikcgate", pp)
					in, _ := rawPingPong(secs, true)
					rawIn.put("ikcgate", in)
					ratio.put("ikcgate", float64(len(lats))/el/pp)
					rawStream.put("ikcgate", rawStreamRate(secs))
				}
			}
			cpu, err = measure(s, func() (err error) { lats, el, err = goCalls(peer, 64, secs); return })
			warn(err)
			if err == nil {
				pipe.put(s.kind, float64(len(lats))/el)
				pipeCPU.put(s.kind, cpu/float64(len(lats))*1e6)
			}
			var n int
			cpu, err = measure(s, func() (err error) { n, el, err = goAsyncCalls(peer, 64, secs); return })
			warn(err)
			if err == nil {
				async.put(s.kind, float64(n)/el)
				asyncCPU.put(s.kind, cpu/float64(n)*1e6)
				if s.kind == "ikcgate" {
					rp, rpCPU := rawPipelined(secs, 64)
					rawPipe.put("ikcgate", rp)
					rawPipeCPU.put("ikcgate", rpCPU)
					asyncRatio.put("ikcgate", float64(n)/el/rp)
				}
			}
		}
	})
}

var smallArg = perlcompat.Text("hello, ikc")

// goPosts posts to demo/count for secs seconds, then waits until the
// server has counted every post (demo/total).
func goPosts(peer *gateway.Peer, secs float64) (ops, elapsed float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	base, err := total(ctx, peer)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	n := int64(0)
	for time.Now().Before(end) {
		for j := 0; j < 256; j++ {
			if err := peer.Post(ctx, "demo/count", perlcompat.Int(1)); err != nil {
				return 0, 0, err
			}
		}
		n += 256
	}
	for {
		t, err := total(ctx, peer)
		if err != nil {
			return 0, 0, err
		}
		if t >= base+n {
			break
		}
	}
	return float64(n), time.Since(start).Seconds(), nil
}

func total(ctx context.Context, peer *gateway.Peer) (int64, error) {
	v, err := peer.Call(ctx, "demo/total", nil)
	if err != nil {
		return 0, err
	}
	if perlcompat.IsUndef(v) {
		return 0, nil
	}
	return perlcompat.AsInt(v)
}

// goCalls calls demo/echo with depth calls in flight for secs seconds and
// returns the sorted latencies in microseconds.
func goCalls(peer *gateway.Peer, depth int, secs float64) (lats []float64, elapsed float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs*float64(time.Second))+60*time.Second)
	defer cancel()
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Value
	for g := 0; g < depth; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for time.Now().Before(end) {
				t := time.Now()
				if _, err := peer.Call(ctx, "demo/echo", smallArg); err != nil {
					failed.Store(err)
					break
				}
				mine = append(mine, float64(time.Since(t).Nanoseconds())/1e3)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed = time.Since(start).Seconds()
	if e := failed.Load(); e != nil {
		return nil, 0, e.(error)
	}
	sort.Float64s(lats)
	return lats, elapsed, nil
}

// goAsyncCalls keeps depth calls to demo/echo in flight from one
// goroutine with Peer.Go for secs seconds, and returns how many were
// answered.
func goAsyncCalls(peer *gateway.Peer, depth int, secs float64) (n int, elapsed float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs*float64(time.Second))+60*time.Second)
	defer cancel()
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	done := make(chan *gateway.AsyncCall, depth)
	for i := 0; i < depth; i++ {
		peer.Go(ctx, "demo/echo", smallArg, done)
	}
	for inFlight := depth; inFlight > 0; inFlight-- {
		c := <-done
		if c.Err != nil {
			err = c.Err
		}
		n++
		if err == nil && time.Now().Before(end) {
			peer.Go(ctx, "demo/echo", smallArg, done)
			inFlight++
		}
	}
	return n, time.Since(start).Seconds(), err
}

// rawFrame is a Storable IKC call request of the size the Go client sends.
func rawFrame() []byte {
	msg := protocol.NewPost(protocol.Specifier{Kernel: "ikcgate", Session: "demo", State: "echo"}, perlcompat.NewArray(smallArg))
	rsvp := protocol.Specifier{Kernel: "GoBench-host-1700000000-1234-1", Session: "IKC", State: "ikcgate:rsvp:1"}
	msg.Rsvp = &rsvp
	msg.RsvpValue = rsvp.Value()
	cfg := gateway.DefaultConfig()
	p, err := cfg.Freezers[0].Freeze(nil, msg.Value())
	if err != nil {
		fatal(err)
	}
	return p
}

func rawConns() (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() { c, _ := l.Accept(); ch <- c }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fatal(err)
	}
	return c, <-ch
}

// rawEchoServer is the trivial Go program of row 9: it listens on
// loopback, prints its address, and echoes every frame of every
// connection back as a frame. It runs as its own process, as ikcgate
// does, so a round trip to it pays the same cross-process wake-ups.
func rawEchoServer() { serveChild(echoFrames) }

// echoFrames writes every frame read from c back to it, until either
// fails.
func echoFrames(c net.Conn) {
	fr := protocol.NewFrameReader(c, nil, 0)
	fw := protocol.NewFrameWriter(c, 0)
	for {
		p, err := fr.ReadFrame()
		if err != nil || fw.WriteFrame(p) != nil {
			return
		}
	}
}

// rawEchoConn starts rawEchoServer as a child process and connects to it.
func rawEchoConn() (net.Conn, func(), int) {
	cmd, stdin, addr := startChild("raw echo server", "-raw-echo-server")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fatal(err)
	}
	return c, func() { c.Close(); stdin.Close(); cmd.Wait() }, cmd.Process.Pid
}

// rawPingPong: one frame the size of a call goes out to the raw echo
// server process, which reads it as a frame and writes it back; no
// freezing, no kernel. inProcess puts the echo end in a goroutine of this
// process instead, which skips the cross-process wake-ups.
//
// It returns round trips per second and, for the echo in its own process,
// that process's CPU per round trip in microseconds (else NaN).
func rawPingPong(secs float64, inProcess bool) (rate, cpuPerTrip float64) {
	cpuPerTrip = math.NaN()
	payload := rawFrame()
	var c net.Conn
	echoPid := 0
	if inProcess {
		var s net.Conn
		c, s = rawConns()
		defer s.Close()
		go echoFrames(s)
	} else {
		var stop func()
		c, stop, echoPid = rawEchoConn()
		defer stop()
	}
	defer c.Close()
	fr := protocol.NewFrameReader(c, nil, 0)
	fw := protocol.NewFrameWriter(c, 0)
	cpu0 := math.NaN()
	if echoPid != 0 {
		cpu0 = cpuSeconds(echoPid)
	}
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	n := 0
	for time.Now().Before(end) {
		for j := 0; j < 64; j++ {
			if fw.WriteFrame(payload) != nil {
				return math.NaN(), math.NaN()
			}
			if _, err := fr.ReadFrame(); err != nil {
				return math.NaN(), math.NaN()
			}
		}
		n += 64
	}
	rate = float64(n) / time.Since(start).Seconds()
	if echoPid != 0 {
		cpuPerTrip = (cpuSeconds(echoPid) - cpu0) / float64(n) * 1e6
	}
	return rate, cpuPerTrip
}

// rawPipelined: depth frames the size of a call kept in flight to the
// raw echo server process, one write per frame each way, as a trivial
// program answering each reply with the next request does. It is the
// cross-process ceiling beside row 9's 64 pipelined calls: the same
// wake-ups and syscalls, without freezing or a kernel.
func rawPipelined(secs float64, depth int) (rate, cpuPerTrip float64) {
	payload := rawFrame()
	c, stop, echoPid := rawEchoConn()
	defer stop()
	fr := protocol.NewFrameReader(c, nil, 0)
	fw := protocol.NewFrameWriter(c, 0)
	cpu0 := cpuSeconds(echoPid)
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	for i := 0; i < depth; i++ {
		if fw.WriteFrame(payload) != nil {
			return math.NaN(), math.NaN()
		}
	}
	n, stopping := 0, false
	for inFlight := depth; inFlight > 0; inFlight-- {
		if _, err := fr.ReadFrame(); err != nil {
			return math.NaN(), math.NaN()
		}
		n++
		if stopping = stopping || n&63 == 0 && !time.Now().Before(end); stopping {
			continue
		}
		if fw.WriteFrame(payload) != nil {
			return math.NaN(), math.NaN()
		}
		inFlight++
	}
	rate = float64(n) / time.Since(start).Seconds()
	return rate, (cpuSeconds(echoPid) - cpu0) / float64(n) * 1e6
}

// rawStreamRate: frames the size of a call written through a 32 KB
// buffer, read and counted as frames on the other side.
func rawStreamRate(secs float64) float64 {
	payload := rawFrame()
	frame, _ := protocol.AppendFrame(nil, payload)
	c, s := rawConns()
	defer s.Close()
	got := make(chan int)
	go func() {
		fr := protocol.NewFrameReader(s, nil, 0)
		n := 0
		for {
			if _, err := fr.ReadFrame(); err != nil {
				break
			}
			n++
		}
		got <- n
	}()
	bw := bufio.NewWriterSize(c, 32<<10)
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	for time.Now().Before(end) {
		for j := 0; j < 1024; j++ {
			bw.Write(frame)
		}
	}
	bw.Flush()
	c.Close()
	n := <-got
	return float64(n) / time.Since(start).Seconds()
}
