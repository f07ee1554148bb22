package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/gcfloor"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// Options are what a binary built on package daemon brings: its handlers,
// its freezers, its default configuration. The zero value is ikcgate with
// the demo session only.
type Options struct {
	// Handlers are the Go handlers compiled into the binary, by name.
	// Routes of kind "go" name them. A name that is itself a pattern
	// ("mysvc/do" or "mysvc/*") is also published at that pattern unless
	// a route of the configuration has the same pattern: a binary built
	// with daemon.Main(daemon.Options{Handlers: {"mysvc/do": h}}) serves
	// mysvc/do with no configuration at all. The demo session is built in
	// as "demo"; a handler of that name replaces it.
	Handlers map[string]gateway.Handler
	// Freezers adds freezers by name (the name is also the Perl package
	// negotiated), for the configuration's freezers list.
	Freezers map[string]FreezerFactory
	// DefaultConfig is the HCL used when no -config is given; nil means
	// the embedded default (DefaultConfigHCL).
	DefaultConfig []byte
	// Version is what -version prints and ikcgate_build_info reports;
	// "" means the package variable Version.
	Version string
	// Stdout and Stderr receive -check and -version output, and the log
	// when Logger is nil. Nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Logger, when set, replaces the logger the logging block describes.
	Logger hclog.Logger
}

// Version is the version -version prints; set it with
// -ldflags "-X github.com/ikcgate/ikcgate/daemon.Version=v1.2.3".
var Version = "dev"

func (o Options) version() string {
	if o.Version != "" {
		return o.Version
	}
	return Version
}

func (o Options) stdout() io.Writer {
	if o.Stdout != nil {
		return o.Stdout
	}
	return os.Stdout
}

func (o Options) stderr() io.Writer {
	if o.Stderr != nil {
		return o.Stderr
	}
	return os.Stderr
}

// Daemon is a running ikcgate: an IKC kernel with its listeners, routes
// and operations HTTP server. Build it with New, run it with Run.
type Daemon struct {
	opts     Options
	reg      *registry
	handlers map[string]gateway.Handler
	log      hclog.Logger
	k        *gateway.Kernel
	metrics  *metrics
	client   *http.Client
	demo     *Demo

	// configPath is the file Reload reads ("" for the default config);
	// listenOverride replaces the configuration's listeners (-listen).
	configPath     string
	listenOverride []ListenAddr

	access atomic.Pointer[Config]        // the config whose access block applies
	gc     atomic.Pointer[gcfloor.Tuner] // set by Run; nil when GOGC is set or another daemon tunes

	mu        sync.Mutex
	cfg       *Config
	routes    map[string]*liveRoute
	upstreams map[upstreamKey]*upstream
	addrs     []net.Addr
	opsAddr   net.Addr

	started  atomic.Bool
	isReady  atomic.Bool
	draining atomic.Bool
	ready    chan struct{}
}

type liveRoute struct {
	Route
	auto bool // published from Options.Handlers under its own name
	h    gateway.Handler
	up   *upstream
	upK  upstreamKey
}

// upstreamKey identifies a shared upstream: routes to one address share
// one gateway.Upstream (and the wait of the first of them).
type upstreamKey struct {
	addr ListenAddr
}

