package gateway

import (
	"context"
	"sync/atomic"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// Peer is a negotiated channel to a remote kernel.
type Peer struct {
	ch   *channel
	dest atomic.Pointer[peerDest] // the last destination parsed
}

type peerDest struct {
	to string
	sp protocol.Specifier
}

// destination is to on this peer's kernel, parsed once for a peer that
// is sent to the same state again and again.
func (p *Peer) destination(to string) (protocol.Specifier, error) {
	if d := p.dest.Load(); d != nil && d.to == to {
		return d.sp, nil
	}
	sp, err := parseDestination(p.ch.remoteID + "/" + to)
	if err == nil {
		p.dest.Store(&peerDest{to: to, sp: sp})
	}
	return sp, err
}

// RemoteID is the remote kernel's ID (its first announced name).
func (p *Peer) RemoteID() string { return p.ch.remoteID }

// Names are the names the remote kernel is registered under here.
func (p *Peer) Names() []string {
	p.ch.k.mu.Lock()
	defer p.ch.k.mu.Unlock()
	return append([]string(nil), p.ch.names...)
}

// LocalID is the kernel ID this kernel announced on the channel.
func (p *Peer) LocalID() string { return p.ch.localID }

// Negotiated is what the negotiation agreed on.
func (p *Peer) Negotiated() protocol.Result { return p.ch.res }

// Done is closed when the channel has closed.
func (p *Peer) Done() <-chan struct{} { return p.ch.dead }

// Err is why the channel closed, or nil while it is open.
func (p *Peer) Err() error {
	p.ch.mu.Lock()
	defer p.ch.mu.Unlock()
	if p.ch.failErr == errClosed {
		return ErrDisconnected
	}
	return p.ch.failErr
}

// Close closes the channel at once. Pending calls on it fail.
func (p *Peer) Close() error {
	p.ch.fail(nil)
	return nil
}

// Post posts to a state of this peer's kernel: to is "session/state".
func (p *Peer) Post(ctx context.Context, to string, params any, opts ...PostOption) error {
	sp, v, o, err := p.prepare(to, params, opts)
	if err != nil {
		return err
	}
	return p.ch.k.postOn(ctx, p.ch, sp, v, o)
}

// Call calls a state of this peer's kernel: to is "session/state".
func (p *Peer) Call(ctx context.Context, to string, params any, opts ...PostOption) (perlcompat.Value, error) {
	sp, v, o, err := p.prepare(to, params, opts)
	if err != nil {
		return nil, err
	}
	return p.ch.k.callOn(ctx, p.ch, sp, v, o)
}

func (p *Peer) prepare(to string, params any, opts []PostOption) (protocol.Specifier, perlcompat.Value, postOptions, error) {
	o := applyOptions(opts)
	sp, err := p.destination(to)
	if err != nil {
		return sp, nil, o, err
	}
	v, err := perlcompat.FromGo(params)
	return sp, v, o, err
}
