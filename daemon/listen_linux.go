package daemon

import (
	"net"
	"syscall"
)

// TCP keepalive on accepted connections, as Go sets it by default: probes
// after 15 s idle, every 15 s, 9 of them.
const (
	keepAliveIdle  = 15
	keepAliveCount = 9
)

// listenConfig sets TCP keepalive on the listening socket, where Linux
// copies it to every accepted one, instead of Go setting it on each
// accepted connection: four setsockopt calls per connection, 3% of the
// server's CPU per connect-negotiate-close cycle. The settings are Go's
// defaults (15 s idle, 15 s between probes, 9 probes).
func listenConfig() net.ListenConfig {
	return net.ListenConfig{
		KeepAlive: -1, // not per connection: inherited from the listener
		Control: func(network, _ string, c syscall.RawConn) error {
			if network != "tcp" && network != "tcp4" && network != "tcp6" {
				return nil
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				for _, o := range [...]struct{ level, opt, v int }{
					{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveIdle},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
				} {
					if serr = syscall.SetsockoptInt(int(fd), o.level, o.opt, o.v); serr != nil {
						return
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
}
