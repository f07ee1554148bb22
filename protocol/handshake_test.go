package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// checkNoGoroutineLeak fails the test if goroutines started during it are
// still running at its end.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines before, %d after", before, n)
		}
	})
}

// recordingConn records every Write so tests can check line atomicity.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func TestHandshakesAgreeOverAConnectionAndWriteWholeLines(t *testing.T) {
	checkNoGoroutineLeak(t)
	for _, serverLegacy := range []bool{false, true} {
		a, b := net.Pipe()
		cc, sc := &recordingConn{Conn: a}, &recordingConn{Conn: b}
		scfg := testServerConfig()
		scfg.LegacyOnly = serverLegacy
		type out struct {
			res Result
			err error
		}
		done := make(chan out, 1)
		go func() {
			r, _, err := ServerHandshake(context.Background(), sc, scfg)
			done <- out{r, err}
		}()
		cr, left, err := ClientHandshake(context.Background(), cc, testClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		so := <-done
		if so.err != nil {
			t.Fatal(so.err)
		}
		if len(left) != 0 || cr.Freezer != "Storable" || so.res.Freezer != "Storable" || cr.FellBack != serverLegacy {
			t.Fatalf("legacy=%v: client %+v server %+v leftover %q", serverLegacy, cr, so.res, left)
		}
		for _, w := range append(cc.writes, sc.writes...) {
			if !strings.HasSuffix(w, "\r\n") || strings.Count(w, "\r\n") != strings.Count(w, "\n") {
				t.Errorf("write %q is not whole CRLF lines", w)
			}
		}
		a.Close()
		b.Close()
	}
}

// scriptedPeer plays the other side over a pipe: it writes each chunk and
// reads in the background so our writes never block.
func scriptedPeer(t *testing.T, chunks ...string) net.Conn {
	t.Helper()
	ours, theirs := net.Pipe()
	go io.Copy(io.Discard, theirs)
	go func() {
		for _, c := range chunks {
			if _, err := theirs.Write([]byte(c)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	return ours
}

func TestServerHandshakeReturnsAFrameThatSharedTheSetupRead(t *testing.T) {
	checkNoGoroutineLeak(t)
	frame := "16\x00\x05\x0b\x03\x00\x00\x00\x01\x0a\x02hi\x00\x00\x00\x05event"
	conn := scriptedPeer(t, "SETUP KERNEL=Go;FREEZER=Storable;PID=3\r\n"+frame)
	res, left, err := ServerHandshake(context.Background(), conn, testServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if string(left) != frame {
		t.Fatalf("leftover %q, want the frame %q", left, frame)
	}
	if d := cmp.Diff(Result{Dialogue: DialogueIKC0, Freezer: "Storable", PeerKernelID: "Go", PeerNames: []string{"Go"}, PeerPID: 3, PeerHasPID: true}, res); d != "" {
		t.Fatal(d)
	}
}

func TestClientHandshakeReturnsFramesThatFollowUpInTheSameRead(t *testing.T) {
	checkNoGoroutineLeak(t)
	frame := "3\x00abc5\x00defgh"
	conn := scriptedPeer(t, "NOT\r\n", "IAM S\r\nDONE\r\n", "OK\r\nOK\r\nOK\r\nOK\r\n", "OK\r\n", "UP\r\n"+frame)
	res, left, err := ClientHandshake(context.Background(), conn, testClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	if string(left) != frame || !res.FellBack || res.Dialogue != DialogueLegacy {
		t.Fatalf("result %+v leftover %q", res, left)
	}
}

func TestClientHandshakeTimesOutOnASilentServerAndClearsTheDeadline(t *testing.T) {
	checkNoGoroutineLeak(t)
	ours, theirs := net.Pipe()
	defer ours.Close()
	defer theirs.Close()
	go io.Copy(io.Discard, theirs) // swallow our SETUP, never answer
	cfg := testClientConfig()
	cfg.Limits.Timeout = 100 * time.Millisecond
	start := time.Now()
	_, _, err := ClientHandshake(context.Background(), ours, cfg)
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("err %v, want ErrHandshakeTimeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
	// The deadline we set is gone: the connection is usable again.
	go theirs.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := ours.Read(buf); err != nil {
		t.Fatalf("read after the handshake: %v", err)
	}
}

func TestHandshakeStopsWhenTheContextIsCancelled(t *testing.T) {
	checkNoGoroutineLeak(t)
	ours, theirs := net.Pipe()
	defer ours.Close()
	defer theirs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err := ServerHandshake(ctx, ours, testServerConfig()) // client never speaks
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// plainRW has no SetDeadline: cancellation is only seen between reads.
type plainRW struct {
	io.Reader
	io.Writer
}

func TestHandshakeWithoutDeadlinesChecksTheContextBetweenReads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rw := plainRW{strings.NewReader("HELLO\r\n"), io.Discard}
	if _, _, err := ServerHandshake(ctx, rw, testServerConfig()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	var out bytes.Buffer
	rw = plainRW{strings.NewReader("SETUP KERNEL=a;FREEZER=Storable\r\n"), &out}
	if _, _, err := ServerHandshake(context.Background(), rw, testServerConfig()); err != nil {
		t.Fatal(err)
	}
	if out.String() != serverSetupReply+"\r\n" {
		t.Fatalf("wrote %q", out.String())
	}
}

func TestHandshakeReportsAPeerThatClosesMidNegotiation(t *testing.T) {
	rw := plainRW{strings.NewReader("HELLO\r\nOK\r\n"), io.Discard}
	_, _, err := ServerHandshake(context.Background(), rw, testServerConfig())
	if !errors.Is(err, ErrPeerClosed) || !strings.Contains(err.Error(), "S001") {
		t.Fatalf("err %v, want ErrPeerClosed in S001", err)
	}
}

func TestServerHandshakeRejectsAnHTTPClient(t *testing.T) {
	rw := plainRW{strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), io.Discard}
	_, _, err := ServerHandshake(context.Background(), rw, testServerConfig())
	if !errors.Is(err, ErrNotIKC) {
		t.Fatalf("err %v, want ErrNotIKC", err)
	}
}

func TestHandshakeRefusesAnInvalidConfigBeforeTouchingTheConnection(t *testing.T) {
	var out bytes.Buffer
	_, _, err := ClientHandshake(context.Background(), plainRW{strings.NewReader(""), &out}, ClientConfig{})
	if !errors.Is(err, ErrInvalidConfig) || out.Len() != 0 {
		t.Fatalf("err %v, wrote %q", err, out.String())
	}
}

// The read buffer goes back to a pool when a negotiation ends: what it
// returned past the last line must not be overwritten by the next ones.
func TestLeftoverSurvivesTheNegotiationsThatReuseTheReadBuffer(t *testing.T) {
	checkNoGoroutineLeak(t)
	var kept []string
	var lefts [][]byte
	for i := 0; i < 20; i++ {
		frame := fmt.Sprintf("%d\x00%s", 10, strings.Repeat(string(rune('a'+i)), 10))
		conn := scriptedPeer(t, "SETUP KERNEL=Go;FREEZER=Storable;PID=3\r\n"+frame)
		_, left, err := ServerHandshake(context.Background(), conn, testServerConfig())
		if err != nil {
			t.Fatal(err)
		}
		kept, lefts = append(kept, frame), append(lefts, left)
	}
	for i := range kept {
		if string(lefts[i]) != kept[i] {
			t.Fatalf("negotiation %d: leftover now %q, want %q", i, lefts[i], kept[i])
		}
	}
}
