package cache_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
	"bazaar/catalog/cache"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
)

func ptr[T any](v T) *T { return &v }

func mustFind(t *testing.T, s catalog.ProductStore, id string) catalog.Product {
	t.Helper()
	p, err := s.FindProduct(context.Background(), id)
	if err != nil {
		t.Fatalf("find %s: %v", id, err)
	}
	return p
}

func mustList(t *testing.T, s catalog.ProductStore, f catalog.ProductFilter) []catalog.Product {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = catalog.MaxLimit
	}
	page, err := s.FindProducts(context.Background(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	return page.Items
}

// TestNoStaleReadAfterWrite writes through one replica while readers keep
// filling the cache through another, and reads through that other replica
// right after each write answers: the read must show the write.
func TestNoStaleReadAfterWrite(t *testing.T) {
	reset(t)
	a := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	b := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	p := catalogtest.MustCreate(t, a.products, catalogtest.Input("LIVE-1", "Live Item", "", "misc", 100, 1000))

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = b.products.FindProduct(ctx, p.ID)
				_, _ = b.products.FindProducts(ctx, catalog.ProductFilter{Limit: 10})
				_, _ = b.products.FindCategories(ctx)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()

	for i := range 50 {
		price := int64(1000 + i)
		if _, err := a.products.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{PriceCents: &price}); err != nil {
			t.Fatal(err)
		}
		if got := mustFind(t, b.products, p.ID); got.PriceCents != price {
			t.Fatalf("round %d: read after update shows price %d, want %d", i, got.PriceCents, price)
		}
		if items := mustList(t, b.products, catalog.ProductFilter{Limit: 10}); items[0].PriceCents != price {
			t.Fatalf("round %d: listing after update shows price %d, want %d", i, items[0].PriceCents, price)
		}

		res, err := a.reservations.Reserve(context.Background(), catalog.ReservationRequest{
			OrderID: catalogtest.OrderID(),
			Items:   []catalog.ReservationLine{{ProductID: p.ID, Quantity: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := mustFind(t, b.products, p.ID); got.Stock != 999-i {
			t.Fatalf("round %d: read after reserve shows stock %d, want %d", i, got.Stock, 999-i)
		}
		if items := mustList(t, b.products, catalog.ProductFilter{Limit: 10}); items[0].Stock != 999-i {
			t.Fatalf("round %d: listing after reserve shows stock %d, want %d", i, items[0].Stock, 999-i)
		}
		if _, err := a.reservations.Release(context.Background(), res.OrderID); err != nil {
			t.Fatal(err)
		}
		if got := mustFind(t, b.products, p.ID); got.Stock != 1000-i {
			t.Fatalf("round %d: read after release shows stock %d, want %d", i, got.Stock, 1000-i)
		}
		// Leave one unit reserved per round, so that stock keeps changing.
		if _, err := a.reservations.Reserve(context.Background(), catalog.ReservationRequest{
			OrderID: catalogtest.OrderID(),
			Items:   []catalog.ReservationLine{{ProductID: p.ID, Quantity: 1}},
		}); err != nil {
			t.Fatal(err)
		}

		other := catalogtest.MustCreate(t, a.products, catalogtest.Input(fmt.Sprintf("NEW-%d", i), "New", "", "misc", 1, 1))
		if got := mustFind(t, b.products, other.ID); got.ID != other.ID {
			t.Fatalf("round %d: new product not readable", i)
		}
		cats, err := b.products.FindCategories(context.Background())
		if err != nil || cats[0].ProductCount != 2 {
			t.Fatalf("round %d: categories after create = %+v, %v; want 2 products", i, cats, err)
		}
		if err := a.products.DeleteProduct(context.Background(), other.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.products.FindProduct(context.Background(), other.ID); err == nil {
			t.Fatalf("round %d: deleted product still readable", i)
		}
		if items := mustList(t, b.products, catalog.ProductFilter{Category: "misc"}); len(items) != 1 {
			t.Fatalf("round %d: listing after delete has %d products, want 1", i, len(items))
		}
		cats, err = b.products.FindCategories(context.Background())
		if err != nil || cats[0].ProductCount != 1 {
			t.Fatalf("round %d: categories after delete = %+v, %v; want 1 product", i, cats, err)
		}
	}
}

// gatedStore holds back a load once armed: the load reads PostgreSQL, then
// waits until the test lets it return, so a write can be slipped in between
// a reader's read of the database and its filling of the cache.
type gatedStore struct {
	cache.Store
	armed   atomic.Bool
	loaded  chan struct{}
	proceed chan struct{}
}

func newGatedStore() *gatedStore {
	return &gatedStore{Store: postgres.NewProductStore(db.Pool), loaded: make(chan struct{}), proceed: make(chan struct{})}
}

func (g *gatedStore) gate() {
	if g.armed.CompareAndSwap(true, false) {
		g.loaded <- struct{}{}
		<-g.proceed
	}
}

func (g *gatedStore) FindProduct(ctx context.Context, id string) (catalog.Product, error) {
	p, err := g.Store.FindProduct(ctx, id)
	g.gate()
	return p, err
}

func (g *gatedStore) FindProducts(ctx context.Context, f catalog.ProductFilter) (catalog.ProductPage, error) {
	page, err := g.Store.FindProducts(ctx, f)
	g.gate()
	return page, err
}

func (g *gatedStore) FindCategories(ctx context.Context) ([]catalog.Category, error) {
	cats, err := g.Store.FindCategories(ctx)
	g.gate()
	return cats, err
}

// TestSlowFillAfterInvalidationIsNotServed plays the race that plain
// delete-on-write cache-aside loses: a reader loads the old row, the write
// commits and invalidates, then the reader stores the old row. The next
// read must still show the write.
func TestSlowFillAfterInvalidationIsNotServed(t *testing.T) {
	for _, c := range []struct {
		name  string
		read  func(s catalog.ProductStore, id string) (string, error)
		write func(s catalog.ProductStore, id string) error
	}{
		{
			name: "product",
			read: func(s catalog.ProductStore, id string) (string, error) {
				p, err := s.FindProduct(context.Background(), id)
				return p.Name, err
			},
			write: func(s catalog.ProductStore, id string) error {
				_, err := s.UpdateProduct(context.Background(), id, catalog.ProductInput{Name: ptr("New Name")})
				return err
			},
		},
		{
			name: "listing",
			read: func(s catalog.ProductStore, _ string) (string, error) {
				page, err := s.FindProducts(context.Background(), catalog.ProductFilter{Limit: 5})
				return fmt.Sprint(len(page.Items)), err
			},
			write: func(s catalog.ProductStore, _ string) error {
				_, err := s.CreateProduct(context.Background(), catalogtest.Input("SECOND", "Second", "", "misc", 1, 1))
				return err
			},
		},
		{
			name: "categories",
			read: func(s catalog.ProductStore, _ string) (string, error) {
				cats, err := s.FindCategories(context.Background())
				return fmt.Sprint(cats), err
			},
			write: func(s catalog.ProductStore, _ string) error {
				_, err := s.CreateProduct(context.Background(), catalogtest.Input("SECOND", "Second", "", "other", 1, 1))
				return err
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			reset(t)
			gated := newGatedStore()
			reader := newReplica(t, rds.URL, gated)
			writer := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
			p := catalogtest.MustCreate(t, writer.products, catalogtest.Input("FIRST", "Old Name", "", "misc", 1, 1))

			gated.armed.Store(true)
			stale := make(chan string)
			go func() {
				v, _ := c.read(reader.products, p.ID)
				stale <- v
			}()
			<-gated.loaded // the reader holds data from before the write
			if err := c.write(writer.products, p.ID); err != nil {
				t.Fatal(err)
			}
			want, err := c.read(postgres.NewProductStore(db.Pool), p.ID)
			if err != nil {
				t.Fatal(err)
			}
			close(gated.proceed) // the reader now fills the cache with it
			old := <-stale
			if old == want {
				t.Fatalf("the held-back read saw the write (%q): the test did not set up the race", old)
			}
			for _, s := range []catalog.ProductStore{reader.products, writer.products} {
				if got, err := c.read(s, p.ID); err != nil || got != want {
					t.Errorf("read after the write = %q, %v; want %q", got, err, want)
				}
			}
		})
	}
}

// countingStore counts loads and makes each take a while, so that
// concurrent readers of a cold entry overlap.
type countingStore struct {
	cache.Store
	products, pages atomic.Int64
}

func (c *countingStore) FindProduct(ctx context.Context, id string) (catalog.Product, error) {
	c.products.Add(1)
	time.Sleep(50 * time.Millisecond)
	return c.Store.FindProduct(ctx, id)
}

func (c *countingStore) FindProducts(ctx context.Context, f catalog.ProductFilter) (catalog.ProductPage, error) {
	c.pages.Add(1)
	time.Sleep(50 * time.Millisecond)
	return c.Store.FindProducts(ctx, f)
}

func TestStampedeLoadsOnce(t *testing.T) {
	reset(t)
	store := &countingStore{Store: postgres.NewProductStore(db.Pool)}
	r := newReplica(t, rds.URL, store)
	p := catalogtest.MustCreate(t, r.products, catalogtest.Input("S-1", "Popular", "", "misc", 1, 1))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if got := mustFind(t, r.products, p.ID); got.ID != p.ID {
				t.Errorf("got %s", got.ID)
			}
			if items := mustList(t, r.products, catalog.ProductFilter{Limit: 10}); len(items) != 1 {
				t.Errorf("listed %d", len(items))
			}
		})
	}
	wg.Wait()
	if n, m := store.products.Load(), store.pages.Load(); n != 1 || m != 1 {
		t.Errorf("50 concurrent cold reads loaded the product %d times and the page %d times; want once each", n, m)
	}
}

func TestMetricsCountHitsAndMisses(t *testing.T) {
	reset(t)
	r := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	p := catalogtest.MustCreate(t, r.products, catalogtest.Input("M-1", "Metered", "", "misc", 1, 1))
	mustFind(t, r.products, p.ID)
	mustFind(t, r.products, p.ID)
	mustList(t, r.products, catalog.ProductFilter{}) // list miss, fresh products
	mustList(t, r.products, catalog.ProductFilter{}) // list hit, product hit
	for _, c := range []struct {
		name, kind string
		want       float64
	}{
		{"catalog_cache_misses_total", "product", 1},
		{"catalog_cache_hits_total", "product", 2},
		{"catalog_cache_misses_total", "list", 1},
		{"catalog_cache_hits_total", "list", 1},
		{"catalog_cache_bypassed_total", "product", 0},
		{"catalog_cache_errors_total", "", 0},
	} {
		if got := counter(t, r.registry, c.name, c.kind); got != c.want {
			t.Errorf("%s{kind=%q} = %v, want %v", c.name, c.kind, got, c.want)
		}
	}
}

// TestRedisDownReadsFromPostgres points the cache at a Redis that refuses
// connections and at one that accepts and never answers: every read and
// write still succeeds, quickly, and the failures are counted.
func TestRedisDownReadsFromPostgres(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Close() }()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, conn) }() // reads, never answers
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "redis://" + refused.Addr().String()
	_ = refused.Close()

	for name, url := range map[string]string{"refused": refusedURL, "silent": "redis://" + silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			reset(t)
			r := newReplicaWithTimeout(t, url, postgres.NewProductStore(db.Pool), 100*time.Millisecond)
			p := catalogtest.MustCreate(t, r.products, catalogtest.Input("DOWN-1", "Still Served", "", "misc", 1, 5))
			start := time.Now()
			for i := range 20 {
				if got := mustFind(t, r.products, p.ID); got.Name != "Still Served" {
					t.Fatalf("read %d = %+v", i, got)
				}
				if items := mustList(t, r.products, catalog.ProductFilter{Query: "served"}); len(items) != 1 {
					t.Fatalf("listing %d = %d items", i, len(items))
				}
				if _, err := r.products.FindCategories(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			// A few Redis timeouts at most, once per breaker interval; not
			// one per read.
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("60 reads took %v with Redis down", elapsed)
			}
			if _, err := r.products.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{Stock: ptr(4)}); err != nil {
				t.Fatal(err)
			}
			if got := mustFind(t, r.products, p.ID); got.Stock != 4 {
				t.Errorf("read after update with Redis down: stock %d, want 4", got.Stock)
			}
			if n := counter(t, r.registry, "catalog_cache_errors_total", ""); n < 1 {
				t.Errorf("errors counted = %v, want some", n)
			}
			if n := counter(t, r.registry, "catalog_cache_bypassed_total", "product"); n < 10 {
				t.Errorf("bypassed product reads = %v, want most of them", n)
			}
		})
	}
}

