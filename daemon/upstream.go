package daemon

import (
	"github.com/ikcgate/ikcgate/gateway"
)

// upstream is one gateway.Upstream shared by every route to the same
// address: one link per upstream kernel, however many sessions go there.
type upstream struct {
	u    *gateway.Upstream
	refs int
}

// newUpstream starts a route to the Perl kernel at rt.Address.
func newUpstream(k *gateway.Kernel, rt Route) *upstream {
	u := k.NewUpstream(rt.Address.Network, rt.Address.Address, gateway.UpstreamOptions{Wait: rt.Wait})
	return &upstream{u: u}
}

func (u *upstream) healthy() bool { return u.u.Healthy() }

func (u *upstream) close() { u.u.Close() }
