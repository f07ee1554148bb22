// Package nettest gives tests connected loopback TCP connections, for
// the tests that look at real sockets (options, acknowledgements).
package nettest

import (
	"net"
	"testing"
)

// Pair dials l and accepts that connection: the dialled end and the
// accepted one, both closed when the test ends.
func Pair(t testing.TB, l net.Listener) (dialled, accepted net.Conn) {
	t.Helper()
	d, err := net.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return d, a
}

// TCPPair is Pair on a loopback listener of its own, closed at once.
func TCPPair(t testing.TB) (dialled, accepted *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, a := Pair(t, l)
	return d.(*net.TCPConn), a.(*net.TCPConn)
}