// proxy forwards TCP to Redis until cut, to play a network failure between
// one replica and Redis while Redis itself stays up.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// TestInvalidationMissedDuringOutageIsMadeOnRecovery cuts one replica off
// Redis, writes through it, and reconnects it: its missed invalidation is
// made before it reads from Redis again, so neither replica serves the old
// value afterwards.
func TestInvalidationMissedDuringOutageIsMadeOnRecovery(t *testing.T) {
	reset(t)
	target := rds.URL[len("redis://"):]
	px := newProxy(t, target)
	a := newReplica(t, "redis://"+px.ln.Addr().String(), postgres.NewProductStore(db.Pool))
	b := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	p := catalogtest.MustCreate(t, a.products, catalogtest.Input("NET-1", "Before", "", "misc", 1, 1))
	mustFind(t, a.products, p.ID)
	mustFind(t, b.products, p.ID) // cached: "Before"

	px.setDown(true)
	if _, err := a.products.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{Name: ptr("After")}); err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, a.products, p.ID); got.Name != "After" {
		t.Errorf("the writing replica, cut off Redis, reads %q; want After", got.Name)
	}

	px.setDown(false)
	time.Sleep(100 * time.Millisecond) // past the breaker's RetryAfter
	for range 2 {                      // a miss, then a hit
		if got := mustFind(t, a.products, p.ID); got.Name != "After" {
			t.Errorf("the writing replica, reconnected, reads %q; want After", got.Name)
		}
	}
	if got := mustFind(t, b.products, p.ID); got.Name != "After" {
		t.Errorf("the other replica reads %q after the reconnection; want After", got.Name)
	}
	if n := counter(t, a.registry, "catalog_cache_hits_total", "product"); n < 1 {
		t.Errorf("the reconnected replica made %v cache hits; want it to use Redis again", n)
	}
}

