package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"bazaar/e2e/internal/load"
)

// Targets of issue 7, as ratios on the same machine.
const (
	minProductShare = 0.50 // cached product GET throughput / nginx static
	maxP99Factor    = 3.0  // cached product p99 / nginx static p99, at half the product's saturation
	minOrderShare   = 0.25 // orders placed per second / pgbench -N TPS
	maxIdleRSSBytes = 25 << 20
	mib             = 1 << 20
)

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// ms shows a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// table renders the report as plain text.
func (r report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Bazaar bench, %s, %d CPUs seen by Go, %s per run\n", r.when.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), r.phase)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cells ...any) {
		for _, c := range cells {
			fmt.Fprint(w, c, "\t")
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(&b, "\n1. Cached product vs nginx static file (%d B vs %d B bodies, %s)\n", r.productSize, r.staticSize, r.staticPath)
	sf, pf := r.staticFixed.Summary(), r.productFixed.Summary()
	row("", "saturation req/s", "failed", fmt.Sprintf("@%.0f/s p50 ms", r.rate), "p99 ms", "max ms", "failed")
	row("nginx static", fmt.Sprintf("%.0f", r.staticSat.Throughput), r.staticSat.Failed, ms(sf.P50), ms(sf.P99), ms(sf.Max), sf.Failed)
	row("cached product", fmt.Sprintf("%.0f", r.productSat.Throughput), r.productSat.Failed, ms(pf.P50), ms(pf.P99), ms(pf.Max), pf.Failed)
	share := r.productSat.Throughput / r.staticSat.Throughput
	factor := float64(pf.P99) / float64(sf.P99)
	row("product/static", fmt.Sprintf("%.0f%%", 100*share), "", fmt.Sprintf("%.1fx", float64(pf.P50)/float64(sf.P50)), fmt.Sprintf("%.1fx", factor), "", "")
	row("target", fmt.Sprintf(">= %.0f%% %s", 100*minProductShare, verdict(share >= minProductShare)), "", "", fmt.Sprintf("<= %.0fx %s", maxP99Factor, verdict(factor <= maxP99Factor)), "", "")
	w.Flush()
	cpuRows(w, []string{"nginx", "catalog", "redis"},
		cpuRow{"nginx static", r.staticCPU, r.staticSat.Requests},
		cpuRow{"cached product", r.productCPU, r.productSat.Requests})

	fmt.Fprintf(&b, "\n2. Product read: Redis cache hit vs miss (%.0f products, each read once per run, %.0f/s)\n", r.entries, float64(len(r.misses.List))/r.phase.Seconds())
	h, m := r.hits.Summary(), r.misses.Summary()
	row("", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed", "counted by catalog")
	row("hit", h.Requests, ms(h.P50), ms(h.P90), ms(h.P99), ms(h.Max), h.Failed, fmt.Sprintf("%.0f hits", r.hitsCounted))
	row("miss", m.Requests, ms(m.P50), ms(m.P90), ms(m.P99), ms(m.Max), m.Failed, fmt.Sprintf("%.0f misses", r.missesCounted))
	row("miss/hit", "", fmt.Sprintf("%.1fx", float64(m.P50)/float64(h.P50)), "", fmt.Sprintf("%.1fx", float64(m.P99)/float64(h.P99)), "", "", "")
	w.Flush()

	fmt.Fprintf(&b, "\n3. Order placement vs pgbench -N on the same PostgreSQL (%d clients each)\n", r.clients)
	orderShare := r.orders.Throughput / r.pgbenchTPS
	row("", "per second", "p50 ms", "p99 ms", "failed")
	row("POST /api/orders", fmt.Sprintf("%.0f", r.orders.Throughput), ms(r.orders.P50), ms(r.orders.P99), r.orders.Failed)
	row("pgbench -N", fmt.Sprintf("%.0f", r.pgbenchTPS), "", "", "")
	row("orders/pgbench", fmt.Sprintf("%.0f%%", 100*orderShare), "", "", "")
	row("target", fmt.Sprintf(">= %.0f%% %s", 100*minOrderShare, verdict(orderShare >= minOrderShare)), "", "", "")
	w.Flush()
	cpuRows(w, []string{"nginx", "orders", "catalog", "postgres", "redis"},
		cpuRow{"per order", r.ordersCPU, r.orders.Requests},
		cpuRow{"per pgbench tx", r.pgbenchCPU, int(r.pgbenchTPS * r.phase.Seconds())})

	fmt.Fprintf(&b, "\n4. Memory (MiB): usage as docker stats counts it (idle, peak under load, idle %s after), and the Go services' resident set (RSS)\n", r.settle)
	row("container", "idle", "loaded (peak)", "idle after load", "RSS idle", "RSS after load", "target: RSS idle")
	for _, svc := range r.sortedServices() {
		cells := []any{svc, mibs(r.idle.usage[svc]), mibs(r.loaded.usage[svc]), mibs(r.after.usage[svc])}
		if slices.Contains(goServices, svc) {
			ok := r.idle.rss[svc] <= maxIdleRSSBytes
			cells = append(cells, mibs(r.idle.rss[svc]), mibs(r.after.rss[svc]),
				fmt.Sprintf("<= %d %s", maxIdleRSSBytes/mib, verdict(ok)))
		} else {
			cells = append(cells, "", "", "")
		}
		row(cells...)
	}
	w.Flush()
	return b.String()
}

func mibs(b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", b/mib)
}

// sortedServices lists the Go services first, then the rest by name.
func (r report) sortedServices() []string {
	out := slices.Clone(goServices)
	rest := slices.DeleteFunc(slices.Clone(r.services), func(s string) bool { return slices.Contains(goServices, s) })
	slices.Sort(rest)
	return append(out, rest...)
}

// millis returns a run's latencies in milliseconds, sorted.
func millis(rs load.Results) []float64 {
	l := rs.Latencies()
	out := make([]float64, len(l))
	for i, d := range l {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// cpuRow is the CPU the containers spent on a run of n requests.
type cpuRow struct {
	name string
	use  cpuUse
	n    int
}

// cpuRows shows the CPU time per request of the named containers and of
// all of them (idle ones included), in microseconds: unlike throughput and
// latency, it barely moves with what else the machine is doing.
func cpuRows(w *tabwriter.Writer, containers []string, rows ...cpuRow) {
	fmt.Fprint(w, "CPU µs per request\t")
	for _, c := range containers {
		fmt.Fprint(w, c, "\t")
	}
	fmt.Fprintln(w, "all containers\t")
	for _, r := range rows {
		fmt.Fprint(w, r.name, "\t")
		var all time.Duration
		for _, v := range r.use {
			all += v
		}
		for _, c := range append(containers, "") {
			v := all
			if c != "" {
				v = r.use[c]
			}
			fmt.Fprintf(w, "%.0f\t", float64(v.Microseconds())/float64(max(r.n, 1)))
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}
