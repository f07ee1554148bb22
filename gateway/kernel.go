package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// Errors returned by the kernel. Match them with errors.Is.
var (
	// ErrShutdown: the kernel is shutting down or has shut down.
	ErrShutdown = errors.New("gateway: kernel shut down")
	// ErrDisconnected: the channel closed before the operation finished
	// (a pending call fails with it at once, not at its deadline).
	ErrDisconnected = errors.New("gateway: peer disconnected")
	// ErrUnknownKernel: no channel is registered under that kernel name.
	ErrUnknownKernel = errors.New("gateway: unknown kernel")
	// ErrNoReply: the call's deadline passed with no reply. Perl sends
	// none when the handler returns undef.
	ErrNoReply = errors.New("gateway: no reply")
	// ErrQueueFull: a channel's send queue was full under QueueDisconnect.
	ErrQueueFull = errors.New("gateway: send queue full")
	// ErrNotPublished: the state is not published by this kernel.
	ErrNotPublished = errors.New("gateway: not published")
)

// Kernel is an IKC kernel: it serves and dials channels to other kernels
// (Perl or Go), runs the handlers it publishes for their requests, and
// posts and calls states on them. It is safe for concurrent use.
type Kernel struct {
	cfg Config
	log hclog.Logger
	obs Observer
	// timesCalls: the observer is not NopObserver, so a call's
	// duration is worth two clock reads (3% of a Go caller's CPU).
	timesCalls bool
	id         string // kernel ID, announced first on accepted channels
	host       string // the host name kernel IDs carry, looked up once as Sys::Hostname does
	seq        atomic.Int64

	mux *mux

	mu         sync.Mutex
	channels   map[*channel]struct{}
	admitted   int                         // accepted connections still negotiating (MaxConnections counts them)
	inlineNow  atomic.Int64                // handlers running on their channel's reader (watchdog.go)
	watching   atomic.Bool                 // the watchdog runs
	lastTarget atomic.Pointer[targetEntry] // see targetName
	lendFor    atomic.Int64                // ns; see lead.go (tests lengthen it)
	// testBeforeAnswer, set by tests only, runs on the reader between
	// reading an awaited call's answer and settling it.
	testBeforeAnswer func(*pendingCall)
	// The watchdog's timing (inlineTakeover, watchTick); tests stretch it.
	inlineTakeover, watchTick time.Duration
	names                     map[string]*channel        // remote names and IDs; the first registration wins
	listeners                 map[*net.Listener]struct{} // keyed by address: a listener's own type may not be hashable
	monitors                  map[*monitor]struct{}
	closing                   bool
	pending                   map[string]*pendingCall // RsvpPerl: replies accepted from any channel
	// errorHooks see remote_error reports no pending call claimed; more:
	// another frame is buffered behind the report.
	errorHooks []errorHook

	lim     atomic.Pointer[Limits]
	rsvpSeq atomic.Uint64
	wg      sync.WaitGroup // every goroutine the kernel starts
	// lateMu orders addLate's wg.Add before Shutdown's wg.Wait for
	// goroutines started where k.mu may already be held; late is set
	// under it once Shutdown begins.
	lateMu sync.Mutex
	late   bool
	done   chan struct{} // closed when Shutdown begins
	spare  chan func()   // goroutines waiting to serve the next connection (spare.go)
	spares atomic.Int32  // how many wait
	// How long a spare waits (spare.go); tests shorten it.
	spareIdle time.Duration
	// life is cancelled when Shutdown begins. Negotiations derive from
	// it: a context.AfterFunc on a context of ours (not the standard
	// library's) costs a goroutine per negotiation.
	life    context.Context
	endLife context.CancelFunc
	epoch   time.Time // New's time: clock counts from it
}

type errorHook struct {
	id uint64
	fn func(ch *channel, msg, when string, more bool) bool
}