// TestReservationKeepsListingCached checks that a stock change refreshes the
// product in listings without throwing the listing pages away.
func TestReservationKeepsListingCached(t *testing.T) {
	reset(t)
	r := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	ps := catalogtest.MustCreateN(t, r.products, 3, "K", "misc")
	before := mustList(t, r.products, catalog.ProductFilter{})
	if _, err := r.reservations.Reserve(context.Background(), catalog.ReservationRequest{
		OrderID: catalogtest.OrderID(),
		Items:   []catalog.ReservationLine{{ProductID: ps[1].ID, Quantity: 4}},
	}); err != nil {
		t.Fatal(err)
	}
	after := mustList(t, r.products, catalog.ProductFilter{})
	want := append([]catalog.Product(nil), before...)
	want[1].Stock -= 4
	if diff := cmp.Diff(want, after, cmp.Comparer(func(time.Time, time.Time) bool { return true })); diff != "" {
		t.Errorf("listing after the reservation (-want +got):\n%s", diff)
	}
	if n := counter(t, r.registry, "catalog_cache_hits_total", "list"); n != 1 {
		t.Errorf("list hits = %v, want 1: the page survived the reservation", n)
	}
}

// TestEvictedVersionNeverRevivesOldEntry plays the Redis under memory
// pressure (allkeys-lru): an old entry is still there, left by a slow
// reader after a write, and the product's version is evicted. The version
// made anew must not be the old one, or the old entry would be served.
func TestEvictedVersionNeverRevivesOldEntry(t *testing.T) {
	reset(t)
	r := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool))
	p := catalogtest.MustCreate(t, r.products, catalogtest.Input("EV-1", "Old Name", "", "misc", 1, 1))
	mustFind(t, r.products, p.ID)

	ctx := context.Background()
	rdb := redisClient(t)
	keys, err := rdb.Keys(ctx, "*:p:"+p.ID+":*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("entry keys = %v, %v; want one", keys, err)
	}
	old, err := rdb.Get(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.products.UpdateProduct(ctx, p.ID, catalog.ProductInput{Name: ptr("New Name")}); err != nil {
		t.Fatal(err)
	}
	// The slow reader's fill lands after the write, and the version goes.
	if err := rdb.Set(ctx, keys[0], old, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	versions, err := rdb.Keys(ctx, "*:pv:"+p.ID).Result()
	if err != nil || len(versions) != 1 {
		t.Fatalf("version keys = %v, %v; want one", versions, err)
	}
	if err := rdb.Del(ctx, versions[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, r.products, p.ID); got.Name != "New Name" {
		t.Errorf("read after the eviction = %q, want New Name", got.Name)
	}
}
