package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/internal/leaktest"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/perlcompat/storable"
	"github.com/ikcgate/ikcgate/protocol"
)

// syncBuffer is a log sink the test can read while the kernel writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedConfig is testConfig for "Srv" logging at Info into the buffer
// it returns, which the test can read while the kernel writes.
func loggedConfig(t *testing.T) (Config, *syncBuffer) {
	logs := &syncBuffer{}
	cfg := testConfig(t, "Srv")
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "Srv", Level: hclog.Info, Output: logs})
	return cfg, logs
}

func frame(t *testing.T, v perlcompat.Value) []byte {
	t.Helper()
	payload, err := storable.NFreeze(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := protocol.AppendFrame(nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const setupLine = "SETUP KERNEL=Hostile-1,Hostile;FREEZER=Storable;PID=1\r\n"

// TestHostilePeersCloseOnlyTheirOwnChannel sends the server everything
// issue #3 lists: a disconnect mid-negotiation and mid-frame, garbage, an
// oversized frame, a frame whose root is not a hash, a non-hash from, an
// unknown freezer and a stalled negotiation. Each connection gets one
// clear log line and is closed by the kernel; a well-behaved channel
// keeps being served, and nothing is left running.
func TestHostilePeersCloseOnlyTheirOwnChannel(t *testing.T) {
	leaktest.Check(t)
	cfg, logs := loggedConfig(t)
	cfg.Negotiation.Timeout = 300 * time.Millisecond
	cfg.MaxFrameSize = 1 << 20
	srv, addr := newKernel(t, cfg)
	srv.HandleFunc("svc/echo", echo)

	cli, _ := newKernel(t, testConfig(t, "Cli"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	good, err := cli.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}

	hash := perlcompat.NewHash().Set("event", perlcompat.Text("poe://Srv/svc/echo")).Set("params", perlcompat.Int(1))
	notHash := &perlcompat.Array{Elems: []perlcompat.Value{perlcompat.Int(1)}}
	stringFrom := perlcompat.NewHash().Set("event", perlcompat.Text("poe://Srv/svc/echo")).Set("from", perlcompat.Text("not a hash"))
	full := frame(t, hash)

	cases := []struct {
		name string
		send []byte
		want string // in the log line about this connection
	}{
		{"closes mid-negotiation", []byte("SETUP KERNEL=Half"), "negotiation failed"},
		{"stalls the negotiation", nil, "negotiation failed"},
		{"speaks HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP"},
		{"offers an unknown freezer", []byte("SETUP KERNEL=X;FREEZER=Evil::Pkg\r\n"), "negotiation failed"},
		{"sends garbage after SETUP", append([]byte(setupLine), "garbage!"...), "channel closed"},
		{"declares an oversized frame", append([]byte(setupLine), "999999999\x00"...), "frame too large"},
		{"sends a non-hash root", append([]byte(setupLine), frame(t, notHash)...), "not a hash"},
		{"sends a string from", append([]byte(setupLine), frame(t, stringFrom)...), "from is not a hash"},
		{"closes mid-frame", append([]byte(setupLine), full[:len(full)-3]...), "channel closed"},
		{"sends a corrupt Storable image", append([]byte(setupLine), "5\x00\x05\x0b\x7f\x00\x00"...), "storable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := strings.Count(logs.String(), "\n")
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if c.send != nil {
				nc.Write(c.send)
			}
			if c.name == "closes mid-negotiation" || c.name == "closes mid-frame" {
				nc.(*net.TCPConn).CloseWrite()
			}
			// The kernel must close the connection itself.
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("the kernel did not close the connection: %v", err)
			}
			var lines []string
			deadline := time.Now().Add(2 * time.Second)
			for {
				all := strings.Split(strings.TrimRight(logs.String(), "\n"), "\n")
				lines = all[min(before, len(all)):]
				if strings.Contains(strings.Join(lines, "\n"), c.want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(strings.Join(lines, "\n"), c.want) {
				t.Errorf("no log line mentioning %q; got:\n%s", c.want, strings.Join(lines, "\n"))
			}
			// The good channel is still served.
			v, err := good.Call(ctx, "svc/echo", c.name)
			if err != nil || v != perlcompat.Text(c.name) {
				t.Fatalf("good channel after %s: %v, %v", c.name, v, err)
			}
		})
	}
}

// TestSlowConsumerHitsTheSendQueueBound checks both queue policies with a
// peer that negotiates and then never reads.
func TestSlowConsumerHitsTheSendQueueBound(t *testing.T) {
	for _, policy := range []QueueFullPolicy{QueueBlock, QueueDisconnect} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			leaktest.Check(t)
			cfg := testConfig(t, "Srv")
			cfg.SendQueue = 4
			cfg.QueueFull = policy
			srv, addr := newKernel(t, cfg)
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write([]byte(setupLine))
			lr := protocol.NewLineReader(nc, 1024)
			if _, err := lr.ReadLine(); err != nil {
				t.Fatal(err)
			}
			for srv.lookup("Hostile") == nil { // registered just after the SETUP reply
				time.Sleep(5 * time.Millisecond)
			}
			// Big posts fill the socket buffers, then the queue.
			big := strings.Repeat("x", 256<<10)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var sendErr error
			for i := 0; i < 200 && sendErr == nil; i++ {
				sendErr = srv.Post(ctx, "Hostile/svc/x", big)
			}
			switch policy {
			case QueueBlock:
				if sendErr != context.DeadlineExceeded {
					t.Errorf("blocked sender got %v, want the context's deadline", sendErr)
				}
			case QueueDisconnect:
				if sendErr == nil || !strings.Contains(sendErr.Error(), "queue full") && !strings.Contains(sendErr.Error(), "disconnected") {
					t.Errorf("got %v, want the queue-full disconnect", sendErr)
				}
			}
		})
	}
}

// TestNegotiationAbuseIsBoundedAndLogged covers issue #6's negotiation
// abuse: a 1 MB line, 10,000 freezers offered, and a freezer outside the
// allow-list (the Data::Dumper one is off unless configured). Each ends
// in bounded time with a log line and the connection closed by the
// kernel; nothing a peer offers is ever loaded.
func TestNegotiationAbuseIsBoundedAndLogged(t *testing.T) {
	leaktest.Check(t)
	cfg, logs := loggedConfig(t)
	cfg.Negotiation.Timeout = 2 * time.Second
	_, addr := newKernel(t, cfg)

	var many strings.Builder
	many.WriteString("SETUP KERNEL=Abuser;FREEZER=")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, "F%d", i) // short names: under the line limit, over the freezer limit
	}
	many.WriteString("\r\n")
	cases := []struct {
		name, send, want string
	}{
		{"a 1 MB line", "SETUP KERNEL=" + strings.Repeat("x", 1<<20) + "\r\n", "too long"},
		{"10,000 freezers", many.String(), "limit"},
		{"only the Data::Dumper freezer", "SETUP KERNEL=X;FREEZER=POE::Component::IKC::Freezer\r\nSETUP KERNEL=X;FREEZER=POE::Component::IKC::Freezer\r\n", "negotiation failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(logs.String())
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			start := time.Now()
			go nc.Write([]byte(c.send)) // the kernel may close before reading it all
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("the kernel did not close the connection: %v", err)
			}
			if strings.Contains(string(got), "SETUP KERNEL=") {
				t.Errorf("the kernel agreed to a freezer: %q", got)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v", d)
			}
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(logs.String()[before:], c.want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(logs.String()[before:], c.want) {
				t.Errorf("no log line with %q:\n%s", c.want, logs.String()[before:])
			}
		})
	}
}