// New returns a kernel. It serves nothing until Serve or Dial.
func New(cfg Config) (*Kernel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.Default().Named("ikc")
	}
	obs := cfg.Observer
	if obs == nil {
		obs = NopObserver{}
	}
	_, nop := obs.(NopObserver)
	k := &Kernel{
		timesCalls: !nop,
		cfg:        cfg,
		log:        log,
		obs:        obs,
		mux:        newMux(),
		channels:   map[*channel]struct{}{},
		names:      map[string]*channel{},
		listeners:  map[*net.Listener]struct{}{},
		monitors:   map[*monitor]struct{}{},
		pending:    map[string]*pendingCall{},
		done:       make(chan struct{}),
		spare:      make(chan func()),

		inlineTakeover: inlineTakeover,
		watchTick:      watchTick,
		spareIdle:      spareIdle,
	}
	k.life, k.endLife = context.WithCancel(context.Background())
	k.epoch = time.Now()
	k.seq.Store(1)
	k.lim.Store(&Limits{
		MaxConnections: cfg.MaxConnections, Negotiation: cfg.Negotiation,
		MaxFrameSize: cfg.MaxFrameSize, CallTimeout: cfg.CallTimeout, QueueFull: cfg.QueueFull,
	})
	k.host = cfg.hostname()
	k.id = protocol.NewKernelID(k.host, time.Now(), cfg.pid(), 1)
	return k, nil
}

// clock is the monotonic time since New, in ns: call deadlines use it,
// so a step of the wall clock neither expires calls early nor late.
func (k *Kernel) clock() int64 { return int64(time.Since(k.epoch)) }

// ID is the kernel ID, in Perl's <host>-<epoch>-<pid>-<seq> form. Each
// dialled channel announces a fresh ID of its own (so that one Perl kernel
// dialled twice does not see a duplicate, PROTOCOL.md §1), while every
// accepted channel announces this one.
func (k *Kernel) ID() string { return k.id }

// Name is the kernel's name.
func (k *Kernel) Name() string { return k.cfg.Name }

// isLocalName reports whether name is one of this kernel's own names: Perl
// routes posts to them locally, never to the wire.
func (k *Kernel) isLocalName(name string) bool {
	if name == k.id || name == k.cfg.Name {
		return true
	}
	for _, a := range k.cfg.Aliases {
		if a == name {
			return true
		}
	}
	return false
}

// Serve accepts IKC channels on l until l fails or the kernel shuts down;
// then it returns ErrShutdown (after Shutdown) or the accept error. It may
// be called for several listeners at once (TCP and unix).
func (k *Kernel) Serve(l net.Listener) error {
	k.mu.Lock()
	if k.closing {
		k.mu.Unlock()
		return ErrShutdown
	}
	k.listeners[&l] = struct{}{}
	k.wg.Add(1)
	k.mu.Unlock()
	defer k.wg.Done()
	defer func() {
		k.mu.Lock()
		delete(k.listeners, &l)
		k.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if k.isClosing() {
				return ErrShutdown
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				k.log.Warn("accept failed; retrying", "error", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-k.done:
					return ErrShutdown
				}
				continue
			}
			return err
		}
		backoff = 0
		if !k.admit(nc) {
			continue
		}
		k.wg.Add(1)
		k.goServe(func() { k.accept(nc) })
	}
}

// admit applies MaxConnections before any byte is read. The refused
// connection has sent nothing yet, so closing it harms no Perl client
// beyond a failed connect.
func (k *Kernel) admit(nc net.Conn) bool {
	reason := ""
	if k.cfg.AllowPeer != nil && !k.cfg.AllowPeer(nc.RemoteAddr()) {
		reason = "peer address not allowed"
	}
	k.mu.Lock()
	switch max := k.limits().MaxConnections; {
	case k.closing:
		reason = "shutting down"
	case max > 0 && len(k.channels)+k.admitted >= max:
		reason = "MaxConnections reached"
	case reason == "":
		k.admitted++ // until accept has negotiated and registered it
	}
	k.mu.Unlock()
	if reason != "" {
		k.log.Warn("connection refused", "peer", nc.RemoteAddr(), "reason", reason)
		k.obs.NegotiationFailed(nc.RemoteAddr(), errors.New(reason))
		nc.Close()
		return false
	}
	return true
}

