package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
)

// Two kernels on loopback: one publishes svc/greet, the other calls it, as
// a Perl client would.
func Example() {
	quiet := hclog.NewNullLogger()
	cfg := gateway.DefaultConfig()
	cfg.Name, cfg.Logger = "Srv", quiet
	srv, _ := gateway.New(cfg)
	srv.HandleFunc("svc/greet", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		name, _ := perlcompat.AsString(r.Arg(0))
		return perlcompat.Text("hello, " + name), nil
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)

	cfg.Name = "Cli"
	cli, _ := gateway.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", l.Addr().String()); err != nil {
		fmt.Println(err)
		return
	}
	v, err := cli.Call(ctx, "poe://Srv/svc/greet", "world")
	s, _ := perlcompat.AsString(v)
	fmt.Println(s, err)
	_, err = cli.Call(ctx, "poe://Srv/svc/nope", nil)
	var re *gateway.RemoteError
	if errors.As(err, &re) {
		fmt.Printf("%s error: %s\n", re.When, re.Message)
	}

	cli.Shutdown(ctx)
	srv.Shutdown(ctx)
	// Output:
	// hello, world <nil>
	// check error: Session 'svc' has not published state 'nope'.  Request poe://Srv/svc/nope
}

// A handler that waits on something slow (a database, an HTTP service)
// says so first: its channel goes on being read meanwhile, so replies
// and a disconnect are not held up behind it.
func ExampleWillBlock() {
	cfg := gateway.DefaultConfig()
	cfg.Name, cfg.Logger = "Srv", hclog.NewNullLogger()
	srv, _ := gateway.New(cfg)
	srv.HandleFunc("orders/get", func(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
		gateway.WillBlock(ctx)
		select { // stands for the query
		case <-time.After(20 * time.Millisecond):
			return perlcompat.Text("order 7"), nil
		case <-ctx.Done(): // the peer left
			return nil, ctx.Err()
		}
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)

	cfg.Name = "Cli"
	cli, _ := gateway.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Dial(ctx, "tcp", l.Addr().String()); err != nil {
		fmt.Println(err)
		return
	}
	v, err := cli.Call(ctx, "poe://Srv/orders/get", 7)
	s, _ := perlcompat.AsString(v)
	fmt.Println(s, err)
	cli.Shutdown(ctx)
	srv.Shutdown(ctx)
	// Output: order 7 <nil>
}

// One goroutine keeps several calls in flight with Go, and collects the
// answers as they come.
func ExamplePeer_Go() {
	cfg := gateway.DefaultConfig()
	cfg.Name, cfg.Logger = "Srv", hclog.NewNullLogger()
	srv, _ := gateway.New(cfg)
	srv.HandleFunc("svc/square", func(_ context.Context, r *gateway.Request) (perlcompat.Value, error) {
		n, err := perlcompat.AsInt(r.Arg(0))
		return perlcompat.Int(n * n), err
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)

	cfg.Name = "Cli"
	cli, _ := gateway.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := cli.Dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan *gateway.AsyncCall, 3) // room for every call in flight
	for n := 1; n <= 3; n++ {
		peer.Go(ctx, "svc/square", n, done)
	}
	sum := int64(0)
	for range 3 {
		c := <-done
		if c.Err != nil {
			fmt.Println(c.Err)
			return
		}
		v, _ := perlcompat.AsInt(c.Reply)
		sum += v
	}
	fmt.Println("1+4+9 =", sum)
	cli.Shutdown(ctx)
	srv.Shutdown(ctx)
	// Output: 1+4+9 = 14
}
