package daemon

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ikcgate/ikcgate/gateway"
)

// maxStateLabels bounds the distinct session/state label pairs: a peer
// may name any state, and each pair is a time series. Pairs past the
// bound are counted under session and state "_other".
const maxStateLabels = 1000

// metrics is the daemon's gateway.Observer and its Prometheus registry.
// Every metric is named ikcgate_*; see CONFIG.md for the list.
type metrics struct {
	reg *prometheus.Registry

	connectionsOpen   *prometheus.GaugeVec
	channelsOpened    *prometheus.CounterVec
	channelsClosed    *prometheus.CounterVec
	negotiations      *prometheus.CounterVec
	negotiationFailed prometheus.Counter
	framesReceived    prometheus.Counter
	framesSent        prometheus.Counter
	bytesReceived     prometheus.Counter
	bytesSent         prometheus.Counter
	requests          *prometheus.CounterVec
	requestErrors     *prometheus.CounterVec
	requestDuration   *prometheus.Desc // collected from stateSeries.duration (durationCollector)
	calls             *prometheus.CounterVec
	callDuration      prometheus.Histogram
	remoteErrors      *prometheus.CounterVec
	reloads           *prometheus.CounterVec
	ready             prometheus.Gauge
	draining          prometheus.Gauge
	upstreamUpFunc    func() map[[2]string]bool // route pattern, address -> up
	upstreamUpDesc    *prometheus.Desc
	callsOK, callsErr prometheus.Counter // calls' two series, resolved once
	stateMu           sync.RWMutex
	states            map[[2]string]*stateSeries  // at most maxStateLabels, plus _other
	lastState         atomic.Pointer[stateSeries] // the last one found: requests mostly go to one state
	roles             [2]channelSeries            // client, server
	negotiated        sync.Map                    // [dialogue, freezer] -> prometheus.Counter
}

// stateSeries are one session/state pair's series, resolved once: a
// label lookup per request (hashing three label values, twice) was a
// tenth of a busy gateway's CPU.
// A series appears with its first use, as it did when every request
// looked its labels up.
type stateSeries struct {
	session, state string
	duration       durationHistogram
	posts, calls   lazyCounter
	errs           lazyCounter
}

type lazyCounter struct {
	once sync.Once
	c    prometheus.Counter
}

func (l *lazyCounter) inc(vec *prometheus.CounterVec, labels ...string) {
	l.once.Do(func() { l.c = vec.WithLabelValues(labels...) })
	l.c.Inc()
}

var _ gateway.Observer = (*metrics)(nil)

