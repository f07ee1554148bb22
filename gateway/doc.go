// Package gateway is an IKC kernel in Go: a peer that real Perl
// POE::Component::IKC kernels talk to as they talk to each other.
//
// A Kernel serves channels (Serve, on any net.Listener: TCP or unix) and
// dials them (Dial), negotiating either dialogue and any configured
// freezer. Go code publishes states the way net/http registers handlers:
//
//	k, _ := gateway.New(gateway.DefaultConfig())
//	k.HandleFunc("svc/echo", func(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
//		return r.Arg(0), nil // a call's reply; nil sends none, as undef in Perl
//	})
//	go k.Serve(listener)
//
// and posts to and calls remote states:
//
//	k.Post(ctx, "poe://PerlSrv/svc/record", "hello")
//	v, err := k.Call(ctx, "poe://PerlSrv/svc/echo", map[string]any{"n": 1})
//
// Go sends a call without waiting, as net/rpc's Client.Go does: one
// goroutine keeps many calls in flight, and each answer arrives on a
// channel of the caller's.
//
// What Perl's Responder does, the kernel does (PROTOCOL.md sections 5 and
// 6): IKC:proxy argument lists, the auto-published IKC/ping,
// IKC/do_you_have and IKC/remote_error, remote errors in Perl's own words
// both ways, SENDER post-backs (Request.PostBack) for full kernels and
// ClientLite, subscriptions with proxies (Subscribe), "*" broadcasts and
// monitors (Monitor, MonitorChan). Where Perl would crash or misbehave it
// does not: a bad frame closes that channel only, a handler's error or
// panic becomes a remote_error, ClientLite never gets an unsolicited frame,
// and reply permissions are tied to the channel and the call (RsvpStrict)
// unless Perl's looser counters are asked for (RsvpPerl).
//
// Migration: an Upstream (NewUpstream) is a Handler that forwards the
// states it is published for to another kernel, typically the Perl
// server being replaced, relaying replies, remote errors and SENDER
// post-backs so clients cannot tell. Connect keeps a channel open with
// redial and backoff (Perl's Client never reconnects).
//
// Operations: Config.Observer sees channels, frames, requests and calls
// (for metrics); Config.AllowPeer and Config.AllowKernel admit peers by
// address and by announced name; SetLimits changes limits on a running
// kernel. The daemon package builds ikcgate from these.
//
// Safety towards Perl: the kernel never sends what is known to kill a Perl
// IKC kernel (ErrWouldKillPeer), never closes a channel mid-negotiation on
// its own initiative except at the negotiation deadline, and never sends
// ClientLite an unsolicited frame.
//
// Goroutines: per channel one reader (for an accepted channel, the
// goroutine that negotiated it), and a worker and a writer started when
// first needed (an idle channel is its reader alone). When a channel ends,
// its reader's goroutine waits up to 2 s, as one of at most 32 spares, to
// serve the next channel (its stack already grown); Shutdown ends the
// spares. Handlers run one at a time in arrival order, as in a Perl
// kernel: on the reader itself when nothing is queued (no hand-off per
// request), else on the worker. A handler about to wait calls WillBlock
// (Call does it itself), and one that runs over 5 ms (seen at two ticks of
// 5 ms in a row) without saying so is noticed by a watchdog: either way
// reading moves to a new goroutine, so replies to its own calls and a
// disconnect are still read. A frame someone waits for (a call, a reply)
// is written by its sender when nothing is queued (a call from Go code
// only if no other call of ours awaits a reply: pipelining callers share
// writes; a call forwarded to a Perl kernel goes out at once); the rest
// goes to the writer, which lets ready goroutines run first, then sends
// whatever is queued in one writev, small frames copied together into
// pooled chunks; send queues are bounded. Replies to requests the reader
// serves while whole requests are buffered behind them (pipelined calls)
// wait in the queue, and the reader writes them with the burst's last
// reply: no writer wake-up per burst. At most half the queue is held, and
// nothing is held while the next request is still arriving or once reading
// has moved on from a long handler. A Go caller making one call at a
// time reads its own reply when it can: the reader lends it the read role
// and sleeps, which spares a thread wake-up per call (lead.go); a frame
// the peer sends on its own meanwhile waits at most about 2 ms. On Linux
// TCP, a reader about to wait on a channel with no call in flight either
// way, after reading what nothing of ours will answer (posts),
// acknowledges it at once (TCP_QUICKACK): Perl peers write with Nagle on,
// and their next frame would wait 40 ms for the delayed ACK. Calls without
// a deadline expire from a per-channel list under one timer. An Upstream
// sends forwarded calls in order and awaits their answers concurrently. A
// peer that closes still has the requests it sent served. Shutdown drains:
// running handlers finish and their replies (forwarded answers included)
// are flushed before channels close.
package gateway