// Run runs ikcgate with cfg until ctx ends, then drains (see Daemon.Run).
func Run(ctx context.Context, cfg *Config, opts Options) error {
	d, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// New builds a daemon from a validated configuration and publishes its
// routes. Upstream routes start dialling their kernels at once; listeners
// and the operations server start in Run, whose end stops everything, so
// a Daemon from New must be Run.
func New(cfg *Config, opts Options) (*Daemon, error) {
	if cfg == nil {
		return nil, errors.New("daemon: nil config")
	}
	d := &Daemon{
		opts:      opts,
		reg:       newRegistry(opts),
		handlers:  map[string]gateway.Handler{},
		demo:      NewDemo(),
		routes:    map[string]*liveRoute{},
		upstreams: map[upstreamKey]*upstream{},
		ready:     make(chan struct{}),
	}
	d.handlers[DemoHandlerName] = d.demo
	for n, h := range opts.Handlers {
		if h == nil {
			return nil, fmt.Errorf("daemon: Options.Handlers[%q] is nil", n)
		}
		d.handlers[n] = h
	}
	d.log = opts.Logger
	if d.log == nil {
		d.log = newLogger(cfg, opts.stderr())
	}
	d.metrics = newMetrics(opts.version(), d.upstreamHealth)
	d.client = &http.Client{Transport: newTransport()}

	freezers, warnings, err := d.reg.buildFreezers(cfg.Freezers, cfg.Limits.MaxDepth)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	for _, w := range warnings {
		d.log.Warn("!!! " + w + " !!!")
	}
	for i, f := range freezers {
		// Checked per message against the live access settings, so a
		// reload applies to channels already open.
		freezers[i] = perlcompat.RestrictClasses(f, d.allowClass)
	}
	gc := gateway.DefaultConfig()
	gc.Name = cfg.KernelName
	gc.Aliases = cfg.KernelAliases
	gc.Freezers = freezers
	gc.Negotiation = protocol.DefaultLimits()
	gc.Negotiation.Timeout = cfg.Limits.NegotiationTimeout
	gc.MaxFrameSize = cfg.Limits.MaxFrameSize
	gc.SendQueue = cfg.Limits.SendQueue
	gc.WorkQueue = cfg.Limits.WorkQueue
	gc.MaxConnections = cfg.Limits.MaxConnections
	gc.CallTimeout = cfg.Limits.CallTimeout
	if cfg.Limits.QueueFull == "disconnect" {
		gc.QueueFull = gateway.QueueDisconnect
	}
	gc.Logger = d.log.Named("ikc")
	gc.Observer = d.metrics
	gc.AllowPeer = d.allowPeer
	gc.AllowKernel = d.allowKernel
	d.access.Store(cfg)
	k, err := gateway.New(gc)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.k = k
	k.Monitor("*", d.metrics.monitor)
	d.cfg = cfg
	if err := d.applyRoutes(d.desiredRoutes(cfg)); err != nil {
		_ = k.Shutdown(context.Background())
		return nil, err
	}
	return d, nil
}

func newLogger(cfg *Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "ikcgate",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogFormat == "json",
		Output:     out,
	})
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// Kernel is the daemon's IKC kernel.
func (d *Daemon) Kernel() *gateway.Kernel { return d.k }

// Logger is the daemon's logger.
func (d *Daemon) Logger() hclog.Logger { return d.log }

// Ready is closed once every listener is up (Run has started serving).
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Addrs are the IKC listeners' addresses, once Ready.
func (d *Daemon) Addrs() []net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.addrs)
}

// OpsAddr is the operations HTTP server's address once Ready, or nil
// when it is disabled.
func (d *Daemon) OpsAddr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opsAddr
}

// Config is the configuration in force.
func (d *Daemon) Config() *Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Run opens every listener and the operations HTTP server, serves until
// ctx ends (or a listener fails), then drains: readiness goes false, the
// listeners close and new connections are refused, requests in flight
// finish and their replies are sent, bounded by drain_timeout; channels
// still open then are closed. It returns nil after a drain, or the error
// that stopped it. Run may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("daemon: Run called twice")
	}
	defer d.releaseAll()
	defer d.client.CloseIdleConnections()
	cfg := d.Config()
	if t := gcfloor.Start(int64(cfg.Limits.GCHeapFloor)); t != nil {
		d.gc.Store(t)
		defer t.Stop()
	}
	// Built before anything opens, and not under d.mu: a panic under it
	// would deadlock in releaseAll, hiding the panic behind a daemon that
	// never gets ready; after the listeners opened it would leave them.
	var opsH http.Handler
	if cfg.OpsListen != "" {
		opsH = d.opsHandler(cfg.OpsPprof)
	}
	lns, err := d.listen(cfg)
	if err != nil {
		_ = d.k.Shutdown(context.Background())
		return err
	}
	var opsLn net.Listener
	if cfg.OpsListen != "" {
		opsLn, err = net.Listen("tcp", cfg.OpsListen)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			_ = d.k.Shutdown(context.Background())
			return fmt.Errorf("daemon: operations.listen %s: %w", cfg.OpsListen, err)
		}
	}

	serveErr := make(chan error, len(lns))
	var wg sync.WaitGroup
	d.mu.Lock()
	for _, l := range lns {
		d.addrs = append(d.addrs, l.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.k.Serve(l)
			if err != nil && !errors.Is(err, gateway.ErrShutdown) {
				serveErr <- fmt.Errorf("daemon: listener %s: %w", l.Addr(), err)
			}
		}()
	}
	var ops *http.Server
	if opsLn != nil {
		d.opsAddr = opsLn.Addr()
		ops = &http.Server{Handler: opsH, ReadHeaderTimeout: 5 * time.Second, ErrorLog: d.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ops.Serve(opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("operations HTTP server failed", "error", err)
			}
		}()
	}
	d.mu.Unlock()

	d.isReady.Store(true)
	d.metrics.ready.Set(1)
	close(d.ready)
	listening := make([]string, len(lns))
	for i, l := range lns {
		listening[i] = l.Addr().Network() + " " + l.Addr().String()
	}
	d.log.Info("ikcgate ready", "kernel", cfg.KernelName, "listen", strings.Join(listening, ", "), "operations", fmt.Sprint(d.opsAddr), "routes", strings.Join(d.k.Published(), " "), "freezers", strings.Join(cfg.Freezers, ","), "config", cfg.File)

	var runErr error
	select {
	case <-ctx.Done():
		d.log.Info("draining", "reason", context.Cause(ctx), "deadline", d.Config().DrainTimeout)
	case runErr = <-serveErr:
		d.log.Error("listener failed; draining", "error", runErr)
	}
	d.drain()
	if ops != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = ops.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	d.log.Info("ikcgate stopped")
	return runErr
}

