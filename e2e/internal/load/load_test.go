package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	sorted := []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(10)}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, ms(5)}, {0.9, ms(9)}, {0.99, ms(10)}, {1, ms(10)}, {0.01, ms(1)}} {
		if got := Percentile(sorted, tc.q); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("Percentile of nothing = %v, want 0", got)
	}
}

// An open-loop run sends at its rate however slow the server is, and
// charges the server for the wait: latency counts from the intended start.
func TestOpenLoopKeepsRateAndCountsQueueing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	c := NewClient(1, time.Second)
	get := func(ctx context.Context, _ int) Outcome {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			return Outcome{Err: err}
		}
		resp.Body.Close()
		return Outcome{Status: resp.StatusCode}
	}
	// 100/s for 0.5s with one worker of 20ms: requests queue behind it.
	rs := Start(context.Background(), Options{Rate: 100, Workers: 1, Duration: 500 * time.Millisecond}, get).Wait()
	if n := len(rs.List); n < 15 || n > 51 {
		t.Fatalf("%d results, want about 25 (one worker at 20ms each)", n)
	}
	if s := rs.Summary(); s.Failed != 0 || s.Max < 100*time.Millisecond {
		t.Errorf("%s: want no failures and the queueing in the latency (max well over 20ms)", s)
	}
}

// A closed-loop run keeps exactly Workers requests in flight.
func TestClosedLoopWorkers(t *testing.T) {
	t.Parallel()
	var inFlight, most atomic.Int32
	do := func(ctx context.Context, _ int) Outcome {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		return Outcome{Status: http.StatusOK}
	}
	rs := Start(context.Background(), Options{Workers: 4, Duration: 200 * time.Millisecond}, do).Wait()
	if got := most.Load(); got != 4 {
		t.Errorf("at most %d requests in flight, want 4", got)
	}
	if s := rs.Summary(); s.Requests < 40 || s.Failed != 0 {
		t.Errorf("%s: want about 160 requests, none failed", s)
	}
}