// accept negotiates an admitted connection, then becomes its channel's
// reader: one goroutine per accepted channel until it needs more.
func (k *Kernel) accept(nc net.Conn) {
	registered := false
	defer func() {
		if !registered { // open stops counting it once registered
			k.mu.Lock()
			k.admitted--
			k.mu.Unlock()
		}
	}()
	local := localName(nc, true)
	names := append([]string{k.cfg.Name}, k.cfg.Aliases...)
	if local != "" {
		names = append(names, local)
	}
	sc := protocol.ServerConfig{
		KernelID:   k.id,
		Names:      names,
		Freezers:   k.cfg.freezerNames(),
		PID:        k.cfg.pid(),
		OmitPID:    k.cfg.OmitPID,
		LegacyOnly: k.cfg.LegacyOnly,
		Limits:     k.limits().Negotiation,
	}
	res, leftover, err := protocol.ServerHandshake(k.life, nc, sc)
	if err != nil {
		k.log.Warn("negotiation failed; connection closed", "peer", nc.RemoteAddr(), "error", err)
		k.obs.NegotiationFailed(nc.RemoteAddr(), err)
		nc.Close()
		return
	}
	if k.cfg.AllowKernel != nil && !k.cfg.AllowKernel(res.PeerNames) {
		err := fmt.Errorf("kernel names %q not allowed", res.PeerNames)
		k.log.Warn("channel refused after negotiation", "peer", nc.RemoteAddr(), "error", err)
		k.obs.NegotiationFailed(nc.RemoteAddr(), err)
		nc.Close()
		return
	}
	sanity := ""
	if _, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		sanity = nc.RemoteAddr().String() // Perl adds getpeername as "ip:port"
	}
	registered = true
	k.open(nc, res, leftover, true, k.id, names, sanity)
}

// DialOptions adjust one Dial.
type DialOptions struct {
	// LegacyOnly sends HELLO rather than SETUP (Perl's protocol => 'IKC').
	LegacyOnly bool
}

// Dial connects to the IKC kernel at address ("tcp" host:port, or "unix"
// path) and negotiates a channel. ctx bounds the connect and the
// negotiation. The channel announces a fresh kernel ID, the kernel's name
// and aliases, and its local address.
//
// A Perl server that never answers SETUP (IKC before 0.2300) times the
// negotiation out; redial with LegacyOnly. Mind PROTOCOL.md §2.6: giving up
// on a half-negotiated channel kills a Perl 0.2400-0.2402 server, which is
// why the negotiation deadline is the caller's to choose.
func (k *Kernel) Dial(ctx context.Context, network, address string) (*Peer, error) {
	return k.DialWith(ctx, network, address, DialOptions{})
}

// DialWith is Dial with options.
func (k *Kernel) DialWith(ctx context.Context, network, address string, opts DialOptions) (*Peer, error) {
	if k.isClosing() {
		return nil, ErrShutdown
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("gateway: dial %s %s: %w", network, address, err)
	}
	id := protocol.NewKernelID(k.host, time.Now(), k.cfg.pid(), int(k.seq.Add(1)))
	names := append([]string{k.cfg.Name}, k.cfg.Aliases...)
	if local := localName(nc, false); local != "" {
		names = append(names, local)
	}
	cc := protocol.ClientConfig{
		KernelID:   id,
		Names:      names,
		Freezers:   k.cfg.freezerNames(),
		PID:        k.cfg.pid(),
		LegacyOnly: opts.LegacyOnly || k.cfg.LegacyOnly,
		Limits:     k.limits().Negotiation,
	}
	hctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(k.life, cancel)
	res, leftover, err := protocol.ClientHandshake(hctx, nc, cc)
	stop()
	cancel()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("gateway: negotiate with %s: %w", address, err)
	}
	// Perl's client registers the address it was given as a sanity alias.
	sanity := address
	if network == "unix" {
		sanity = "unix:n" // what every Perl unix client calls its server
	}
	ch := k.open(nc, res, leftover, false, id, names, sanity)
	if ch == nil {
		return nil, ErrShutdown
	}
	return &Peer{ch: ch}, nil
}