// drain shuts the kernel down gracefully, bounded by drain_timeout.
func (d *Daemon) drain() {
	d.draining.Store(true)
	d.isReady.Store(false)
	d.metrics.ready.Set(0)
	d.metrics.draining.Set(1)
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), d.Config().DrainTimeout)
	defer cancel()
	if err := d.k.Shutdown(sctx); err != nil {
		d.log.Warn("drain deadline passed; the channels still open were closed", "drain_timeout", d.Config().DrainTimeout)
	} else {
		d.log.Info("drained", "took", time.Since(start).Round(time.Millisecond))
	}
}

// listen opens the configured listeners (or the -listen override).
func (d *Daemon) listen(cfg *Config) ([]net.Listener, error) {
	addrs := cfg.Listen
	if d.listenOverride != nil {
		addrs = d.listenOverride
	}
	var out []net.Listener
	lc := listenConfig()
	for _, a := range addrs {
		if a.Network == "unix" {
			removeStaleSocket(a.Address, d.log)
		}
		l, err := lc.Listen(context.Background(), a.Network, a.Address)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("daemon: listen %s: %w", a, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// removeStaleSocket removes a unix socket file nobody listens on (left by
// a process that died), so that a restart can bind it again.
func removeStaleSocket(p string, log hclog.Logger) {
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	c, err := net.DialTimeout("unix", p, time.Second)
	if err == nil {
		c.Close()
		return // in use: Listen will fail and say so
	}
	if os.Remove(p) == nil {
		log.Info("removed stale unix socket", "path", p)
	}
}

func (d *Daemon) allowPeer(addr net.Addr) bool {
	nets := d.access.Load().Access.AllowNetworks
	if len(nets) == 0 {
		return true
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return true // unix peers are local; file permissions guard them
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	d.log.Warn("peer refused by access.allow_networks", "peer", addr.String())
	return false
}

// allowClass applies access.allow_classes to every class a peer's data is
// blessed into; a refused class fails the frame, which closes the channel.
func (d *Daemon) allowClass(class string) bool {
	globs := d.access.Load().Access.AllowClasses
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, class); ok {
			return true
		}
	}
	d.log.Warn("class refused by access.allow_classes", "class", class)
	return false
}

func (d *Daemon) allowKernel(names []string) bool {
	globs := d.access.Load().Access.AllowKernels
	if len(globs) == 0 {
		return true
	}
	for _, n := range names {
		for _, g := range globs {
			if ok, _ := path.Match(g, n); ok {
				return true
			}
		}
	}
	d.log.Warn("kernel refused by access.allow_kernels", "names", names)
	return false
}

// desiredRoutes is what cfg publishes: its routes, and the handlers whose
// names are patterns that no route overrides.
func (d *Daemon) desiredRoutes(cfg *Config) []Route {
	out := slices.Clone(cfg.Routes)
	routed := map[string]bool{}
	for _, r := range cfg.Routes {
		routed[r.Pattern] = true
	}
	for _, n := range sortedKeys(d.handlers) {
		if routed[n] || validPattern(n) != nil {
			continue
		}
		out = append(out, Route{Pattern: n, Kind: KindGo, Handler: n})
	}
	return out
}

// applyRoutes makes the published routes want: new and changed ones are
// published (a changed pattern's handler is replaced in place), removed
// ones retracted. Connections stay open. On error nothing changes.
func (d *Daemon) applyRoutes(want []Route) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string]*liveRoute{}
	var built []*liveRoute
	for _, rt := range want {
		if lr, ok := d.routes[rt.Pattern]; ok && lr.Route.same(rt) {
			next[rt.Pattern] = lr
			continue
		}
		lr, err := d.buildRoute(rt)
		if err != nil {
			for _, b := range built {
				d.release(b)
			}
			return err
		}
		built = append(built, lr)
		next[rt.Pattern] = lr
	}
	for _, p := range sortedKeys(next) {
		lr := next[p]
		old, had := d.routes[p]
		if had && old == lr {
			continue
		}
		d.k.Handle(p, lr.h)
		if had {
			d.log.Info("route changed", "route", p, "from", old.describe(), "to", lr.describe())
		} else {
			d.log.Info("route published", "route", p, "to", lr.describe())
		}
	}
	for _, p := range sortedKeys(d.routes) {
		old := d.routes[p]
		if _, keep := next[p]; !keep {
			d.k.Retract(p)
			d.log.Info("route retracted", "route", p, "was", old.describe())
		}
		if next[p] != old {
			d.release(old)
		}
	}
	d.routes = next
	return nil
}

