package daemon

import (
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/ikcgate/ikcgate/internal/nettest"
)

// TestAcceptedConnectionsInheritTheListenersKeepalive opens the daemon's
// listeners as Run does and checks a connection it accepts.
func TestAcceptedConnectionsInheritTheListenersKeepalive(t *testing.T) {
	src := strings.Replace(testConfigHCL, `listen = ["tcp 127.0.0.1:0"]`, `listen = ["tcp 127.0.0.1:0", "unix:`+t.TempDir()+`/k.sock"]`, 1)
	cfg, err := ParseConfig("test.hcl", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: testLogger(t, "ikcgate")})
	if err != nil {
		t.Fatal(err)
	}
	lns, err := d.listen(cfg)
	if err != nil {
		t.Fatalf("listening on TCP and unix: %v", err)
	}
	for _, l := range lns {
		defer l.Close()
	}
	if len(lns) != 2 || lns[1].Addr().Network() != "unix" {
		t.Fatalf("listeners %v, want a TCP and a unix one", lns)
	}
	l := lns[0]
	// Set on the listening socket itself (Go's own listener leaves it
	// off there and sets it per accepted connection instead).
	lrc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var gerr error
	if err := lrc.Control(func(fd uintptr) { on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if on != 1 {
		t.Errorf("listening socket's SO_KEEPALIVE = %d, want 1", on)
	}
	_, a := nettest.Pair(t, l)
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
