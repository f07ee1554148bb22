package gateway

// Benchmarks of the kernel over loopback TCP, Go to Go, next to a raw framed
// ping-pong and stream of the same frame size: the ceiling the kernel is
// measured against (issue 5, row 9). scripts/bench runs them; by hand:
//
//	go test -run '^$' -bench 'Post|Call|Raw' -benchmem ./gateway/
//	go test -run '^$' -bench CallSequential -cpuprofile /tmp/cpu.out ./gateway/

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// benchPair starts a server kernel "srv" publishing svc/echo and svc/count
// and a client kernel dialled to it; count is the number of posts served.
func benchPair(b *testing.B) (peer *Peer, count *atomic.Int64) {
	b.Helper()
	count = new(atomic.Int64)
	srv, err := New(quietConfig("srv"))
	if err != nil {
		b.Fatal(err)
	}
	srv.HandleFunc("svc/echo", echo)
	srv.HandleFunc("svc/count", func(context.Context, *Request) (perlcompat.Value, error) {
		count.Add(1)
		return nil, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	cli, err := New(quietConfig("cli"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, err = cli.Dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli.Shutdown(ctx)
		srv.Shutdown(ctx)
	})
	return peer, count
}

func quietConfig(name string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Logger = hclog.NewNullLogger()
	cfg.CallTimeout = 30 * time.Second
	return cfg
}

// benchKernel is a quiet kernel shut down after the benchmark.
func benchKernel(b *testing.B, name string) *Kernel {
	k, err := New(quietConfig(name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.Shutdown(ctx)
	})
	return k
}

// benchArg is the argument of every message: a short string, so that the
// frame is about the size of a small real request (about 110 bytes).
var benchArg = perlcompat.Text("hello, ikc")

// BenchmarkPost: one client posting as fast as it can; an op ends when the
// server's handler has run for every post.
func BenchmarkPost(b *testing.B) {
	peer, count := benchPair(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := peer.Post(ctx, "svc/count", benchArg); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for count.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d posts served", count.Load(), b.N)
		}
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkCallSequential: one call at a time, each waiting for its reply.
func BenchmarkCallSequential(b *testing.B) {
	peer, _ := benchPair(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := peer.Call(ctx, "svc/echo", benchArg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkCallPipelined64: 64 calls in flight on one channel at all times.
func BenchmarkCallPipelined64(b *testing.B) {
	peer, _ := benchPair(b)
	ctx := context.Background()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := peer.Call(ctx, "svc/echo", benchArg); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkGoPipelined64: 64 calls in flight on one channel at all times,
// from one goroutine with Peer.Go.
func BenchmarkGoPipelined64(b *testing.B) {
	benchGoPipelined64(b, context.Background())
}

// BenchmarkGoPipelined64Deadline: the same calls under one context with a
// deadline, which every call's answer must be watched against.
func BenchmarkGoPipelined64Deadline(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	benchGoPipelined64(b, ctx)
}

func benchGoPipelined64(b *testing.B, ctx context.Context) {
	peer, _ := benchPair(b)
	done := make(chan *AsyncCall, 64)
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for ; sent < 64 && sent < b.N; sent++ {
		peer.Go(ctx, "svc/echo", benchArg, done)
	}
	for got := 0; got < b.N; got++ {
		if c := <-done; c.Err != nil {
			b.Fatal(c.Err)
		}
		if sent < b.N {
			peer.Go(ctx, "svc/echo", benchArg, done)
			sent++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// rawFrame is a Storable call frame of the kernel's benchmarks, so that
// the raw ping-pong moves the same bytes per message.
func rawFrame(b *testing.B) []byte {
	b.Helper()
	msg := protocol.NewPost(protocol.Specifier{Kernel: "srv", Session: "svc", State: "echo"}, perlcompat.NewArray(benchArg))
	rsvp := protocol.Specifier{Kernel: "cli-host-1-1", Session: rsvpSession, State: rsvpPrefix + "1"}
	msg.Rsvp = &rsvp
	msg.RsvpValue = rsvp.Value()
	payload, err := defaultStorable().Freeze(nil, msg.Value())
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// rawPair is two ends of a loopback TCP connection.
func rawPair(b *testing.B) (client, server net.Conn) {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// BenchmarkRawFramedPingPong: the floor under a sequential call. A frame
// the size of a call goes out, the server reads it as a frame and writes it
// back, the client reads the frame. No freezing, no kernel.
func BenchmarkRawFramedPingPong(b *testing.B) {
	payload := rawFrame(b)
	client, server := rawPair(b)
	go func() {
		fr := protocol.NewFrameReader(server, nil, 0)
		fw := protocol.NewFrameWriter(server, 0)
		for {
			p, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if fw.WriteFrame(p) != nil {
				return
			}
		}
	}()
	fr := protocol.NewFrameReader(client, nil, 0)
	fw := protocol.NewFrameWriter(client, 0)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := fw.WriteFrame(payload); err != nil {
			b.Fatal(err)
		}
		if _, err := fr.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRawFramedStream: the floor under posts. Frames the size of a
// call written through a 32 KB buffer, read and counted as frames on the
// other side.
func BenchmarkRawFramedStream(b *testing.B) {
	payload := rawFrame(b)
	client, server := rawPair(b)
	done := make(chan int)
	n := b.N
	go func() {
		fr := protocol.NewFrameReader(server, nil, 0)
		got := 0
		for got < n {
			if _, err := fr.ReadFrame(); err != nil {
				break
			}
			got++
		}
		done <- got
		io.Copy(io.Discard, server)
	}()
	frame, _ := protocol.AppendFrame(nil, payload)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	buf := make([]byte, 0, 32<<10)
	for i := 0; i < b.N; i++ {
		if len(buf)+len(frame) > cap(buf) {
			if _, err := client.Write(buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
		buf = append(buf, frame...)
	}
	if _, err := client.Write(buf); err != nil {
		b.Fatal(err)
	}
	if got := <-done; got != n {
		b.Fatalf("read %d of %d frames", got, n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkConnectNegotiateClose is row 6 of scripts/bench in-process: a
// Go kernel dials, negotiates IKC0 and closes, over loopback.
func BenchmarkConnectNegotiateClose(b *testing.B) {
	srv := benchKernel(b, "Srv")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	cli := benchKernel(b, "Cli")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := cli.Dial(ctx, "tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkUpstreamCallSequential is row 8 between Go kernels: a client
// calls through a gateway kernel whose route is an Upstream to the
// server. Compare with BenchmarkCallSequential for the gateway's cost.
func BenchmarkUpstreamCallSequential(b *testing.B) {
	srv := benchKernel(b, "srv")
	srv.HandleFunc("svc/echo", echo)
	ls, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ls)
	gw := benchKernel(b, "gw")
	u := gw.NewUpstream("tcp", ls.Addr().String(), UpstreamOptions{})
	b.Cleanup(u.Close)
	gw.Handle("svc/*", u)
	lg, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go gw.Serve(lg)
	cli := benchKernel(b, "cli")
	ctx := context.Background()
	peer, err := cli.Dial(ctx, "tcp", lg.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := peer.Call(ctx, "svc/echo", benchArg); err != nil { // the link is up
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := peer.Call(ctx, "svc/echo", benchArg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCall1MB is row 5's largest payload between Go kernels: a call
// echoing a 1 MB string.
func BenchmarkCall1MB(b *testing.B) {
	peer, _ := benchPair(b)
	arg := perlcompat.Str{S: string(make([]byte, 1<<20))}
	ctx := context.Background()
	b.SetBytes(2 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := peer.Call(ctx, "svc/echo", arg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostBackStream: a handler that answers one post with 100
// post-backs, as a streaming state does, directly and relayed by an
// Upstream route; an op is one post-back arriving.
func BenchmarkPostBackStream(b *testing.B) {
	b.Run("direct", func(b *testing.B) { benchPostBackStream(b, false) })
	b.Run("upstream", func(b *testing.B) { benchPostBackStream(b, true) })
}

func benchPostBackStream(b *testing.B, relayed bool) {
	const perPost = 100
	srv := benchKernel(b, "srv")
	srv.HandleFunc("svc/stream", func(ctx context.Context, r *Request) (perlcompat.Value, error) {
		for i := 0; i < perPost; i++ {
			if err := r.PostBack(ctx, "got", benchArg); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	if relayed {
		gw := benchKernel(b, "gw")
		u := gw.NewUpstream("tcp", l.Addr().String(), UpstreamOptions{})
		b.Cleanup(u.Close)
		gw.Handle("svc/*", u)
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		go gw.Serve(l)
	}
	cli := benchKernel(b, "cli")
	got := make(chan struct{}, 1)
	var n atomic.Int64
	cli.HandleFunc("back/got", func(context.Context, *Request) (perlcompat.Value, error) {
		if n.Add(1)%perPost == 0 {
			got <- struct{}{}
		}
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perPost {
		if err := peer.Post(context.Background(), "svc/stream", benchArg, From("back")); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "msgs/s")
}
