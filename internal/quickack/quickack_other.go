//go:build !linux

package quickack

// Supported: only Linux has TCP_QUICKACK.
const Supported = false

// FD does nothing here.
func FD(uintptr) {}
