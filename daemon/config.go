package daemon

import (
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/gcfloor"
	"github.com/ikcgate/ikcgate/protocol"
)

// DefaultConfigHCL is the configuration ikcgate runs with when it is given
// no -config: kernel "ikcgate" on tcp 127.0.0.1:6603, operations HTTP on
// 127.0.0.1:6604, the demo session published.
//
//go:embed default.hcl
var DefaultConfigHCL []byte

// DefaultConfigName is the file name the embedded default is parsed
// under; validation errors about it name it.
const DefaultConfigName = "default.hcl"

// Defaults of keys left out of a configuration.
const (
	DefaultKernelName         = gateway.DefaultName
	DefaultDrainTimeout       = 30 * time.Second
	DefaultMaxFrameSize       = gateway.DefaultMaxFrameSize
	DefaultSendQueue          = gateway.DefaultSendQueue
	DefaultWorkQueue          = gateway.DefaultWorkQueue
	DefaultCallTimeout        = gateway.DefaultCallTimeout
	DefaultNegotiationTimeout = protocol.DefaultTimeout
	DefaultHTTPRouteTimeout   = 30 * time.Second
	DefaultUpstreamWait       = 5 * time.Second
	DefaultLogLevel           = "info"
	DefaultLogFormat          = "text"
)

// Config is a loaded and validated configuration, every default filled
// in. Build one with LoadConfig or ParseConfig; see CONFIG.md for the
// keys.
type Config struct {
	// File is the file the configuration was read from (DefaultConfigName
	// for the embedded default).
	File string

	KernelName    string
	KernelAliases []string
	// Listen are the IKC listeners, in order.
	Listen []ListenAddr
	// Freezers are freezer names (keys of the freezer table), in order
	// of preference.
	Freezers []string
	Limits   Limits
	Access   Access
	// Routes are the published routes, in file order.
	Routes    []Route
	LogLevel  string
	LogFormat string
	OpsListen string // "" disables the operations HTTP server
	// OpsPprof serves net/http/pprof under /debug/pprof/ on the
	// operations server: profiles of a gateway under its real load.
	OpsPprof     bool
	DrainTimeout time.Duration
}

// ListenAddr is one IKC listener: Network "tcp" or "unix".
type ListenAddr struct {
	Network, Address string
}

func (l ListenAddr) String() string {
	if l.Network == "unix" {
		return "unix:" + l.Address
	}
	return l.Network + " " + l.Address
}

// Limits are the kernel's bounds (the limits block).
type Limits struct {
	MaxFrameSize       int
	MaxDepth           int // 0: each freezer's own default
	MaxConnections     int // 0: no bound
	NegotiationTimeout time.Duration
	CallTimeout        time.Duration
	SendQueue          int
	WorkQueue          int
	QueueFull          string // "block" or "disconnect"
	// GCHeapFloor is how far the heap may grow past the live data before
	// a collection (see package gcfloor); 0 leaves Go's default.
	GCHeapFloor int
}

// Access is the access block: who may connect.
type Access struct {
	AllowNetworks []netip.Prefix // empty: every address
	AllowKernels  []string       // path.Match globs; empty: every name
	AllowClasses  []string       // path.Match globs; empty: every class
}

// Route kinds.
const (
	KindGo       = "go"
	KindUpstream = "upstream"
	KindHTTP     = "http"
)

// Route is one route block.
type Route struct {
	Pattern string // "session/state" or "session/*"
	Kind    string // KindGo, KindUpstream or KindHTTP
	// Handler names a handler registered in the binary (kind go).
	Handler string
	// Address is the upstream kernel, "tcp host:port" or "unix:/path"
	// (kind upstream); Wait bounds how long a request waits for it.
	Address ListenAddr
	Wait    time.Duration
	// URL, Timeout and Headers are the HTTP endpoint (kind http).
	URL     string
	Timeout time.Duration
	Headers map[string]string
	// Range is where the block is, for log lines.
	Range hcl.Range
}

