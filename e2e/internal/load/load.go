// Package load sends bounded HTTP load and summarises what came back. The
// fault tests use it to keep traffic flowing while they break the stack, and
// the bench command to measure throughput and latency.
//
// A run either holds a constant rate (open loop: each request has an
// intended start time, and its latency is counted from that time, so a
// server that stalls is charged for the requests it kept waiting rather
// than hiding them, the "coordinated omission" of closed-loop tools), or
// keeps a fixed number of requests in flight (closed loop, to find the
// saturation throughput). Every run ends by itself after its duration.
package load

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Outcome is what one request got.
type Outcome struct {
	Status int   // HTTP status; 0 when the request got no response
	Err    error // transport error, or the caller's verdict on the answer
}

// Func sends request number i and reports its outcome. It must honour ctx.
type Func func(ctx context.Context, i int) Outcome

// Result is one request of a run.
type Result struct {
	Outcome
	// I is the request's number, as given to the Func.
	I int
	// Start is when the request was meant to start, from the run's start.
	Start time.Duration
	// Latency runs from the intended start to the end of the answer.
	Latency time.Duration
}

// Options shape a run.
type Options struct {
	// Rate is the requests per second of an open-loop run; 0 makes a
	// closed-loop run of Workers requests always in flight.
	Rate float64
	// Workers bounds the requests in flight. An open-loop run that needs
	// more waits, and the wait counts in the latency.
	Workers int
	// Duration ends the run.
	Duration time.Duration
}

// Run is a run under way.
type Run struct {
	cancel  context.CancelFunc
	done    chan struct{}
	start   time.Time
	mu      sync.Mutex
	results []Result
	elapsed time.Duration
}

// Start begins a run in the background; Wait or Stop ends it.
func Start(ctx context.Context, o Options, do Func) *Run {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	r := &Run{cancel: cancel, done: make(chan struct{}), start: time.Now()}
	workers := max(o.Workers, 1)
	go func() {
		defer close(r.done)
		var wg sync.WaitGroup
		if o.Rate > 0 {
			r.open(ctx, &wg, o.Rate, workers, do)
		} else {
			r.closed(ctx, &wg, workers, do)
		}
		wg.Wait()
		r.elapsed = time.Since(r.start)
	}()
	return r
}

// open starts request i at start + i/rate, with at most workers in flight.
func (r *Run) open(ctx context.Context, wg *sync.WaitGroup, rate float64, workers int, do Func) {
	slots := make(chan struct{}, workers)
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ; i++ {
		due := r.start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(due)):
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r.send(ctx, i, due, do)
		})
	}
}

// closed keeps workers requests in flight until ctx ends.
func (r *Run) closed(ctx context.Context, wg *sync.WaitGroup, workers int, do Func) {
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				r.send(ctx, i, time.Now(), do)
			}
		})
	}
}

func (r *Run) send(ctx context.Context, i int, due time.Time, do Func) {
	out := do(ctx, i)
	end := time.Now()
	if ctx.Err() != nil && out.Err != nil {
		return // cut short by the end of the run: not an answer
	}
	r.mu.Lock()
	r.results = append(r.results, Result{Outcome: out, I: i, Start: due.Sub(r.start), Latency: end.Sub(due)})
	r.mu.Unlock()
}

// Offset returns when t was, from the run's start: the time base of
// Result.Start.
func (r *Run) Offset(t time.Time) time.Duration {
	return t.Sub(r.start)
}

// Wait waits for the run's end and returns its results.
func (r *Run) Wait() Results {
	<-r.done
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Results{List: r.results, Elapsed: r.elapsed}
}

// Stop ends the run now and returns its results. Requests in flight are
// cancelled and left out.
func (r *Run) Stop() Results {
	r.cancel()
	return r.Wait()
}

// NewClient returns an HTTP client for load: up to conns keep-alive
// connections to one host, no transparent gzip (so that every target is
// answered the same way), and timeout on each request. NewBrowserClient's
// client also resends as browsers do.
func NewClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // load goes to this machine only
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
}
