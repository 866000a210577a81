package load

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Results are the answered requests of a run, in the order they ended.
type Results struct {
	List    []Result
	Elapsed time.Duration
}

// Failed reports whether a result counts as a failure: a transport error,
// the caller's verdict, or a 5xx.
func (r Result) Failed() bool {
	return r.Err != nil || r.Status == 0 || r.Status >= 500
}

// Failures returns the failed results.
func (rs Results) Failures() []Result {
	var out []Result
	for _, r := range rs.List {
		if r.Failed() {
			out = append(out, r)
		}
	}
	return out
}

// Filter returns the results for which keep holds, over the same run time.
func (rs Results) Filter(keep func(Result) bool) Results {
	out := Results{Elapsed: rs.Elapsed}
	for _, r := range rs.List {
		if keep(r) {
			out.List = append(out.List, r)
		}
	}
	return out
}

// Throughput is the successful requests per second over the run.
func (rs Results) Throughput() float64 {
	if rs.Elapsed <= 0 {
		return 0
	}
	return float64(len(rs.List)-len(rs.Failures())) / rs.Elapsed.Seconds()
}

// Latencies returns every latency, sorted.
func (rs Results) Latencies() []time.Duration {
	out := make([]time.Duration, len(rs.List))
	for i, r := range rs.List {
		out[i] = r.Latency
	}
	slices.Sort(out)
	return out
}

// Percentile returns the q-th quantile (0 < q ≤ 1) of sorted latencies, by
// the nearest-rank method: exact, since every latency is kept.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Summary is a run in a few numbers.
type Summary struct {
	Requests, Failed int
	Throughput       float64 // successful requests per second
	P50, P90, P99    time.Duration
	Max              time.Duration
}

// Summary summarises the run.
func (rs Results) Summary() Summary {
	l := rs.Latencies()
	s := Summary{Requests: len(rs.List), Failed: len(rs.Failures()), Throughput: rs.Throughput()}
	if len(l) > 0 {
		s.P50, s.P90, s.P99, s.Max = Percentile(l, .5), Percentile(l, .9), Percentile(l, .99), l[len(l)-1]
	}
	return s
}

func (s Summary) String() string {
	return fmt.Sprintf("%d requests, %d failed, %.0f/s, p50 %s, p90 %s, p99 %s, max %s",
		s.Requests, s.Failed, s.Throughput, Round(s.P50), Round(s.P90), Round(s.P99), Round(s.Max))
}

// Round shortens a latency for people: three significant digits.
func Round(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d
}