// same reports whether two routes build the same handler.
func (r Route) same(o Route) bool {
	if r.Pattern != o.Pattern || r.Kind != o.Kind || r.Handler != o.Handler || r.Address != o.Address ||
		r.Wait != o.Wait || r.URL != o.URL || r.Timeout != o.Timeout || len(r.Headers) != len(o.Headers) {
		return false
	}
	for k, v := range r.Headers {
		if ov, ok := o.Headers[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

func (r Route) describe() string {
	switch r.Kind {
	case KindGo:
		return "go handler " + strconv.Quote(r.Handler)
	case KindUpstream:
		return "upstream " + r.Address.String()
	case KindHTTP:
		return "http " + r.URL
	}
	return r.Kind
}

// ConfigError is a configuration that does not load: every problem found,
// each naming its key and file:line.
type ConfigError struct {
	Diags hcl.Diagnostics
}

func (e *ConfigError) Error() string {
	return strings.Join(e.Lines(), "\n")
}

// Lines returns one "file:line:col: problem" line per error.
func (e *ConfigError) Lines() []string {
	var out []string
	for _, d := range e.Diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		out = append(out, msg)
	}
	return out
}

// LoadConfig reads and validates the configuration file at path. Handler
// and freezer names are checked against opts (Options.Handlers,
// Options.Freezers and the built-in ones).
func LoadConfig(path string, opts Options) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, src, opts)
}

// DefaultConfig returns the embedded default configuration (or
// Options.DefaultConfig when set).
func DefaultConfig(opts Options) (*Config, error) {
	if opts.DefaultConfig != nil {
		return ParseConfig(DefaultConfigName, opts.DefaultConfig, opts)
	}
	return ParseConfig(DefaultConfigName, DefaultConfigHCL, opts)
}

// ParseConfig parses and validates HCL source; filename is used in error
// messages. The error, if any, is a *ConfigError.
func ParseConfig(filename string, src []byte, opts Options) (*Config, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, &ConfigError{Diags: diags}
	}
	var raw rawFile
	// Schema errors (unknown keys, duplicate blocks) do not stop the
	// checks of the keys that did decode: every error is reported at once.
	d := &decoder{file: filename, diags: gohcl.DecodeBody(f.Body, nil, &raw)}
	cfg := d.build(&raw, newRegistry(opts))
	if d.diags.HasErrors() {
		sort.SliceStable(d.diags, func(i, j int) bool {
			a, b := d.diags[i].Subject, d.diags[j].Subject
			if a == nil || b == nil {
				return a != nil
			}
			return a.Start.Line < b.Start.Line || (a.Start.Line == b.Start.Line && a.Start.Column < b.Start.Column)
		})
		return nil, &ConfigError{Diags: d.diags}
	}
	return cfg, nil
}

// The HCL schema. Attributes are kept as expressions so that every
// validation error can point at the value at fault.
type rawFile struct {
	Freezers     hcl.Expression `hcl:"freezers,optional"`
	Listen       hcl.Expression `hcl:"listen,optional"`
	DrainTimeout hcl.Expression `hcl:"drain_timeout,optional"`

	Kernel     *rawKernel     `hcl:"kernel,block"`
	Listeners  []rawListener  `hcl:"listener,block"`
	Limits     *rawLimits     `hcl:"limits,block"`
	Access     *rawAccess     `hcl:"access,block"`
	Routes     []rawRoute     `hcl:"route,block"`
	Logging    *rawLogging    `hcl:"logging,block"`
	Operations *rawOperations `hcl:"operations,block"`
}

type rawKernel struct {
	Name    hcl.Expression `hcl:"name,optional"`
	Aliases hcl.Expression `hcl:"aliases,optional"`
}

type rawListener struct {
	Address hcl.Expression `hcl:"address"`
	Range   hcl.Range      `hcl:",def_range"`
}

type rawLimits struct {
	MaxFrameSize       hcl.Expression `hcl:"max_frame_size,optional"`
	MaxDepth           hcl.Expression `hcl:"max_depth,optional"`
	MaxConnections     hcl.Expression `hcl:"max_connections,optional"`
	NegotiationTimeout hcl.Expression `hcl:"negotiation_timeout,optional"`
	CallTimeout        hcl.Expression `hcl:"call_timeout,optional"`
	SendQueue          hcl.Expression `hcl:"send_queue,optional"`
	WorkQueue          hcl.Expression `hcl:"work_queue,optional"`
	QueueFull          hcl.Expression `hcl:"queue_full,optional"`
	GCHeapFloor        hcl.Expression `hcl:"gc_heap_floor,optional"`
}