// buildRoute makes a route's handler. Called with d.mu held.
func (d *Daemon) buildRoute(rt Route) (*liveRoute, error) {
	lr := &liveRoute{Route: rt}
	switch rt.Kind {
	case KindGo:
		h, ok := d.handlers[rt.Handler]
		if !ok || h == nil {
			return nil, fmt.Errorf("daemon: route %q: no handler %q is registered", rt.Pattern, rt.Handler)
		}
		lr.h = h
	case KindHTTP:
		lr.h = &HTTPRoute{URL: rt.URL, Timeout: rt.Timeout, Headers: rt.Headers, Client: d.client, MaxBody: int64(d.cfg.Limits.MaxFrameSize)}
	case KindUpstream:
		key := upstreamKey{addr: rt.Address}
		u := d.upstreams[key]
		if u == nil {
			u = newUpstream(d.k, rt)
			d.upstreams[key] = u
		}
		u.refs++
		lr.up, lr.upK, lr.h = u, key, u.u
	default:
		return nil, fmt.Errorf("daemon: route %q: unknown kind %q", rt.Pattern, rt.Kind)
	}
	return lr, nil
}

// release drops a route's hold on its upstream. Called with d.mu held.
func (d *Daemon) release(lr *liveRoute) {
	if lr.up == nil {
		return
	}
	lr.up.refs--
	if lr.up.refs == 0 {
		delete(d.upstreams, lr.upK)
		lr.up.close()
	}
	lr.up = nil
}

func (d *Daemon) releaseAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, lr := range d.routes {
		d.release(lr)
	}
}

func (d *Daemon) upstreamHealth() map[[2]string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[[2]string]bool{}
	for p, lr := range d.routes {
		if lr.up != nil {
			out[[2]string{p, lr.Address.String()}] = lr.up.healthy()
		}
	}
	return out
}

