package daemon

import (
	"errors"
	"fmt"
	"testing"
	"time"
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
