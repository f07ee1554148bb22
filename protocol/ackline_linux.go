package protocol

import (
	"net"
	"syscall"
)

// ackNow makes the kernel acknowledge what conn has received at once
// (TCP_QUICKACK; a no-op on other connections). See handshake.
func ackNow(conn any) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
