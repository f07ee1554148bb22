package quickack

import (
	"syscall"
	"unsafe"
)

// Supported: Linux has TCP_QUICKACK.
const Supported = true

// FD acknowledges what the TCP socket fd has received. It goes through
// RawSyscall: a channel's reader calls it inside a non-blocking read
// callback, where the runtime's blocking-syscall bookkeeping would only
// wake its sysmon thread.
func FD(fd uintptr) {
	one := int32(1)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK,
		uintptr(unsafe.Pointer(&one)), unsafe.Sizeof(one), 0)
}