// localName is the address name a Perl kernel announces last: "ip:port" of
// the local end for TCP; "unix:<path>" for a unix server and
// "unix:<path>:<pid>-<n>" for a unix client.
func localName(nc net.Conn, server bool) string {
	switch a := nc.LocalAddr().(type) {
	case *net.TCPAddr:
		ip := a.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		// A listener's connections share their local address: formatting
		// it was 4% of a connect-and-close cycle. (A dialled one's port
		// is new each time.)
		if c := lastLocal.Load(); server && c != nil && c.port == a.Port && c.ip.Equal(ip) {
			return c.name
		}
		name := net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
		if server {
			lastLocal.Store(&localEntry{ip: slices.Clone(ip), port: a.Port, name: name})
		}
		return name
	case *net.UnixAddr:
		path := a.Name
		if !server {
			if ra, ok := nc.RemoteAddr().(*net.UnixAddr); ok && ra.Name != "" {
				path = ra.Name
			}
			return protocol.UnixServerName(path) + ":" + strconv.Itoa(osPID()) + "-" + strconv.FormatUint(unixSeq.Add(1), 10)
		}
		return protocol.UnixServerName(path)
	}
	return ""
}

var unixSeq atomic.Uint64

// localEntry is localName's one-entry cache of TCP names.
type localEntry struct {
	ip   net.IP
	port int
	name string
}

var lastLocal atomic.Pointer[localEntry]

// open registers a negotiated channel and runs its reader. A dialled
// channel's reader gets a new goroutine and open returns the channel, or
// nil (closing nc) if the kernel is shutting down. An accepted one
// (server) is read on accept's goroutine, which holds a k.wg count
// already, and open returns when the channel has ended or its read role
// moved to a takeover reader (see WillBlock); the connection
// stops counting as admitted in the same hold that registers it, so
// MaxConnections never counts it twice or not at all.
func (k *Kernel) open(nc net.Conn, res protocol.Result, leftover []byte, server bool, localID string, localNames []string, sanity string) *channel {
	fz := k.cfg.freezer(res.Freezer)
	if fz == nil {
		// The negotiators only agree on configured freezers; legacy with no
		// agreement means Storable, which a config may have left out.
		fz = defaultStorable()
	}
	if cf, ok := fz.(perlcompat.ChannelFreezer); ok {
		fz = cf.ForChannel()
	}
	ch := newChannel(k, nc, res, fz, server, localID, localNames)
	names := append([]string(nil), res.PeerNames...)
	if sanity != "" {
		names = append(names, sanity)
	}
	k.mu.Lock()
	if server {
		k.admitted--
	}
	if k.closing {
		k.mu.Unlock()
		nc.Close()
		return nil
	}
	k.channels[ch] = struct{}{}
	for _, n := range names {
		if n == "" || k.isLocalName(n) {
			continue // local names shadow remote ones, as in Perl
		}
		if _, taken := k.names[n]; taken {
			if n == res.PeerKernelID {
				k.log.Warn("remote kernel ID already registered; replies use the arrival channel", "id", n, "peer", nc.RemoteAddr())
			}
			continue
		}
		k.names[n] = ch
		ch.names = append(ch.names, n)
	}
	ch.info = ChannelInfo{RemoteID: ch.remoteID, Names: ch.names, Peer: nc.RemoteAddr(), Dialogue: res.Dialogue.String(), Freezer: fz.Name(), Server: server}
	if !server {
		k.wg.Add(1)
	}
	k.mu.Unlock()

	k.obs.ChannelOpened(ch.info)
	if k.log.IsInfo() {
		ch.logger().Info("channel open", "dialogue", res.Dialogue.String(), "freezer", fz.Name(), "names", ch.names, "pid", res.PeerPID, "role", map[bool]string{true: "server", false: "client"}[server])
	}
	k.inform(MonitorEvent{Kind: MonitorRegister, RemoteID: ch.remoteID, Names: ch.names, PID: res.PeerPID, HasPID: res.PeerHasPID, Freezer: fz.Name(), Dialogue: res.Dialogue.String()})
	k.inform(MonitorEvent{Kind: MonitorChannel, RemoteID: ch.remoteID, Names: ch.names, ChannelState: "ready"})
	if server {
		ch.run(leftover)
		return ch
	}
	k.goServe(func() { ch.run(leftover) })
	return ch
}

