package daemon

import (
	"context"
	"net"
	"syscall"
	"testing"
)

func TestAcceptedConnectionsInheritTheListenersKeepalive(t *testing.T) {
	lc := listenConfig()
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rc, err := a.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveIdle},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
		{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
	} {
		var got int
		var gerr error
		if err := rc.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), o.level, o.opt) }); err != nil {
			t.Fatal(err)
		}
		if gerr != nil {
			t.Fatalf("%s: %v", o.name, gerr)
		}
		if got != o.want {
			t.Errorf("accepted connection's %s = %d, want %d", o.name, got, o.want)
		}
	}
}

func TestUnixListenersTakeNoTCPOptions(t *testing.T) {
	lc := listenConfig()
	l, err := lc.Listen(context.Background(), "unix", t.TempDir()+"/k.sock")
	if err != nil {
		t.Fatalf("listening on a unix socket: %v", err)
	}
	l.Close()
}
