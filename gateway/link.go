package gateway

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Link keeps a channel to one remote kernel open: when the channel closes
// it dials again, with exponential backoff and jitter, until the Link is
// closed or the kernel shuts down. Perl's IKC::Client never reconnects;
// this is the opt-in that production users ask for.
type Link struct {
	k                *Kernel
	network, addr    string
	opts             DialOptions
	minWait, maxWait time.Duration

	mu      sync.Mutex
	peer    *Peer
	changed chan struct{} // closed and replaced whenever peer changes
	lastErr error
	stop    chan struct{}
	stopped bool
	done    chan struct{}
}

// LinkOptions tune a Link's redialling.
type LinkOptions struct {
	DialOptions
	// MinBackoff and MaxBackoff bound the wait between failed dials
	// (defaults 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one dial and negotiation (default 10s).
	DialTimeout time.Duration
}

// Connect starts a Link to address. It returns at once; use Peer to wait
// for the channel.
func (k *Kernel) Connect(network, address string, opts LinkOptions) *Link {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	l := &Link{
		k: k, network: network, addr: address, opts: opts.DialOptions,
		minWait: opts.MinBackoff, maxWait: opts.MaxBackoff,
		changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer close(l.done)
		l.run(opts.DialTimeout)
	}()
	return l
}

func (l *Link) run(dialTimeout time.Duration) {
	wait := l.minWait
	for {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		stop := context.AfterFunc(doneCtx(l.stop), cancel)
		p, err := l.k.DialWith(ctx, l.network, l.addr, l.opts)
		stop()
		cancel()
		if err == nil {
			wait = l.minWait
			l.set(p, nil)
			select {
			case <-p.Done():
				l.k.log.Info("link lost; redialling", "address", l.addr, "error", p.Err())
				l.set(nil, p.Err())
				continue
			case <-l.stop:
				p.Close()
				return
			case <-l.k.done:
				return
			}
		}
		l.set(nil, err)
		l.k.log.Warn("link dial failed", "address", l.addr, "error", err, "retry_in", wait)
		jitter := time.Duration(rand.Int64N(int64(wait)/2 + 1))
		select {
		case <-time.After(wait/2 + jitter):
		case <-l.stop:
			return
		case <-l.k.done:
			return
		}
		wait = min(2*wait, l.maxWait)
	}
}

func (l *Link) set(p *Peer, err error) {
	l.mu.Lock()
	l.peer, l.lastErr = p, err
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Peer returns the connected channel, waiting for one until ctx ends. The
// error then is ctx's, joined with the last dial error.
func (l *Link) Peer(ctx context.Context) (*Peer, error) {
	for {
		p, changed, last := l.state()
		if p != nil {
			return p, nil
		}
		select {
		case <-changed:
		case <-l.done:
			return nil, ErrShutdown
		case <-ctx.Done():
			if last != nil {
				return nil, &linkError{ctx: ctx.Err(), last: last}
			}
			return nil, ctx.Err()
		}
	}
}

// state returns the channel if it is up, else what to wait on.
func (l *Link) state() (up *Peer, changed <-chan struct{}, last error) {
	l.mu.Lock()
	p, changed, last := l.peer, l.changed, l.lastErr
	l.mu.Unlock()
	if p != nil {
		select {
		case <-p.Done():
		default:
			return p, nil, nil
		}
	}
	return nil, changed, last
}

type linkError struct{ ctx, last error }

func (e *linkError) Error() string   { return e.ctx.Error() + " (last dial: " + e.last.Error() + ")" }
func (e *linkError) Unwrap() []error { return []error{e.ctx, e.last} }

// Close stops redialling and closes the current channel.
func (l *Link) Close() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.done
}
