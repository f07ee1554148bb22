// Package quickack sends the ACK of what a TCP connection has received at
// once, instead of after Linux's delayed-ACK timer (40 ms and up).
//
// Perl's sockets run with Nagle on: a Perl peer that wrote something we
// do not answer (a legacy client's DONE, a post) holds its next write
// until that is acknowledged, and with no answer of ours to carry the ACK
// Linux waits for the timer. The negotiation (protocol) and a channel's
// reader (gateway) acknowledge such input at once. Elsewhere than on
// Linux TCP this package does nothing.
package quickack

import "net"

// Conn acknowledges what c has received, when c is a *net.TCPConn.
func Conn(c any) {
	tc, ok := c.(*net.TCPConn)
	if !ok || !Supported {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(FD)
}