// Reload applies a new configuration to the running daemon without
// dropping a connection: routes are published, replaced and retracted,
// access and drain_timeout take effect at once, and logging.level too
// when the daemon made its own logger; the limits max_frame_size,
// max_connections, negotiation_timeout, call_timeout and queue_full apply
// to new connections and calls at once, gc_heap_floor from the next
// collection. Keys that need a restart (kernel,
// listeners, freezers, max_depth and the queue sizes, operations,
// logging.format) are compared
// and each difference is logged as ignored until restart. On error
// nothing changes.
func (d *Daemon) Reload(cfg *Config) error {
	if cfg == nil {
		return errors.New("daemon: nil config")
	}
	if d.listenOverride != nil {
		c := *cfg
		c.Listen = d.listenOverride
		cfg = &c
	}
	old := d.Config()
	if lim := kernelLimits(cfg); lim != kernelLimits(old) {
		if err := d.k.SetLimits(lim); err != nil {
			d.metrics.reloads.WithLabelValues("error").Inc()
			return err
		}
	}
	if err := d.applyRoutes(d.desiredRoutes(cfg)); err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		return err
	}
	for _, c := range restartOnly(old, cfg) {
		d.log.Warn("config change needs a restart; ignored until then", "key", c)
	}
	if old.LogLevel != cfg.LogLevel && d.opts.Logger == nil {
		d.log.SetLevel(hclog.LevelFromString(cfg.LogLevel))
		d.log.Info("log level changed", "from", old.LogLevel, "to", cfg.LogLevel)
	}
	if !slices.Equal(old.Access.AllowNetworks, cfg.Access.AllowNetworks) || !slices.Equal(old.Access.AllowKernels, cfg.Access.AllowKernels) || !slices.Equal(old.Access.AllowClasses, cfg.Access.AllowClasses) {
		d.log.Info("access changed; applies to new connections", "allow_networks", fmt.Sprint(cfg.Access.AllowNetworks), "allow_kernels", fmt.Sprint(cfg.Access.AllowKernels))
	}
	if old.Limits.GCHeapFloor != cfg.Limits.GCHeapFloor {
		if t := d.gc.Load(); t != nil {
			t.SetFloor(int64(cfg.Limits.GCHeapFloor))
			d.log.Info("gc_heap_floor changed", "from", old.Limits.GCHeapFloor, "to", cfg.Limits.GCHeapFloor)
		} else {
			d.log.Warn("gc_heap_floor changed but not applied: GOGC is set, or another daemon of this process tunes the collector", "to", cfg.Limits.GCHeapFloor)
		}
	}
	if old.DrainTimeout != cfg.DrainTimeout {
		d.log.Info("drain_timeout changed", "from", old.DrainTimeout, "to", cfg.DrainTimeout)
	}
	d.access.Store(cfg)
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.metrics.reloads.WithLabelValues("ok").Inc()
	d.log.Info("configuration reloaded", "config", cfg.File, "routes", strings.Join(d.k.Published(), " "))
	return nil
}

// ReloadFile reads the configuration again (the -config file, or the
// default) and applies it with Reload, as SIGHUP does. On any error the
// running configuration stays and the errors are logged.
func (d *Daemon) ReloadFile() error {
	var cfg *Config
	var err error
	if d.configPath == "" {
		cfg, err = DefaultConfig(d.opts)
	} else {
		cfg, err = LoadConfig(d.configPath, d.opts)
	}
	if err == nil {
		err = d.Reload(cfg)
	} else {
		d.metrics.reloads.WithLabelValues("error").Inc()
	}
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			for _, l := range ce.Lines() {
				d.log.Error("reload refused; keeping the running configuration", "error", l)
			}
		} else {
			d.log.Error("reload refused; keeping the running configuration", "error", err)
		}
	}
	return err
}

// kernelLimits are the limits a running kernel takes from cfg.
func kernelLimits(cfg *Config) gateway.Limits {
	l := gateway.Limits{
		MaxConnections: cfg.Limits.MaxConnections,
		Negotiation:    protocol.DefaultLimits(),
		MaxFrameSize:   cfg.Limits.MaxFrameSize,
		CallTimeout:    cfg.Limits.CallTimeout,
	}
	l.Negotiation.Timeout = cfg.Limits.NegotiationTimeout
	if cfg.Limits.QueueFull == "disconnect" {
		l.QueueFull = gateway.QueueDisconnect
	}
	return l
}

// restartOnly lists the keys that differ between a and b and that only a
// restart applies.
func restartOnly(a, b *Config) []string {
	var out []string
	diff := func(key string, same bool) {
		if !same {
			out = append(out, key)
		}
	}
	diff("kernel.name", a.KernelName == b.KernelName)
	diff("kernel.aliases", slices.Equal(a.KernelAliases, b.KernelAliases))
	diff("listen", slices.Equal(a.Listen, b.Listen))
	diff("freezers", slices.Equal(a.Freezers, b.Freezers))
	la, lb := a.Limits, b.Limits
	// max_frame_size, max_connections, negotiation_timeout, call_timeout
	// and queue_full are applied live (gateway.Kernel.SetLimits).
	diff("limits.max_depth", la.MaxDepth == lb.MaxDepth)
	diff("limits.send_queue", la.SendQueue == lb.SendQueue)
	diff("limits.work_queue", la.WorkQueue == lb.WorkQueue)
	diff("operations.listen", a.OpsListen == b.OpsListen)
	diff("operations.pprof", a.OpsPprof == b.OpsPprof)
	diff("logging.format", a.LogFormat == b.LogFormat)
	sort.Strings(out)
	return out
}
