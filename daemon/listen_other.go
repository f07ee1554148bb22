//go:build !linux

package daemon

import "net"

// listenConfig is Go's default: keepalive set on each accepted connection.
func listenConfig() net.ListenConfig { return net.ListenConfig{} }
