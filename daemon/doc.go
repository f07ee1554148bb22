// Package daemon is ikcgate, the IKC gateway daemon, as a library: the
// reusable main (Main, MainArgs), the HCL configuration (LoadConfig,
// ParseConfig, the embedded DefaultConfigHCL), the daemon itself (New,
// Daemon.Run, Daemon.Reload, Run), the operations HTTP server, the demo
// session (Demo) and the HTTP route kind (HTTPRoute).
//
// Users put ikcgate in front of their Perl POE::Component::IKC server:
// Perl clients connect to ikcgate, which answers the states migrated to Go
// and forwards every other request to the Perl server. A binary with its
// own Go handlers is a few lines:
//
//	func main() {
//		daemon.Main(daemon.Options{Handlers: map[string]gateway.Handler{"mysvc/do": myHandler}})
//	}
//
// cmd/ikcgate is built exactly so, with the demo session. Tests run the
// daemon in-process: New then Run(ctx) (Ready, Addrs and OpsAddr say where
// it listens; cancelling ctx drains it), or MainArgs with a context.
//
// # Configuration
//
// CONFIG.md beside this file is the full reference, with an example. In
// short (defaults in brackets):
//
//	kernel { name ["ikcgate"], aliases [[]] }
//	listen = ["tcp host:port" | "host:port" | "unix:/path", ...]  [none]
//	listener { address = "..." }                    (repeatable, added to listen)
//	freezers = [names in order of preference]      [["Storable", "Sereal"]]
//	    Storable, Sereal (ikcgate::Sereal), JSON (ikcgate::JSON), FreezeThaw,
//	    POE::Component::IKC::Freezer (only when listed; a loud warning: Perl
//	    peers eval it), or any Options.Freezers name
//	drain_timeout                                   ["30s"]
//	limits {
//	    max_frame_size      [67108864]   positive bytes
//	    max_depth           [0: each freezer's own]  >= 0
//	    max_connections     [0: no bound]  >= 0
//	    negotiation_timeout ["30s"]   call_timeout ["60s"]   positive durations
//	    send_queue [256]    work_queue [64]    positive
//	    queue_full ["block"]   "block" or "disconnect"
//	    gc_heap_floor [16777216]  >= 0 bytes the heap may grow past live data before a GC (0, or GOGC set: the program's own percent)
//	}
//	access {
//	    allow_networks [all]  CIDRs or addresses (TCP peers; unix always allowed)
//	    allow_kernels  [all]  names or path.Match globs, against every announced name
//	    allow_classes  [all]  class names or globs; data blessed into another class closes the channel
//	}
//	route "session/state" | "session/*" {
//	    kind = "go"        handler [the pattern]: a name in Options.Handlers ("demo" built in)
//	    kind = "upstream"  address (required), wait ["5s"]
//	    kind = "http"      url (required), timeout ["30s"], headers [{}]
//	}
//	logging { level ["info"]: trace|debug|info|warn|error|off, format ["text"]: text|json }
//	operations { listen ["" off; "127.0.0.1:6604" in the default], pprof [false] }
//
// Validation reports every error at once, each naming the key and
// file:line:column (ConfigError). The embedded default (default.hcl) is
// kernel "ikcgate" on tcp 127.0.0.1:6603, operations HTTP on
// 127.0.0.1:6604, and route "demo/*" to the demo session.
//
// # Running
//
// Flags: -config FILE, -listen ADDR (repeatable; replaces the configured
// listeners), -check (validate, print the errors, exit 0 or 1), -version.
// SIGTERM and SIGINT drain: /readyz turns 503, the listeners close, the
// requests being served finish and get their replies, bounded by
// drain_timeout, then the process exits 0. SIGHUP reloads the file
// (Daemon.ReloadFile): routes are published, replaced and retracted and
// access, drain_timeout and logging.level change, without dropping a
// connection; an invalid file is refused and the running configuration
// stays. Keys that need a restart are logged as such.
//
// Operations HTTP: /healthz, /readyz, /routes and /metrics (Prometheus,
// ikcgate_*: connections, negotiations by dialogue and freezer, frames and
// bytes each way, requests and errors per session/state, request and call
// latency, upstream health, reloads; see CONFIG.md), fed by the kernel's
// gateway.Observer and monitors.
//
// # Route kinds
//
// "go" serves a state with a handler compiled into the binary. "upstream"
// forwards it to a Perl kernel through gateway.Upstream (one reconnecting
// channel per address). "http" POSTs the params as JSON to a URL
// (HTTPRoute; ValueToJSON and JSONToValue say what JSON loses): a 2xx
// body is the reply, an empty one no reply, another status a remote_error.
package daemon