// Requests a peer sent before a bad frame are still served, as Perl
// serves what it read before dying: the bad frame loses only itself.
func TestRequestsBeforeABadFrameAreServed(t *testing.T) {
	leaktest.Check(t)
	cfg, logs := loggedConfig(t)
	srv, addr := newKernel(t, cfg)
	release := make(chan struct{})
	var served sync.WaitGroup
	served.Add(3)
	srv.HandleFunc("svc/slow", func(context.Context, *Request) (perlcompat.Value, error) {
		<-release // keeps the next posts queued when the bad frame arrives
		served.Done()
		return nil, nil
	})
	srv.HandleFunc("svc/count", func(context.Context, *Request) (perlcompat.Value, error) {
		served.Done()
		return nil, nil
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte(setupLine))
	if _, err := protocol.NewLineReader(nc, 4096).ReadLine(); err != nil {
		t.Fatal(err)
	}
	post := func(state string) []byte {
		return frame(t, perlcompat.NewHash().Set("event", perlcompat.Text("poe://Srv/svc/"+state)))
	}
	var buf []byte
	buf = append(buf, post("slow")...)
	buf = append(buf, post("count")...)
	buf = append(buf, post("count")...)
	buf = append(buf, "garbage!"...)
	nc.Write(buf)
	time.Sleep(100 * time.Millisecond) // the reader meets the garbage first
	close(release)
	done := make(chan struct{})
	go func() { served.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("requests read before the bad frame were dropped")
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("channel not closed: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "channel closed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "frame") {
		t.Errorf("the bad frame was not logged:\n%s", logs.String())
	}
}

// TestInlineWriteTheSocketCannotTakeIsFinishedFirst: a call is written on
// its caller's goroutine; when the peer's socket takes only part of it,
// the writer finishes that frame before any frame queued after it, so the
// peer reads every frame whole and in order.
func TestInlineWriteTheSocketCannotTakeIsFinishedFirst(t *testing.T) {
	leaktest.Check(t)
	srv, addr := newKernel(t, testConfig(t, "Srv"))
	p := dialRaw(t, addr, "Hostile")
	p.fr = protocol.NewFrameReader(p.nc, p.fr.Buffered(), 64<<20)
	waitRegistered(srv, "Hostile")

	// Nobody reads yet: the 8 MB call fills the socket buffers.
	big := strings.Repeat("c", 8<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callDone := make(chan error, 1)
	go func() { _, err := srv.Call(ctx, "Hostile/svc/big", big); callDone <- err }()
	ch := srv.lookup("Hostile")
	for ch.queued.Load() == 0 { // the socket took part; the writer has the rest
		select {
		case err := <-callDone:
			t.Fatalf("call returned before the peer read anything: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	const posts = 50
	for i := 0; i < posts; i++ {
		if err := srv.Post(ctx, "Hostile/svc/seq", i); err != nil {
			t.Fatal(err)
		}
	}

	call := p.read()
	if got := call.Target().State; got != "big" {
		t.Fatalf("first frame is for %q, want the call", got)
	}
	if args, _ := call.Args(); len(args) != 1 || args[0].(perlcompat.Str).S != big {
		t.Fatal("the call's argument did not arrive whole")
	}
	for i := 0; i < posts; i++ {
		r := p.read()
		args, _ := r.Args()
		if n, err := perlcompat.AsInt(args[0]); r.Target().State != "seq" || err != nil || n != int64(i) {
			t.Fatalf("frame %d after the call: %s %v, want seq %d", i, r.Target().State, args, i)
		}
	}
	p.write(replyTo(t, call, perlcompat.Text("ok")))
	if err := <-callDone; err != nil {
		t.Fatal(err)
	}
}
