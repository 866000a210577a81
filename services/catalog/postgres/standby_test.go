package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/catalog"
	"bazaar/catalog/postgres"
	"bazaar/platform/pg"
)

// counter is a postgres.ReadCounter that remembers the counts.
type counter struct {
	mu     sync.Mutex
	counts map[[2]string]int
}

func (c *counter) CountRead(node, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[[2]string{node, reason}]++
}

func (c *counter) get(node, reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[[2]string{node, reason}]
}

// newStandby returns a Standby whose standby pool is standbyURL's, checked
// a few times before it is returned, and its reads counter.
func newStandby(t *testing.T, standbyURL string) (*postgres.Standby, *counter) {
	t.Helper()
	ctx := context.Background()
	pool, err := pg.NewPool(ctx, pg.Config{URL: standbyURL, MaxConns: 2, MinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	reads := &counter{counts: map[[2]string]int{}}
	s := postgres.NewStandby(db.Pool, pool, postgres.StandbyConfig{MaxLag: time.Second, Timeout: time.Second, CheckEvery: 50 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)), reads)
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go s.Run(runCtx)
	time.Sleep(300 * time.Millisecond) // a few checks
	return s, reads
}

// A "standby" that is the primary itself (as after a failover, when the
// standby's address names the promoted node) is not one: listings and
// categories come from the primary, and are right.
func TestStandbyThatIsNoStandbyLeavesReadsOnThePrimary(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	p, err := store.CreateProduct(ctx, catalog.ProductInput{SKU: ptr("SB-1"), Name: ptr("Standby lamp"), Description: ptr("lamp"), PriceCents: ptr(int64(100)), Currency: ptr("EUR"), Stock: ptr(1), Category: ptr("lamps")})
	if err != nil {
		t.Fatal(err)
	}
	s, reads := newStandby(t, db.URL)
	routed := postgres.NewProductStoreReadingFrom(db.Pool, s)
	page, err := routed.FindProducts(ctx, catalog.ProductFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != p.ID {
		t.Fatalf("listing = %+v, want the one product", page.Items)
	}
	cats, err := routed.FindCategories(ctx)
	if err != nil || len(cats) != 1 || cats[0].ProductCount != 1 {
		t.Fatalf("categories = %+v, %v; want lamps with 1 product", cats, err)
	}
	if n := reads.get("primary", "not a standby"); n != 2 {
		t.Errorf("reads on the primary because the standby is none = %v, want 2", n)
	}
	if n := reads.get("standby", ""); n != 0 {
		t.Errorf("reads on the standby = %v, want 0", n)
	}
}

// A standby that cannot be reached costs a read nothing: it goes to the
// primary at once, not after a connection timeout.
func TestUnreachableStandbyLeavesReadsOnThePrimary(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	if _, err := store.CreateProduct(ctx, catalog.ProductInput{SKU: ptr("SB-2"), Name: ptr("Standby chair"), Description: ptr("chair"), PriceCents: ptr(int64(100)), Currency: ptr("EUR"), Stock: ptr(1), Category: ptr("chairs")}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	s, reads := newStandby(t, "postgres://catalog@"+gone+"/bazaar?sslmode=disable&target_session_attrs=standby")
	routed := postgres.NewProductStoreReadingFrom(db.Pool, s)
	for range 20 {
		start := time.Now()
		page, err := routed.FindProducts(ctx, catalog.ProductFilter{Limit: 10})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("listing = %+v, %v; want the one product", page.Items, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("a listing took %s with the standby gone", d)
		}
	}
	if n := reads.get("primary", "standby unreachable"); n != 20 {
		t.Errorf("reads on the primary because the standby is unreachable = %v, want 20", n)
	}
}

var _ postgres.Querier = (*pgxpool.Pool)(nil)
