package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// ErrSubscriptionRefused: the remote kernel has not published the session.
var ErrSubscriptionRefused = errors.New("gateway: subscription refused")

// Proxy stands for a session of a remote kernel this kernel subscribed
// to, as Perl's proxy sessions do: posts to it travel as IKC:proxy
// requests, which carry any number of arguments.
type Proxy struct {
	k       *Kernel
	ch      *channel
	Kernel  string // the remote kernel ID the subscription answered with
	Session string
}

// Subscribe asks the kernel named in spec ("poe://Kernel/session") for
// one of its sessions, with IKC/do_you_have as Perl does, and returns a
// proxy for it.
func (k *Kernel) Subscribe(ctx context.Context, spec string) (*Proxy, error) {
	sp, err := protocol.ParseSpecifier(spec)
	if err != nil {
		return nil, err
	}
	if sp.Kernel == "" || sp.Kernel == "*" || sp.Session == "" {
		return nil, fmt.Errorf("gateway: subscribe to %q: need one kernel and a session", spec)
	}
	chans, local, err := k.resolve(sp.Kernel)
	if err != nil {
		return nil, err
	}
	if local {
		return nil, errors.New("gateway: can't subscribe to a session within the current kernel")
	}
	ch := chans[0]
	want := protocol.Specifier{Kernel: sp.Kernel, Session: sp.Session, State: sp.State}
	params := perlcompat.NewArray(want.Value(), perlcompat.Text(ch.localID))
	to := protocol.Specifier{Kernel: sp.Kernel, Session: ikcSession, State: "do_you_have"}
	v, err := k.callOn(ctx, ch, to, params, postOptions{})
	if err != nil {
		return nil, fmt.Errorf("gateway: subscribe to %s: %w", want.String(), err)
	}
	a, ok := v.(*perlcompat.Array)
	if !ok || len(a.Elems) < 2 {
		s, _ := perlcompat.StringOf(v)
		k.inform(MonitorEvent{Kind: MonitorError, RemoteID: ch.remoteID, Names: ch.names, Operation: "subscribe", Message: s})
		return nil, fmt.Errorf("%w: %s", ErrSubscriptionRefused, s)
	}
	got, err := protocol.SpecifierFromValue(a.Elems[0])
	if err != nil {
		return nil, fmt.Errorf("gateway: subscribe to %s: bad receipt: %w", want.String(), err)
	}
	p := &Proxy{k: k, ch: ch, Kernel: got.Kernel, Session: got.Session}
	if p.Kernel == "" {
		p.Kernel, _ = perlcompat.AsString(a.Elems[1])
	}
	k.inform(MonitorEvent{Kind: MonitorSubscribe, RemoteID: ch.remoteID, Names: ch.names, Session: p.Session})
	return p, nil
}

// Post posts state with args to the remote session, as posting to a Perl
// proxy session does.
func (p *Proxy) Post(ctx context.Context, state string, args ...perlcompat.Value) error {
	msg := protocol.NewProxyPost(protocol.Specifier{Kernel: p.Kernel, Session: p.Session}, state, args...)
	return p.ch.send(ctx, msg)
}

// PostFrom is Post with a from naming a local session, so that the remote
// handler's posts to its SENDER reach that session's published states.
func (p *Proxy) PostFrom(ctx context.Context, session, state string, args ...perlcompat.Value) error {
	msg := protocol.NewProxyPost(protocol.Specifier{Kernel: p.Kernel, Session: p.Session}, state, args...)
	msg.From = protocol.ProxyFrom(p.ch.localID, session)
	return p.ch.send(ctx, msg)
}

// Call calls state with args through the proxy and waits for the reply.
func (p *Proxy) Call(ctx context.Context, state string, args ...perlcompat.Value) (perlcompat.Value, error) {
	to := protocol.Specifier{Kernel: p.Kernel, Session: p.Session, State: "IKC:proxy"}
	params := perlcompat.NewArray(perlcompat.Text(state), perlcompat.NewArray(args...))
	return p.k.callOn(ctx, p.ch, to, params, postOptions{})
}

// Unsubscribe forgets the proxy. As in Perl nothing is sent.
func (p *Proxy) Unsubscribe() {
	p.k.inform(MonitorEvent{Kind: MonitorUnsubscribe, RemoteID: p.ch.remoteID, Names: p.ch.names, Session: p.Session})
}
