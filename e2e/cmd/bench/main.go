// Command bench measures a running Bazaar stack through nginx, side by side
// with baselines on the same machine, and prints a table (also written to
// results.txt) with PNG plots beside it:
//
//  1. a cached GET /api/catalog/products/{id} against nginx serving a static
//     file of the same size: saturation throughput (closed loop), then p50
//     and p99 of both at one fixed rate, half the product's saturation (open
//     loop, the two in alternating one-second slices): the product path at
//     half load, where latency is its own and not a queue's;
//  2. the latency of a product read that hits the Redis cache against one
//     that misses it;
//  3. order placement throughput against `pgbench -N` on the same
//     PostgreSQL, with as many clients;
//  4. each container's memory: idle before the load, its peak under load,
//     and idle again after it.
//
// scripts/bench.sh starts a stack of its own with rate limits off and runs
// this; see `go run ./cmd/bench -h` for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"bazaar/e2e/internal/load"
)

type config struct {
	base, project, out string
	phase              time.Duration
	conns, clients     int
	staticPath         string
	profile            bool
	settle             time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.base, "base", "", "nginx's address on this machine, e.g. http://127.0.0.1:8080 (required)")
	flag.StringVar(&c.project, "project", "", "the stack's compose project name (required)")
	flag.StringVar(&c.out, "out", "bench-results", "directory for results.txt, the plots and profiles")
	flag.DurationVar(&c.phase, "phase", 10*time.Second, "length of each measured run")
	flag.IntVar(&c.conns, "conns", 32, "connections kept busy by the saturation runs")
	flag.IntVar(&c.clients, "clients", 16, "concurrent order placements, and pgbench's clients")
	flag.StringVar(&c.staticPath, "static", "/index.html", "the static file nginx serves as the baseline")
	flag.BoolVar(&c.profile, "pprof", false, "also save CPU profiles of the services under load (pprof-*.pb.gz)")
	flag.DurationVar(&c.settle, "settle", 15*time.Second, "quiet time before the idle memory reading after the load")
	flag.Parse()
	if c.base == "" || c.project == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Every run is bounded; this bounds the whole, set-up included.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if err := run(ctx, c); err != nil {
		log.Fatal(err)
	}
}

// report is everything the table and plots show.
type report struct {
	when                                time.Time
	phase, settle                       time.Duration
	staticPath                          string
	staticSize, productSize             int
	staticSat, productSat               load.Summary
	staticCPU, productCPU, ordersCPU    cpuUse
	pgbenchCPU                          cpuUse
	rate                                float64
	staticFixed, productFixed           load.Results
	hits, misses                        load.Results
	hitsCounted, missesCounted, entries float64
	orders                              load.Summary
	clients                             int
	pgbenchTPS                          float64
	idle, loaded, after                 memory
	services                            []string
}

