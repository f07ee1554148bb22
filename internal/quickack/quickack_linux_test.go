package quickack

import (
	"net"
	"syscall"
	"testing"

	"github.com/ikcgate/ikcgate/internal/nettest"
)

// What a quick ACK does to a Perl peer is tested where it matters (the
// protocol and gateway delayed-ACK tests). This checks that Conn reaches
// a TCP socket: Linux reads TCP_QUICKACK back as "not in delayed-ACK
// (pingpong) mode", so the test puts the socket in that mode first, by
// setting the option to 0, and sees Conn take it out.
func TestConnTakesATCPSocketOutOfDelayedAckMode(t *testing.T) {
	c, _ := nettest.TCPPair(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	quick := func() int {
		t.Helper()
		var v int
		var gerr error
		rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) })
		if gerr != nil {
			t.Fatalf("reading TCP_QUICKACK: %v", gerr)
		}
		return v
	}
	rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0) })
	if v := quick(); v != 0 {
		t.Fatalf("TCP_QUICKACK = %d after setting 0: cannot tell what Conn does", v)
	}
	Conn(c)
	if v := quick(); v != 1 {
		t.Errorf("TCP_QUICKACK = %d after Conn, want 1", v)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	Conn(a) // not TCP: nothing to do, and no panic
}