// closed unregisters a channel once its goroutines are done.
func (k *Kernel) closed(ch *channel) {
	k.mu.Lock()
	delete(k.channels, ch)
	for _, n := range ch.names {
		if k.names[n] == ch {
			delete(k.names, n)
		}
	}
	k.mu.Unlock()
	ch.mu.Lock()
	cerr := ch.failErr
	ch.mu.Unlock()
	if cerr == errClosed || errors.Is(cerr, ErrDisconnected) {
		cerr = nil
	}
	k.obs.ChannelClosed(ch.info, cerr)
	k.inform(MonitorEvent{Kind: MonitorChannel, RemoteID: ch.remoteID, Names: ch.names, ChannelState: "close"})
	k.inform(MonitorEvent{Kind: MonitorUnregister, RemoteID: ch.remoteID, Names: ch.names})
}

// lookup returns the channel registered under a kernel name, alias or ID.
func (k *Kernel) lookup(name string) *channel {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.names[name]
}

// allChannels is the "*" kernel: every registered channel.
func (k *Kernel) allChannels() []*channel {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*channel, 0, len(k.channels))
	for ch := range k.channels {
		out = append(out, ch)
	}
	return out
}

func (k *Kernel) isClosing() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closing
}

// Shutdown closes the kernel gracefully, as Perl's IKC/shutdown does but
// without losing work: listeners close at once and new requests are
// refused, handlers already running finish and their replies are written
// (answers to forwarded calls included: accepted channels drain before the
// dialed ones they wait on), queued frames are flushed, then every
// channel closes. No message is sent
// to peers (IKC has none). If ctx ends first the remaining channels are
// closed at once, handlers' contexts are cancelled, and ctx's error is
// returned at most a second later even if a handler ignores its context.
func (k *Kernel) Shutdown(ctx context.Context) error {
	k.mu.Lock()
	if !k.closing {
		k.closing = true
		close(k.done)
		k.endLife()
	}
	for l := range k.listeners {
		(*l).Close()
	}
	chans := make([]*channel, 0, len(k.channels))
	for ch := range k.channels {
		chans = append(chans, ch)
	}
	k.mu.Unlock()
	k.inform(MonitorEvent{Kind: MonitorShutdown})

	// Channels our listeners accepted drain first: the answers they still
	// owe (forwarded calls) come over channels this kernel dialed, which
	// stay open until then.
	var dialed []*channel
	for _, ch := range chans {
		if ch.server {
			ch.drain()
		} else {
			dialed = append(dialed, ch)
		}
	}
	finished := make(chan struct{})
	go func() {
		for _, ch := range chans {
			if ch.server {
				select {
				case <-ch.dead:
				case <-ctx.Done():
				}
			}
		}
		for _, ch := range dialed {
			ch.drain()
		}
		k.lateMu.Lock()
		k.late = true // no wg.Add from addLate after this
		k.lateMu.Unlock()
		k.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		for _, ch := range k.allChannels() {
			ch.fail(ErrShutdown)
		}
		// Handlers were told through their context. One that ignores it
		// cannot be stopped; don't let it hold Shutdown past its deadline
		// for more than a short grace.
		select {
		case <-finished:
		case <-time.After(shutdownGrace):
			k.log.Warn("shutdown deadline passed with handlers still running; they ignore their context", "grace", shutdownGrace)
		}
		return ctx.Err()
	}
}

// addLate counts a goroutine about to start in k.wg, unless Shutdown is
// about to wait for them (false: start none). It takes only a lock of
// its own, so callers may hold any other.
func (k *Kernel) addLate() bool {
	k.lateMu.Lock()
	defer k.lateMu.Unlock()
	if k.late {
		return false
	}
	k.wg.Add(1)
	return true
}

// shutdownGrace is how long Shutdown waits, past its deadline, for
// handlers to return once their context is cancelled.
const shutdownGrace = time.Second
