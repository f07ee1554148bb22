package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// TestIkcgateRestartUnderLoad restarts the real ikcgate binary on the same
// port while Go clients (on a reconnecting gateway.Link) and, when
// POE::Component::IKC is installed, real Perl IKC clients are calling it.
// Perl clients must see a clean disconnect (they notice the close and
// exit 0, none dies); Go calls during the gap fail cleanly and within
// their deadline, and once the new process is up the Go side's traffic
// resumes by itself.
func TestIkcgateRestartUnderLoad(t *testing.T) {
	bin := e2eBuild(t, "cmd/ikcgate")
	port := freePort(t)
	cfgFile := filepath.Join(t.TempDir(), "ikcgate.hcl")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
kernel {
  name = "gw"
}
listen   = ["tcp 127.0.0.1:%d"]
freezers = ["Storable"]
drain_timeout = "5s"
route "demo/*" {
  kind    = "go"
  handler = "demo"
}
logging {
  level = "warn"
}
`, port)), 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-config", cfgFile)
		cmd.Env = e2eEnv()
		cmd.Stderr = logWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close() // a bare connect-close is harmless to ikcgate
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatal("ikcgate did not listen")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("ikcgate exited with %v", err)
		}
	}
	first := start()

	cfg := gateway.DefaultConfig()
	cfg.Name = "GoLoad"
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: logWriter{t}})
	k, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Shutdown(context.Background())
	link := k.Connect("tcp", addr, gateway.LinkOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	defer link.Close()

	var perl []*perlPeer
	if exec.Command("perl", "-MPOE::Component::IKC::Client", "-e1").Run() == nil {
		for i := 0; i < 4; i++ {
			perl = append(perl, startIKCPeer(t, "e2e_caller.pl", "--port", fmt.Sprint(port), "--server", "gw",
				"--state", "demo/sleep", "--ms", "50", "--depth", "2", "--name", fmt.Sprintf("Restart%d", i), "--timeout", "60"))
		}
	} else {
		t.Log("POE::Component::IKC is not in @INC: Go clients only")
	}

	var ok, failed atomic.Int64
	var lastOK atomic.Int64 // unix nanos of the last success
	loadCtx, stopLoad := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; loadCtx.Err() == nil; i++ {
			c, cancel := context.WithTimeout(loadCtx, 2*time.Second)
			p, err := link.Peer(c)
			if err == nil {
				var v perlcompat.Value
				v, err = p.Call(c, "demo/echo", i)
				if err == nil && v != perlcompat.Int(int64(i)) {
					err = fmt.Errorf("wrong reply %v", v)
				}
			}
			cancel()
			if err == nil {
				ok.Add(1)
				lastOK.Store(time.Now().UnixNano())
			} else if loadCtx.Err() == nil {
				failed.Add(1)
				var re *gateway.RemoteError
				if !errors.Is(err, gateway.ErrDisconnected) && !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &re) && !errors.Is(err, gateway.ErrNoReply) {
					t.Errorf("call %d failed uncleanly: %v", i, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()

	time.Sleep(time.Second)
	before := ok.Load()
	if before == 0 {
		t.Fatal("no Go call succeeded before the restart")
	}
	stop(first)
	restarted := time.Now()
	second := start()
	deadline := time.Now().Add(20 * time.Second)
	for time.Unix(0, lastOK.Load()).Before(restarted) {
		if time.Now().After(deadline) {
			t.Fatalf("Go traffic did not resume after the restart (%d ok before, %d failed)", before, failed.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stopLoad()
	<-done
	t.Logf("Go calls: %d ok (%d before the restart), %d failed cleanly during the gap", ok.Load(), before, failed.Load())

	for i, p := range perl {
		ev := p.wait(30 * time.Second)
		if len(findEvents(ev, "closed")) == 0 || len(findEvents(ev, "reply")) == 0 {
			t.Errorf("Perl client %d: no clean disconnect after replies: %v\n%s", i, ev, p.stderr.String())
		}
	}
	stop(second)
}
