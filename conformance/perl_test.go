package conformance

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests in this package talk to real Perl. Perl with Storable,
// POE::Filter::Reference, B, Digest::MD5 and Scalar::Util must be
// installed; without it they fail, unless IKCGATE_NO_PERL=1 is set, which
// makes them skip.

var (
	perlOnce    sync.Once
	perlErr     error
	perlVersion string
)

const perlModules = "-MStorable -MPOE::Filter::Reference -MB -MDigest::MD5 -MScalar::Util -MIO::Socket::INET"

// requirePerl fails (or with IKCGATE_NO_PERL=1 skips) the test when the
// Perl side is unavailable.
func requirePerl(t testing.TB) {
	t.Helper()
	if os.Getenv("IKCGATE_NO_PERL") == "1" {
		t.Skip("IKCGATE_NO_PERL=1: skipping the comparison with real Perl")
	}
	perlOnce.Do(func() {
		args := append(strings.Fields(perlModules), "-e",
			`print "perl $^V, Storable $Storable::VERSION, POE::Filter::Reference $POE::Filter::Reference::VERSION"`)
		out, err := exec.Command("perl", args...).CombinedOutput()
		if err != nil {
			perlErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
			return
		}
		perlVersion = string(out)
	})
	if perlErr != nil {
		t.Fatalf("these tests need perl with Storable, POE::Filter::Reference, B, Digest::MD5, Scalar::Util and IO::Socket::INET "+
			"(set IKCGATE_NO_PERL=1 to skip them): %v", perlErr)
	}
	if !strings.Contains(perlVersion, "Storable 3.26") {
		t.Logf("warning: the reference is Storable 3.26; found %s", perlVersion)
	}
}

// perlScript returns the absolute path of a script in conformance/perl.
func perlScript(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("perl", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// perlProc is a running Perl helper. It is killed and reaped when the test
// ends, whatever happened.
type perlProc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Stdout *bufio.Reader
	stderr *lockedBuffer

	waitOnce sync.Once
	waitErr  error
	watchdog *time.Timer
}

// perlTimeout bounds every Perl helper: a hung one is killed so that the
// test fails instead of hanging.
const perlTimeout = 3 * time.Minute

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // keep the head only
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPerl runs perl SCRIPT ARGS... with pipes on stdin and stdout. env
// entries are added to the environment.
func startPerl(t testing.TB, env []string, script string, args ...string) *perlProc {
	t.Helper()
	requirePerl(t)
	cmd := exec.Command("perl", append([]string{perlScript(t, script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &perlProc{t: t, name: script + " " + strings.Join(args, " "), cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	cmd.WaitDelay = 5 * time.Second
	var err error
	if p.Stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Stdout = bufio.NewReaderSize(out, 1<<20)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting perl %s: %v", p.name, err)
	}
	p.watchdog = time.AfterFunc(perlTimeout, func() {
		p.stderr.Write([]byte("\n[killed by the test's watchdog after " + perlTimeout.String() + "]\n"))
		_ = cmd.Process.Kill()
	})
	t.Cleanup(func() {
		p.watchdog.Stop()
		_ = p.Stdin.Close()
		_ = cmd.Process.Kill() // harmless once it has exited
		_ = p.Wait()
	})
	return p
}

// Wait reaps the process (once) and returns its exit error with stderr.
func (p *perlProc) Wait() error {
	p.waitOnce.Do(func() {
		if err := p.cmd.Wait(); err != nil {
			p.waitErr = fmt.Errorf("perl %s: %v; stderr:\n%s", p.name, err, p.Stderr())
		}
	})
	return p.waitErr
}

// Stderr returns what the process wrote on stderr so far (head only).
func (p *perlProc) Stderr() string { return p.stderr.String() }

// checkItem is one value for check.pl: an image and what Perl must see.
type checkItem struct {
	ID   int    `json:"id"`
	Hex  string `json:"hex"`
	Desc string `json:"desc"`
}

// checkResult is one line of check.pl output.
type checkResult struct {
	ID         *int    `json:"id"`
	Error      string  `json:"error"`
	Got        *string `json:"got"`
	Done       *int    `json:"done"`
	Mismatches *int    `json:"mismatches"`
}

// perlCheck sends images to check.pl and returns its mismatch reports
// (keyed by item ID). It fails the test if check.pl does not read every
// item.
func perlCheck(t testing.TB, items func(yield func(checkItem) bool)) map[int]checkResult {
	t.Helper()
	p := startPerl(t, nil, "check.pl")
	sent := make(chan int, 1)
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(p.Stdin, 1<<20)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		n := 0
		var err error
		items(func(it checkItem) bool {
			if err = enc.Encode(it); err != nil {
				return false
			}
			n++
			return true
		})
		if err == nil {
			err = w.Flush()
		}
		if cerr := p.Stdin.Close(); err == nil {
			err = cerr
		}
		sent <- n
		writeErr <- err
	}()
	bad := map[int]checkResult{}
	dec := json.NewDecoder(p.Stdout)
	var done *checkResult
	for {
		var r checkResult
		if err := dec.Decode(&r); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("reading check.pl output: %v; stderr:\n%s", err, p.Stderr())
		}
		if r.Done != nil {
			done = &r
			continue
		}
		if r.ID == nil {
			t.Fatalf("check.pl wrote an unexpected line %+v", r)
		}
		bad[*r.ID] = r
	}
	n := <-sent
	if err := <-writeErr; err != nil {
		t.Fatalf("writing to check.pl: %v; stderr:\n%s", err, p.Stderr())
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if done == nil {
		t.Fatalf("check.pl ended without its summary line; stderr:\n%s", p.Stderr())
	}
	if *done.Done != n {
		t.Fatalf("check.pl read %d values, %d were sent", *done.Done, n)
	}
	if *done.Mismatches != len(bad) {
		t.Fatalf("check.pl counted %d mismatches but reported %d", *done.Mismatches, len(bad))
	}
	return bad
}

// mismatchLog collects failures and prints the first few in full.
type mismatchLog struct {
	t     testing.TB
	max   int
	count int
}

func (m *mismatchLog) add(format string, args ...any) {
	m.t.Helper()
	m.count++
	if m.count <= m.max {
		m.t.Errorf(format, args...)
	}
}

func (m *mismatchLog) finish(what string, total int) {
	m.t.Helper()
	if m.count > m.max {
		m.t.Errorf("... %d more mismatches not shown", m.count-m.max)
	}
	if m.count > 0 {
		m.t.Errorf("%s: %d of %d failed", what, m.count, total)
	}
}

// lazy is text computed only when formatted (%s), so that diffs are made
// only for the failures that get printed.
type lazy func() string

func (l lazy) String() string { return l() }

// descDiff returns a readable diff of two descriptions (one node per
// line), computed only when called: pass it to mismatchLog.add.
func descDiff(want, got string) lazy {
	return func() string { return cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")) }
}

// shortHex abbreviates a long image for failure messages.
func shortHex(b []byte) lazy {
	return func() string { return shortHexNow(b) }
}

func shortHexNow(b []byte) string {
	const max = 512
	if len(b) <= max {
		return hex.EncodeToString(b)
	}
	return hex.EncodeToString(b[:max]) + fmt.Sprintf("... (%d bytes)", len(b))
}
