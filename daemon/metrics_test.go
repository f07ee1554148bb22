package daemon

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series counts the registry's series of the metric family name, and
// returns the value of the one whose labels are exactly want.
func seriesOf(t *testing.T, m *metrics, name string, want map[string]string) (n int, value float64) {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			n++
			match := len(s.GetLabel()) == len(want)
			for _, l := range s.GetLabel() {
				match = match && want[l.GetName()] == l.GetValue()
			}
			if match {
				value = s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return n, value
}

func TestRequestSeriesAppearWithFirstUseAndAreBounded(t *testing.T) {
	m := newMetrics("test", nil)
	m.RequestServed(nil, "s", "call-only", true, time.Millisecond, nil)
	m.RequestServed(nil, "s", "call-only", true, time.Millisecond, errors.New("boom"))
	m.RequestServed(nil, "s", "post-only", false, time.Millisecond, nil)
	n, v := seriesOf(t, m, "ikcgate_requests_total", map[string]string{"session": "s", "state": "call-only", "type": "call"})
	if n != 2 || v != 2 {
		t.Errorf("requests: %d series (want 2: no zero series for a type unused), s/call-only calls %v (want 2)", n, v)
	}
	n, v = seriesOf(t, m, "ikcgate_request_errors_total", map[string]string{"session": "s", "state": "call-only"})
	if n != 1 || v != 1 {
		t.Errorf("errors: %d series (want 1), s/call-only %v (want 1)", n, v)
	}

	for i := 0; i < maxStateLabels+10; i++ {
		m.RequestServed(nil, "many", fmt.Sprint(i), false, time.Millisecond, nil)
	}
	n, v = seriesOf(t, m, "ikcgate_request_duration_seconds", map[string]string{"session": "_other", "state": "_other"})
	if n != maxStateLabels+1 || v != 12 {
		t.Errorf("durations: %d series (want %d: the bound plus _other), _other observed %v (want 12)", n, maxStateLabels+1, v)
	}
}

// TestRequestDurationsBucketAsAPrometheusHistogramDoes: the daemon's own
// histogram gives what client_golang's Histogram gives for the same
// observations, boundaries included.
func TestRequestDurationsBucketAsAPrometheusHistogramDoes(t *testing.T) {
	m := newMetrics("test", nil)
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)})
	for _, d := range []time.Duration{0, time.Nanosecond, 499 * time.Microsecond, 500 * time.Microsecond, 501 * time.Microsecond,
		2 * time.Millisecond, 3 * time.Millisecond, 131072 * time.Millisecond, 131073 * time.Millisecond, time.Hour} {
		m.RequestServed(nil, "s", "t", false, d, nil)
		ref.Observe(d.Seconds())
	}
	var want, got *dto.Histogram
	var wm dto.Metric
	if err := ref.Write(&wm); err != nil {
		t.Fatal(err)
	}
	want = wm.GetHistogram()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ikcgate_request_duration_seconds" && len(mf.GetMetric()) == 1 {
			got = mf.GetMetric()[0].GetHistogram()
		}
	}
	if got == nil {
		t.Fatal("no ikcgate_request_duration_seconds series")
	}
	if got.GetSampleCount() != want.GetSampleCount() || math.Abs(got.GetSampleSum()-want.GetSampleSum()) > 1e-6 {
		t.Errorf("count %d sum %v, want %d %v", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
	}
	type bucket struct {
		Le    float64
		Count uint64
	}
	var wb, gb []bucket
	for _, b := range want.GetBucket() {
		wb = append(wb, bucket{b.GetUpperBound(), b.GetCumulativeCount()})
	}
	for _, b := range got.GetBucket() {
		gb = append(gb, bucket{b.GetUpperBound(), b.GetCumulativeCount()})
	}
	if diff := cmp.Diff(wb, gb); diff != "" {
		t.Errorf("buckets (-client_golang +ours):\n%s", diff)
	}
}