type rawAccess struct {
	AllowNetworks hcl.Expression `hcl:"allow_networks,optional"`
	AllowKernels  hcl.Expression `hcl:"allow_kernels,optional"`
	AllowClasses  hcl.Expression `hcl:"allow_classes,optional"`
}

type rawRoute struct {
	Pattern      string         `hcl:"pattern,label"`
	PatternRange hcl.Range      `hcl:"pattern,label_range"`
	Range        hcl.Range      `hcl:",def_range"`
	Kind         hcl.Expression `hcl:"kind"`
	Handler      hcl.Expression `hcl:"handler,optional"`
	Address      hcl.Expression `hcl:"address,optional"`
	Wait         hcl.Expression `hcl:"wait,optional"`
	URL          hcl.Expression `hcl:"url,optional"`
	Timeout      hcl.Expression `hcl:"timeout,optional"`
	Headers      hcl.Expression `hcl:"headers,optional"`
}

type rawLogging struct {
	Level  hcl.Expression `hcl:"level,optional"`
	Format hcl.Expression `hcl:"format,optional"`
}

type rawOperations struct {
	Listen hcl.Expression `hcl:"listen,optional"`
	Pprof  hcl.Expression `hcl:"pprof,optional"`
}

// decoder turns the raw schema into a Config, collecting every error.
type decoder struct {
	file  string
	diags hcl.Diagnostics
}