func newMetrics(version string, upstreams func() map[[2]string]bool) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), states: map[[2]string]*stateSeries{}, upstreamUpFunc: upstreams}
	f := prometheus.NewCounterVec
	m.connectionsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ikcgate_connections_open", Help: "IKC channels open now, by role (server: accepted, client: dialled)."}, []string{"role"})
	m.channelsOpened = f(prometheus.CounterOpts{Name: "ikcgate_channels_opened_total", Help: "IKC channels negotiated, by role."}, []string{"role"})
	m.channelsClosed = f(prometheus.CounterOpts{Name: "ikcgate_channels_closed_total", Help: "IKC channels closed, by role and result (clean or error)."}, []string{"role", "result"})
	m.negotiations = f(prometheus.CounterOpts{Name: "ikcgate_negotiations_total", Help: "Successful negotiations, by dialogue (IKC0, IKC) and freezer."}, []string{"dialogue", "freezer"})
	m.negotiationFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "ikcgate_negotiation_failures_total", Help: "Connections closed before they became channels (negotiation error, refused peer or kernel name)."})
	m.framesReceived = prometheus.NewCounter(prometheus.CounterOpts{Name: "ikcgate_frames_received_total", Help: "Frames received on every channel."})
	m.framesSent = prometheus.NewCounter(prometheus.CounterOpts{Name: "ikcgate_frames_sent_total", Help: "Frames sent on every channel."})
	m.bytesReceived = prometheus.NewCounter(prometheus.CounterOpts{Name: "ikcgate_frame_bytes_received_total", Help: "Frame payload bytes received."})
	m.bytesSent = prometheus.NewCounter(prometheus.CounterOpts{Name: "ikcgate_frame_bytes_sent_total", Help: "Frame payload bytes sent."})
	m.requests = f(prometheus.CounterOpts{Name: "ikcgate_requests_total", Help: "Requests served, by session, state and type (post or call)."}, []string{"session", "state", "type"})
	m.requestErrors = f(prometheus.CounterOpts{Name: "ikcgate_request_errors_total", Help: "Requests that failed or were refused, by session and state."}, []string{"session", "state"})
	m.requestDuration = prometheus.NewDesc("ikcgate_request_duration_seconds", "Time to serve a request, by session and state.", []string{"session", "state"}, nil)
	m.calls = f(prometheus.CounterOpts{Name: "ikcgate_calls_total", Help: "Calls this kernel made (to upstreams), by result (ok or error)."}, []string{"result"})
	m.callsOK, m.callsErr = m.calls.WithLabelValues("ok"), m.calls.WithLabelValues("error")
	m.callDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ikcgate_call_duration_seconds", Help: "Latency of calls this kernel made.", Buckets: durationSeconds()})
	m.remoteErrors = f(prometheus.CounterOpts{Name: "ikcgate_ikc_errors_total", Help: "Errors reported to IKC monitors, by operation (local-check, remote-invocation, ...)."}, []string{"operation"})
	m.reloads = f(prometheus.CounterOpts{Name: "ikcgate_config_reloads_total", Help: "Configuration reloads, by result (ok or error)."}, []string{"result"})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ikcgate_ready", Help: "1 when every listener is up and the daemon is not draining."})
	m.draining = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ikcgate_draining", Help: "1 while the daemon drains before exiting."})
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ikcgate_build_info", Help: "Always 1; the version label says which build runs.", ConstLabels: prometheus.Labels{"version": version}})
	info.Set(1)
	m.upstreamUpDesc = prometheus.NewDesc("ikcgate_upstream_up", "1 when the upstream route's channel is connected.", []string{"route", "address"}, nil)
	m.reg.MustRegister(m.connectionsOpen, m.channelsOpened, m.channelsClosed, m.negotiations, m.negotiationFailed,
		m.framesReceived, m.framesSent, m.bytesReceived, m.bytesSent, m.requests, m.requestErrors, durationCollector{m},
		m.calls, m.callDuration, m.remoteErrors, m.reloads, m.ready, m.draining, info, upstreamCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, role := range []string{"server", "client"} {
		m.connectionsOpen.WithLabelValues(role)
	}
	return m
}

type upstreamCollector struct{ m *metrics }

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.upstreamUpDesc }

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.upstreamUpFunc == nil {
		return
	}
	for k, up := range c.m.upstreamUpFunc() {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.m.upstreamUpDesc, prometheus.GaugeValue, v, k[0], k[1])
	}
}

func role(c gateway.ChannelInfo) string {
	if c.Server {
		return "server"
	}
	return "client"
}

// series returns the pair's series, bounding the label pairs (see
// maxStateLabels).
func (m *metrics) series(session, state string) *stateSeries {
	if ss := m.lastState.Load(); ss != nil && ss.state == state && ss.session == session {
		return ss
	}
	k := [2]string{session, state}
	m.stateMu.RLock()
	ss := m.states[k]
	m.stateMu.RUnlock()
	if ss != nil {
		if ss.session == session && ss.state == state { // not _other
			m.lastState.Store(ss)
		}
		return ss
	}
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if ss := m.states[k]; ss != nil {
		return ss
	}
	if len(m.states) >= maxStateLabels {
		k = [2]string{"_other", "_other"}
		if ss := m.states[k]; ss != nil {
			return ss
		}
	}
	ss = &stateSeries{session: k[0], state: k[1]}
	m.states[k] = ss
	return ss
}

func (m *metrics) ChannelOpened(c gateway.ChannelInfo) {
	rs := m.roleSeries(c)
	rs.open.get(m.connectionsOpen, role(c)).Inc()
	rs.opened.inc(m.channelsOpened, role(c))
	k := [2]string{c.Dialogue, c.Freezer}
	n, ok := m.negotiated.Load(k)
	if !ok {
		n, _ = m.negotiated.LoadOrStore(k, m.negotiations.WithLabelValues(c.Dialogue, c.Freezer))
	}
	n.(prometheus.Counter).Inc()
}

func (m *metrics) ChannelClosed(c gateway.ChannelInfo, err error) {
	rs := m.roleSeries(c)
	rs.open.get(m.connectionsOpen, role(c)).Dec()
	if err != nil {
		rs.closedErr.inc(m.channelsClosed, role(c), "error")
	} else {
		rs.closedClean.inc(m.channelsClosed, role(c), "clean")
	}
}

