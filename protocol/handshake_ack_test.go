package protocol

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// clientLiteLegacy plays Perl ClientLite's legacy dialogue over conn, as
// ClientLite does it: Nagle on, one write per line, and DONE and FREEZER
// written back to back. It returns how long FREEZER's answer took from
// DONE.
func clientLiteLegacy(t *testing.T, conn *net.TCPConn) time.Duration {
	t.Helper()
	conn.SetNoDelay(false)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	send := func(l string) {
		if _, err := conn.Write([]byte(l + "\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		l = strings.TrimRight(l, "\r\n")
		if !strings.HasPrefix(l, want) {
			t.Fatalf("got %q, want %s...", l, want)
		}
		return l
	}
	send("HELLO")
	for expect("") != "DONE" {
		send("OK")
	}
	send("IAM ClientLiteLike")
	expect("OK")
	start := time.Now()
	send("DONE")
	send("FREEZER Storable")
	expect("OK")
	took := time.Since(start)
	send("WORLD")
	expect("UP")
	return took
}

// Perl's ClientLite writes DONE and FREEZER back to back without
// TCP_NODELAY, so FREEZER waits for DONE's acknowledgement. DONE draws no
// answer to carry one, and Linux delays a lone ACK 40 ms: every legacy
// ClientLite negotiation stalled that long (against Perl's server too)
// until the server acknowledged such lines at once.
func TestAServerAcknowledgesALineThatDrawsNoAnswerAtOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_QUICKACK is Linux's; elsewhere the system's delayed-ACK timing stands")
	}
	checkNoGoroutineLeak(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	errs := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				errs <- nil
				return
			}
			_, _, err = ServerHandshake(context.Background(), c, testServerConfig())
			c.Close()
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	// The delayed ACK is 40 ms at least; an answer from a server that
	// acknowledges at once takes well under a millisecond here. The best
	// of three keeps a loaded machine's scheduling out of the verdict.
	best := time.Hour
	for range 3 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		best = min(best, clientLiteLegacy(t, c.(*net.TCPConn)))
		c.Close()
	}
	l.Close()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if best >= 30*time.Millisecond {
		t.Fatalf("FREEZER's answer came %v after DONE at best: the server left DONE's ACK delayed", best)
	}
}
