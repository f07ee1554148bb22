package gateway

import (
	"syscall"
	"unsafe"
)

// canQuickAck: Linux has TCP_QUICKACK.
const canQuickAck = true

// quickAck sends the ACK of what fd has received now instead of after
// Linux's delayed-ACK timer (40 ms and up). Through RawSyscall, as rawIO.
func quickAck(fd uintptr) {
	one := int32(1)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK,
		uintptr(unsafe.Pointer(&one)), unsafe.Sizeof(one), 0)
}
