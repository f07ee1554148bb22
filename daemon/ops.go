package daemon

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// testHookOpsHandler, when set, runs as the operations handler is built.
var testHookOpsHandler func()

// opsHandler serves the operations endpoints:
//
//	/metrics  Prometheus metrics (ikcgate_*, go_*, process_*)
//	/healthz  200 while the process runs
//	/readyz   200 when every listener is up and the daemon is not
//	          draining, 503 otherwise
//	/routes   the published routes, one "pattern kind target" a line
//	/debug/pprof/  net/http/pprof, when operations.pprof is true
func (d *Daemon) opsHandler(withPprof bool) http.Handler {
	if testHookOpsHandler != nil {
		testHookOpsHandler()
	}
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol) // go tool pprof posts addresses
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{ErrorLog: d.log.StandardLogger(nil)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case d.draining.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "draining")
		case !d.isReady.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "starting")
		default:
			fmt.Fprintln(w, "ready")
		}
	})
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, p := range sortedKeys(d.routes) {
			lr := d.routes[p]
			fmt.Fprintf(w, "%s %s\n", p, lr.describe())
		}
	})
	return mux
}