// channelSeries are one role's channel series, resolved on first use:
// looking labels up per channel was a tenth of a server's CPU when
// clients connect, negotiate and leave.
type channelSeries struct {
	open                   lazyGauge
	opened                 lazyCounter
	closedClean, closedErr lazyCounter
}

func (m *metrics) roleSeries(c gateway.ChannelInfo) *channelSeries {
	if c.Server {
		return &m.roles[1]
	}
	return &m.roles[0]
}

type lazyGauge struct {
	once sync.Once
	g    prometheus.Gauge
}

func (l *lazyGauge) get(vec *prometheus.GaugeVec, labels ...string) prometheus.Gauge {
	l.once.Do(func() { l.g = vec.WithLabelValues(labels...) })
	return l.g
}

func (m *metrics) NegotiationFailed(net.Addr, error) { m.negotiationFailed.Inc() }

func (m *metrics) FrameReceived(_ *gateway.ChannelInfo, n int) {
	m.framesReceived.Inc()
	m.bytesReceived.Add(float64(n))
}

func (m *metrics) FrameSent(_ *gateway.ChannelInfo, n int) {
	m.framesSent.Inc()
	m.bytesSent.Add(float64(n))
}

func (m *metrics) RequestServed(_ *gateway.ChannelInfo, session, state string, call bool, took time.Duration, err error) {
	ss := m.series(session, state)
	if call {
		ss.calls.inc(m.requests, ss.session, ss.state, "call")
	} else {
		ss.posts.inc(m.requests, ss.session, ss.state, "post")
	}
	if err != nil {
		ss.errs.inc(m.requestErrors, ss.session, ss.state)
	}
	ss.duration.observe(took)
}

func (m *metrics) CallFinished(_ string, took time.Duration, err error) {
	if err != nil {
		m.callsErr.Inc()
	} else {
		m.callsOK.Inc()
	}
	m.callDuration.Observe(took.Seconds())
}

// monitor counts what IKC monitors are told about errors.
func (m *metrics) monitor(e gateway.MonitorEvent) {
	if e.Kind == gateway.MonitorError && e.Operation != "" {
		op := e.Operation
		if !knownOperations[op] {
			op = "other" // the remote half of "remote-<when>" is the peer's word
		}
		m.remoteErrors.WithLabelValues(op).Inc()
	}
}

var knownOperations = map[string]bool{}

func init() {
	for _, side := range []string{"local-", "remote-"} {
		for _, step := range []string{"request", "check", "resolve", "invocation"} {
			knownOperations[side+step] = true
		}
	}
}

// durationBounds are the request-duration buckets' upper bounds
// (Prometheus's le): 0.5 ms, then 4 times the one before, ten of them.
var durationBounds = func() (b [10]time.Duration) {
	d := 500 * time.Microsecond
	for i := range b {
		b[i] = d
		d *= 4
	}
	return b
}()

// durationSeconds is durationBounds in seconds, for the call-duration
// histogram: calls and requests share their buckets.
func durationSeconds() []float64 {
	s := make([]float64, len(durationBounds))
	for i, b := range durationBounds {
		s[i] = b.Seconds()
	}
	return s
}

// durationHistogram is one state's request durations, observed with two
// atomic adds. Prometheus's Histogram.Observe took 40 ns, half of the
// metrics' cost per request and 3% of a gateway's CPU per post.
type durationHistogram struct {
	counts [len(durationBounds) + 1]atomic.Uint64 // per bucket (not cumulative); the last is +Inf
	sum    atomic.Int64                           // nanoseconds
}

func (h *durationHistogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(durationBounds) && d > durationBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// durationCollector exports every state's durationHistogram as
// ikcgate_request_duration_seconds.
type durationCollector struct{ m *metrics }

func (c durationCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.requestDuration }

func (c durationCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.stateMu.RLock()
	series := make([]*stateSeries, 0, len(c.m.states))
	for _, ss := range c.m.states {
		series = append(series, ss)
	}
	c.m.stateMu.RUnlock()
	for _, ss := range series {
		h := &ss.duration
		buckets := make(map[float64]uint64, len(durationBounds))
		var n uint64
		for i, b := range durationBounds {
			n += h.counts[i].Load()
			buckets[b.Seconds()] = n
		}
		n += h.counts[len(durationBounds)].Load()
		ch <- prometheus.MustNewConstHistogram(c.m.requestDuration, n, time.Duration(h.sum.Load()).Seconds(), buckets, ss.session, ss.state)
	}
}