func run(ctx context.Context, c config) error {
	st, err := newStack(ctx, c.project)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	r := report{when: time.Now().UTC(), phase: c.phase, settle: c.settle, clients: c.clients, staticPath: c.staticPath}
	for svc := range st.containers {
		r.services = append(r.services, svc)
	}
	progress("idle memory")
	if r.idle, err = st.memory(ctx); err != nil {
		return err
	}
	setup := &api{base: c.base, http: load.NewClient(8, 30*time.Second)}
	admin, err := setup.login(ctx, envOr("ADMIN_EMAIL", "admin@bazaar.local"), envOr("ADMIN_PASSWORD", "change-me-admin"))
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	staticURL := c.base + c.staticPath
	if r.staticSize, err = bodySize(ctx, setup.http, staticURL); err != nil {
		return err
	}
	productURL, err := sizedProduct(ctx, setup, admin, r.staticSize)
	if err != nil {
		return err
	}
	if r.productSize, err = bodySize(ctx, setup.http, productURL); err != nil {
		return err
	}

	peakCtx, stopPeak := context.WithCancel(ctx)
	peak := st.peak(peakCtx, 2*time.Second)
	defer stopPeak()

	progress("saturation: %d connections, %s each", c.conns, c.phase)
	sat := func(url string) (load.Summary, cpuUse, error) {
		client := load.NewClient(c.conns, 10*time.Second)
		warm := load.Options{Workers: c.conns, Duration: 2 * time.Second}
		load.Start(ctx, warm, get(client, url)).Wait()
		var rs load.Results
		use, err := st.during(ctx, func() error {
			rs = load.Start(ctx, load.Options{Workers: c.conns, Duration: c.phase}, get(client, url)).Wait()
			return nil
		})
		return rs.Summary(), use, err
	}
	if r.staticSat, r.staticCPU, err = sat(staticURL); err != nil {
		return err
	}
	stopProfile := c.startProfiles(ctx, st, "product", "catalog")
	if r.productSat, r.productCPU, err = sat(productURL); err != nil {
		return err
	}
	if err := stopProfile(); err != nil {
		return err
	}

	r.rate = r.productSat.Throughput / 2
	progress("fixed rate: %.0f requests/s, %s each, in alternating one-second slices", r.rate, c.phase)
	r.staticFixed, r.productFixed = fixedRate(ctx, r.rate, c.phase, staticURL, productURL)

	if err := cacheRuns(ctx, c, st, setup, admin, &r); err != nil {
		return err
	}
	if err := orderRuns(ctx, c, st, setup, admin, &r); err != nil {
		return err
	}

	stopPeak()
	r.loaded = <-peak
	progress("idle memory again, after %s", c.settle)
	time.Sleep(c.settle)
	if r.after, err = st.memory(ctx); err != nil {
		return err
	}

	table := r.table()
	fmt.Print(table)
	if err := os.WriteFile(filepath.Join(c.out, "results.txt"), []byte(table), 0o644); err != nil {
		return err
	}
	plots, err := r.plot(c.out)
	if err != nil {
		return err
	}
	fmt.Printf("\nPlots: %s\n", strings.Join(plots, ", "))
	return nil
}

// fixedRate reads the two URLs at rate requests per second (open loop),
// each for phase in all, in alternating one-second slices: whatever else
// the machine does meanwhile (its p99 is that noise as much as the stack)
// falls on both alike.
func fixedRate(ctx context.Context, rate float64, phase time.Duration, a, b string) (load.Results, load.Results) {
	client := load.NewClient(256, 10*time.Second)
	var out [2]load.Results
	for range int(phase.Seconds()) {
		for i, url := range []string{a, b} {
			rs := load.Start(ctx, load.Options{Rate: rate, Workers: 256, Duration: time.Second}, get(client, url)).Wait()
			out[i].List = append(out[i].List, rs.List...)
			out[i].Elapsed += rs.Elapsed
		}
	}
	return out[0], out[1]
}

// sizedProduct creates a product whose JSON is size bytes long (its
// description padded), so that it and the static file cost the same to send,
// reads it once so that it is cached, and returns its URL.
func sizedProduct(ctx context.Context, a *api, admin string, size int) (string, error) {
	ps, err := a.createProducts(ctx, admin, 1, 1000, "x")
	if err != nil {
		return "", err
	}
	url := a.base + "/api/catalog/products/" + ps[0].ID
	n, err := bodySize(ctx, a.http, url)
	if err != nil {
		return "", err
	}
	if pad := size - n; pad > 0 {
		// Timestamps print without trailing zeros, so a byte may differ.
		desc := strings.Repeat("x", 1+pad)
		if err := a.call(ctx, "PATCH", "/api/catalog/products/"+ps[0].ID, admin, map[string]string{"description": desc}, nil); err != nil {
			return "", err
		}
	}
	_, err = bodySize(ctx, a.http, url)
	return url, err
}