func (d *decoder) errorf(rng hcl.Range, key, format string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + key,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

// present reports whether an optional attribute was given (gohcl puts a
// null expression in place of a missing one).
func present(e hcl.Expression) bool {
	if e == nil {
		return false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return true // let the decode report it
	}
	return !v.IsNull()
}

func (d *decoder) decode(e hcl.Expression, key string, target any) bool {
	diags := gohcl.DecodeExpression(e, nil, target)
	if diags.HasErrors() {
		for _, dg := range diags {
			if dg.Subject == nil {
				r := e.Range()
				dg.Subject = &r
			}
			dg.Summary = "Invalid " + key
		}
		d.diags = append(d.diags, diags...)
		return false
	}
	return true
}

func (d *decoder) str(e hcl.Expression, key, def string) string {
	if !present(e) {
		return def
	}
	var s string
	if !d.decode(e, key, &s) {
		return def
	}
	return s
}

func (d *decoder) strs(e hcl.Expression, key string, def []string) []string {
	if !present(e) {
		return def
	}
	var s []string
	if !d.decode(e, key, &s) {
		return def
	}
	return s
}

func (d *decoder) int(e hcl.Expression, key string, def, min int) int {
	if !present(e) {
		return def
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || v.Type() != cty.Number {
		d.errorf(e.Range(), key, "must be a whole number")
		return def
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n > 1<<40 {
		d.errorf(e.Range(), key, "must be a whole number below 2^40")
		return def
	}
	if int(n) < min {
		if min == 1 {
			d.errorf(e.Range(), key, "must be positive, not %d", n)
		} else {
			d.errorf(e.Range(), key, "must be at least %d, not %d", min, n)
		}
		return def
	}
	return int(n)
}

func (d *decoder) dur(e hcl.Expression, key string, def time.Duration) time.Duration {
	if !present(e) {
		return def
	}
	var s string
	if !d.decode(e, key, &s) {
		return def
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(e.Range(), key, "%q is not a duration (write \"30s\", \"1m30s\", \"250ms\")", s)
		return def
	}
	if t <= 0 {
		d.errorf(e.Range(), key, "must be positive, not %q", s)
		return def
	}
	return t
}

func (d *decoder) oneOf(e hcl.Expression, key, def string, allowed ...string) string {
	s := d.str(e, key, def)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.errorf(e.Range(), key, "%q is not one of %s", s, strings.Join(quoteAll(allowed), ", "))
	return def
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

// globs decodes a list of what (names) or globs in path.Match's syntax.
func (d *decoder) globs(e hcl.Expression, key, what string) []string {
	var out []string
	for i, g := range d.strs(e, key, nil) {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			d.errorf(e.Range(), fmt.Sprintf("%s[%d]", key, i), "%q is not a %s or glob (*, ?, [a-z])", g, what)
			continue
		}
		out = append(out, g)
	}
	return out
}

func (d *decoder) build(raw *rawFile, reg *registry) *Config {
	cfg := &Config{File: d.file}

	// kernel
	cfg.KernelName = DefaultKernelName
	if k := raw.Kernel; k != nil {
		cfg.KernelName = d.str(k.Name, "kernel.name", DefaultKernelName)
		if present(k.Name) {
			if err := validKernelName(cfg.KernelName); err != nil {
				d.errorf(k.Name.Range(), "kernel.name", "%v", err)
			}
		}
		cfg.KernelAliases = d.strs(k.Aliases, "kernel.aliases", nil)
		for i, a := range cfg.KernelAliases {
			if err := validKernelName(a); err != nil {
				d.errorf(k.Aliases.Range(), fmt.Sprintf("kernel.aliases[%d]", i), "%v", err)
			}
		}
	}

	// listeners: the listen list, then listener blocks
	seenAddr := map[ListenAddr]bool{}
	addListen := func(a ListenAddr, rng hcl.Range, key string) {
		if seenAddr[a] {
			d.errorf(rng, key, "%s is listed twice", a)
			return
		}
		seenAddr[a] = true
		cfg.Listen = append(cfg.Listen, a)
	}
	for i, s := range d.strs(raw.Listen, "listen", nil) {
		key := fmt.Sprintf("listen[%d]", i)
		a, err := ParseListenAddr(s)
		if err != nil {
			d.errorf(raw.Listen.Range(), key, "%v", err)
			continue
		}
		addListen(a, raw.Listen.Range(), key)
	}
	for _, l := range raw.Listeners {
		s := d.str(l.Address, "listener.address", "")
		a, err := ParseListenAddr(s)
		if err != nil {
			d.errorf(l.Address.Range(), "listener.address", "%v", err)
			continue
		}
		addListen(a, l.Address.Range(), "listener.address")
	}

	// freezers
	cfg.Freezers = DefaultFreezers()
	if present(raw.Freezers) {
		cfg.Freezers = d.strs(raw.Freezers, "freezers", cfg.Freezers)
		if len(cfg.Freezers) == 0 {
			d.errorf(raw.Freezers.Range(), "freezers", "is empty: Perl peers need at least \"Storable\"")
		}
		seen := map[string]bool{}
		for i, n := range cfg.Freezers {
			key := fmt.Sprintf("freezers[%d]", i)
			if !reg.hasFreezer(n) {
				d.errorf(raw.Freezers.Range(), key, "unknown freezer %q (known: %s)", n, strings.Join(reg.freezerNames(), ", "))
				continue
			}
			p := reg.packageName(n)
			if seen[p] {
				d.errorf(raw.Freezers.Range(), key, "%q is listed twice", n)
			}
			seen[p] = true
		}
	}

	// limits
	l := Limits{
		MaxFrameSize:       DefaultMaxFrameSize,
		NegotiationTimeout: DefaultNegotiationTimeout,
		CallTimeout:        DefaultCallTimeout,
		SendQueue:          DefaultSendQueue,
		WorkQueue:          DefaultWorkQueue,
		QueueFull:          "block",
		GCHeapFloor:        gcfloor.DefaultFloor,
	}
	if r := raw.Limits; r != nil {
		l.MaxFrameSize = d.int(r.MaxFrameSize, "limits.max_frame_size", l.MaxFrameSize, 1)
		l.MaxDepth = d.int(r.MaxDepth, "limits.max_depth", 0, 0)
		l.MaxConnections = d.int(r.MaxConnections, "limits.max_connections", 0, 0)
		l.NegotiationTimeout = d.dur(r.NegotiationTimeout, "limits.negotiation_timeout", l.NegotiationTimeout)
		l.CallTimeout = d.dur(r.CallTimeout, "limits.call_timeout", l.CallTimeout)
		l.SendQueue = d.int(r.SendQueue, "limits.send_queue", l.SendQueue, 1)
		l.WorkQueue = d.int(r.WorkQueue, "limits.work_queue", l.WorkQueue, 1)
		l.QueueFull = d.oneOf(r.QueueFull, "limits.queue_full", "block", "block", "disconnect")
		l.GCHeapFloor = d.int(r.GCHeapFloor, "limits.gc_heap_floor", l.GCHeapFloor, 0)
	}
	cfg.Limits = l

	// access
	if a := raw.Access; a != nil {
		for i, s := range d.strs(a.AllowNetworks, "access.allow_networks", nil) {
			p, err := parseNetwork(s)
			if err != nil {
				d.errorf(a.AllowNetworks.Range(), fmt.Sprintf("access.allow_networks[%d]", i), "%v", err)
				continue
			}
			cfg.Access.AllowNetworks = append(cfg.Access.AllowNetworks, p)
		}
		if present(a.AllowNetworks) && len(cfg.Access.AllowNetworks) == 0 && !d.diags.HasErrors() {
			d.errorf(a.AllowNetworks.Range(), "access.allow_networks", "is empty, which would refuse every TCP peer; leave it out to allow all")
		}
		cfg.Access.AllowKernels = d.globs(a.AllowKernels, "access.allow_kernels", "name")
		if present(a.AllowKernels) && len(cfg.Access.AllowKernels) == 0 && !d.diags.HasErrors() {
			d.errorf(a.AllowKernels.Range(), "access.allow_kernels", "is empty, which would refuse every kernel; leave it out to allow all")
		}
		cfg.Access.AllowClasses = d.globs(a.AllowClasses, "access.allow_classes", "class name")
	}

	// routes
	seenRoute := map[string]hcl.Range{}
	for _, r := range raw.Routes {
		rt, ok := d.route(r, reg)
		if !ok {
			continue
		}
		if prev, dup := seenRoute[rt.Pattern]; dup {
			d.errorf(r.PatternRange, fmt.Sprintf("route %q", rt.Pattern), "is already defined at %s:%d", prev.Filename, prev.Start.Line)
			continue
		}
		seenRoute[rt.Pattern] = r.Range
		cfg.Routes = append(cfg.Routes, rt)
	}

	// logging
	cfg.LogLevel, cfg.LogFormat = DefaultLogLevel, DefaultLogFormat
	if lg := raw.Logging; lg != nil {
		cfg.LogLevel = d.oneOf(lg.Level, "logging.level", DefaultLogLevel, "trace", "debug", "info", "warn", "error", "off")
		cfg.LogFormat = d.oneOf(lg.Format, "logging.format", DefaultLogFormat, "text", "json")
	}

	// operations
	if o := raw.Operations; o != nil {
		cfg.OpsListen = d.str(o.Listen, "operations.listen", "")
		if cfg.OpsListen != "" {
			if err := validHostPort(cfg.OpsListen); err != nil {
				d.errorf(o.Listen.Range(), "operations.listen", "%v", err)
			}
		}
		if present(o.Pprof) {
			d.decode(o.Pprof, "operations.pprof", &cfg.OpsPprof)
		}
	}

	cfg.DrainTimeout = d.dur(raw.DrainTimeout, "drain_timeout", DefaultDrainTimeout)
	return cfg
}

func (d *decoder) route(r rawRoute, reg *registry) (Route, bool) {
	key := fmt.Sprintf("route %q", r.Pattern)
	rt := Route{Pattern: r.Pattern, Range: r.Range}
	if err := validPattern(r.Pattern); err != nil {
		d.errorf(r.PatternRange, key, "%v", err)
		return rt, false
	}
	n := len(d.diags)
	if !present(r.Kind) {
		d.errorf(r.Range, key+".kind", "is required: \"go\", \"upstream\" or \"http\"")
		return rt, false
	}
	rt.Kind = d.oneOf(r.Kind, key+".kind", "", KindGo, KindUpstream, KindHTTP)
	if len(d.diags) > n {
		return rt, false
	}
	// Keys that belong to another kind are mistakes, not silently ignored.
	only := map[string][]hcl.Expression{
		KindGo:       {r.Handler},
		KindUpstream: {r.Address, r.Wait},
		KindHTTP:     {r.URL, r.Timeout, r.Headers},
	}
	names := map[string][]string{
		KindGo:       {"handler"},
		KindUpstream: {"address", "wait"},
		KindHTTP:     {"url", "timeout", "headers"},
	}
	for kind, exprs := range only {
		if kind == rt.Kind {
			continue
		}
		for i, e := range exprs {
			if present(e) {
				d.errorf(e.Range(), key+"."+names[kind][i], "applies to kind %q only, this route is kind %q", kind, rt.Kind)
			}
		}
	}
	switch rt.Kind {
	case KindGo:
		rt.Handler = d.str(r.Handler, key+".handler", r.Pattern)
		if !reg.hasHandler(rt.Handler) {
			rng := r.Range
			if present(r.Handler) {
				rng = r.Handler.Range()
			}
			d.errorf(rng, key+".handler", "no handler %q is registered in this binary (registered: %s)", rt.Handler, strings.Join(reg.handlerNames(), ", "))
		}
	case KindUpstream:
		s := d.str(r.Address, key+".address", "")
		if !present(r.Address) {
			d.errorf(r.Range, key+".address", "is required for kind \"upstream\" (\"tcp host:port\" or \"unix:/path\")")
		} else if a, err := ParseListenAddr(s); err != nil {
			d.errorf(r.Address.Range(), key+".address", "%v", err)
		} else {
			rt.Address = a
		}
		rt.Wait = d.dur(r.Wait, key+".wait", DefaultUpstreamWait)
	case KindHTTP:
		s := d.str(r.URL, key+".url", "")
		if !present(r.URL) {
			d.errorf(r.Range, key+".url", "is required for kind \"http\"")
		} else if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(r.URL.Range(), key+".url", "%q is not an http:// or https:// URL", s)
		} else {
			rt.URL = s
		}
		rt.Timeout = d.dur(r.Timeout, key+".timeout", DefaultHTTPRouteTimeout)
		if present(r.Headers) {
			var h map[string]string
			if d.decode(r.Headers, key+".headers", &h) {
				for name, v := range h {
					if !validHeaderName(name) || strings.ContainsAny(v, "\r\n\x00") {
						d.errorf(r.Headers.Range(), key+".headers", "%q is not a valid header", name)
					}
				}
				rt.Headers = h
			}
		}
	}
	return rt, len(d.diags) == n
}

// ParseListenAddr parses a listener or upstream address: "tcp host:port",
// "host:port" (TCP), "unix:/path" or "unix /path".
func ParseListenAddr(s string) (ListenAddr, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "unix:"), strings.HasPrefix(s, "unix "):
		p := strings.TrimSpace(s[5:])
		if p == "" {
			return ListenAddr{}, fmt.Errorf("%q has no socket path", s)
		}
		if len(p) > 104 {
			return ListenAddr{}, fmt.Errorf("unix socket path %q is longer than 104 bytes", p)
		}
		return ListenAddr{Network: "unix", Address: p}, nil
	case strings.HasPrefix(s, "tcp "), strings.HasPrefix(s, "tcp:"):
		s = strings.TrimSpace(s[4:])
	}
	if err := validHostPort(s); err != nil {
		return ListenAddr{}, err
	}
	return ListenAddr{Network: "tcp", Address: s}, nil
}

func validHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (\"tcp 127.0.0.1:6603\", \"unix:/run/ikc.sock\")", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not 0-65535", s, port)
	}
	return nil
}

func parseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (\"10.0.0.0/8\") or an address", s)
}

func validPattern(p string) error {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return fmt.Errorf("%q is not \"session/state\" or \"session/*\"", p)
	}
	if p[:i] == "IKC" {
		return fmt.Errorf("session \"IKC\" is the kernel's own")
	}
	if strings.ContainsAny(p, "\r\n\x00") {
		return fmt.Errorf("%q holds a line end", p)
	}
	return nil
}

func validKernelName(s string) error {
	if s == "" || s == "0" {
		return fmt.Errorf("must not be empty or \"0\" (Perl finds it false)")
	}
	if strings.ContainsAny(s, ",;=\r\n\x00 ") {
		return fmt.Errorf("%q holds a character the IKC SETUP line uses as a separator", s)
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 0x7e || c <= 0x20 || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
