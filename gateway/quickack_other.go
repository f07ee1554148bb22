//go:build !linux

package gateway

// canQuickAck: elsewhere acknowledgements keep the system's own timing.
const canQuickAck = false

func quickAck(uintptr) {}