// cacheRuns reads products never read before (each a cache miss), then
// the same ones again (each a hit), at the same low rate.
func cacheRuns(ctx context.Context, c config, st *stack, a *api, admin string, r *report) error {
	const rate = 25
	// One more second of products than the run reads: none is read twice.
	n := int(rate * (c.phase.Seconds() + 1))
	progress("cache: creating %d products", n)
	ps, err := a.createProducts(ctx, admin, n, 1000, "A product for the cache runs.")
	if err != nil {
		return err
	}
	client := load.NewClient(64, 10*time.Second)
	read := func(ctx context.Context, i int) load.Outcome {
		return get(client, a.base+"/api/catalog/products/"+ps[i%n].ID)(ctx, i)
	}
	counts := func() (hits, misses float64, err error) {
		m, err := st.internal(ctx, "http://catalog-internal:8081/metrics")
		return metric(m, "catalog_cache_hits_total", `kind="product"`), metric(m, "catalog_cache_misses_total", `kind="product"`), err
	}
	progress("cache: misses then hits, %d requests/s, %s each", rate, c.phase)
	h0, m0, err := counts()
	if err != nil {
		return err
	}
	opts := load.Options{Rate: rate, Workers: 64, Duration: c.phase}
	r.misses = load.Start(ctx, opts, read).Wait()
	h1, m1, err := counts()
	if err != nil {
		return err
	}
	r.hits = load.Start(ctx, opts, read).Wait()
	h2, _, err := counts()
	if err != nil {
		return err
	}
	r.entries, r.missesCounted, r.hitsCounted = float64(n), m1-m0, h2-h1
	if h1 != h0 {
		return errors.New("cache: the miss run had cache hits; was the cache warm?")
	}
	return nil
}

// orderRuns measures order placement, then pgbench -N with as many clients.
func orderRuns(ctx context.Context, c config, st *stack, a *api, admin string, r *report) error {
	progress("orders: %d shoppers, 50 products", c.clients)
	tokens, err := a.shoppers(ctx, c.clients)
	if err != nil {
		return err
	}
	ps, err := a.createProducts(ctx, admin, 50, 1_000_000, "A product for the order runs.")
	if err != nil {
		return err
	}
	client := load.NewClient(c.clients, 30*time.Second)
	place := placeOrder(client, a.base, tokens, ps)
	load.Start(ctx, load.Options{Workers: c.clients, Duration: 2 * time.Second}, place).Wait()
	progress("orders: %d placing at once, %s", c.clients, c.phase)
	stopProfile := c.startProfiles(ctx, st, "orders", "orders", "catalog")
	r.ordersCPU, err = st.during(ctx, func() error {
		r.orders = load.Start(ctx, load.Options{Workers: c.clients, Duration: c.phase}, place).Wait().Summary()
		return nil
	})
	if err != nil {
		return err
	}
	if err := stopProfile(); err != nil {
		return err
	}
	progress("pgbench -N: %d clients, %s", c.clients, c.phase)
	r.pgbenchTPS, r.pgbenchCPU, err = st.pgbench(ctx, c.clients, c.phase)
	return err
}

// startProfiles starts CPU profiles of services (from their internal
// ports) lasting a phase, when -pprof is set; the returned func waits for
// them and saves them as pprof-<service>-<name>.pb.gz.
func (c config) startProfiles(ctx context.Context, st *stack, name string, services ...string) func() error {
	if !c.profile {
		return func() error { return nil }
	}
	errs := make(chan error, len(services))
	for _, svc := range services {
		go func() {
			url := fmt.Sprintf("http://%s-internal:8081/debug/pprof/profile?seconds=%d", svc, int(c.phase.Seconds()))
			data, err := st.internal(ctx, url)
			if err == nil {
				err = os.WriteFile(filepath.Join(c.out, fmt.Sprintf("pprof-%s-%s.pb.gz", svc, name)), []byte(data), 0o644)
			}
			errs <- err
		}()
	}
	return func() error {
		var all []error
		for range services {
			all = append(all, <-errs)
		}
		return errors.Join(all...)
	}
}

// progress tells what the bench does now, on the standard error.
func progress(format string, args ...any) {
	log.Printf("bench: "+format, args...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
