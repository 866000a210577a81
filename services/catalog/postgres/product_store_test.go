package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/platform/apperr"
)

func ptr[T any](v T) *T { return &v }

func TestCreateProductValidates(t *testing.T) {
	s := newService(t)
	valid := func() catalog.ProductInput { return catalogtest.Input("OK-1", "Fine", "", "misc", 100, 1) }
	for name, c := range map[string]struct {
		change func(*catalog.ProductInput)
		field  string
	}{
		"missing sku":         {func(in *catalog.ProductInput) { in.SKU = nil }, "sku"},
		"bad sku":             {func(in *catalog.ProductInput) { in.SKU = ptr("no spaces") }, "sku"},
		"blank name":          {func(in *catalog.ProductInput) { in.Name = ptr("   ") }, "name"},
		"NUL in description":  {func(in *catalog.ProductInput) { in.Description = ptr("a\x00b") }, "description"},
		"negative price":      {func(in *catalog.ProductInput) { in.PriceCents = ptr(int64(-1)) }, "price_cents"},
		"lowercase currency":  {func(in *catalog.ProductInput) { in.Currency = ptr("usd") }, "currency"},
		"too much stock":      {func(in *catalog.ProductInput) { in.Stock = ptr(catalog.MaxStock + 1) }, "stock"},
		"category not a slug": {func(in *catalog.ProductInput) { in.Category = ptr("Home Garden") }, "category"},
	} {
		t.Run(name, func(t *testing.T) {
			in := valid()
			c.change(&in)
			_, err := s.CreateProduct(context.Background(), in)
			catalogtest.WantCode(t, err, apperr.Invalid)
			if e := err.(*apperr.Error); len(e.Fields) != 1 || e.Fields[0].Field != c.field {
				t.Errorf("fields = %+v, want one on %s", e.Fields, c.field)
			}
		})
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM products`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d products stored (%v), want none", n, err)
	}
}

func TestCreateProductDefaultsAndCategory(t *testing.T) {
	s := newStore(t)
	in := catalogtest.Input("C-1", "Trowel", "", "home-garden", 1299, 4)
	in.Description = nil
	p := catalogtest.MustCreate(t, s, in)
	if p.Currency != "USD" || p.Description != "" || !p.CreatedAt.Equal(p.UpdatedAt) || p.CreatedAt.Location() != time.UTC {
		t.Errorf("created = %+v; want USD, empty description, created_at = updated_at in UTC", p)
	}
	var name string
	if err := db.Pool.QueryRow(context.Background(), `SELECT name FROM categories WHERE slug = 'home-garden'`).Scan(&name); err != nil || name != "Home Garden" {
		t.Errorf("category name = %q (%v), want Home Garden", name, err)
	}
}

func TestUpdateProductPartial(t *testing.T) {
	s := newService(t)
	p := catalogtest.MustCreate(t, s, catalogtest.Input("U-1", "Lamp", "Warm light.", "home", 2500, 9))
	got, err := s.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{Stock: ptr(0), Currency: ptr("EUR")})
	if err != nil {
		t.Fatal(err)
	}
	want := p
	want.Stock, want.Currency, want.UpdatedAt = 0, "EUR", got.UpdatedAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	_, err = s.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{})
	catalogtest.WantCode(t, err, apperr.Invalid)
	_, err = s.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{CategoryName: ptr("Lights")})
	catalogtest.WantCode(t, err, apperr.Invalid)
	_, err = s.UpdateProduct(context.Background(), "not-an-id", catalog.ProductInput{Stock: ptr(1)})
	catalogtest.WantCode(t, err, apperr.NotFound)
}

func TestDeleteProductIsSoft(t *testing.T) {
	s := newService(t)
	p := catalogtest.MustCreate(t, s, catalogtest.Input("D-1", "Vase", "", "home", 100, 1))
	if err := s.DeleteProduct(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	var deleted bool
	if err := db.Pool.QueryRow(context.Background(), `SELECT deleted_at IS NOT NULL FROM products WHERE id = $1`, p.ID).Scan(&deleted); err != nil || !deleted {
		t.Errorf("row deleted_at set = %v (%v), want the row kept and marked", deleted, err)
	}
	catalogtest.WantCode(t, s.DeleteProduct(context.Background(), "nope"), apperr.NotFound)
}

// TestPaginationUnderConcurrentInserts pages through the catalogue while
// other goroutines keep adding products: every product that existed before
// the first page is listed exactly once, and no id ever comes twice.
func TestPaginationUnderConcurrentInserts(t *testing.T) {
	s := newStore(t)
	before := catalogtest.MustCreateN(t, s, 150, "OLD", "misc")

	ctx, stop := context.WithCancel(context.Background())
	var inserted atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 500; i++ {
				in := catalogtest.Input(fmt.Sprintf("NEW-%d-%d", w, i), "New", "", "misc", 100, 1)
				if _, err := s.CreateProduct(context.Background(), in); err != nil {
					t.Error(err)
					return
				}
				inserted.Add(1)
			}
		})
	}
	for inserted.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	atStart := inserted.Load()
	seen := map[string]int{}
	var last string
	f := catalog.ProductFilter{Limit: 3}
	for pages := 0; pages < 2000; pages++ {
		page, err := s.FindProducts(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			seen[p.ID]++
			if p.ID <= last {
				t.Fatalf("id %s listed after %s", p.ID, last)
			}
			last = p.ID
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if inserted.Load() == atStart {
		t.Fatal("no product was inserted while paging: the test proved nothing")
	}
	stop()
	wg.Wait()
	for _, p := range before {
		if seen[p.ID] != 1 {
			t.Errorf("product %s listed %d times, want once", p.SKU, seen[p.ID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %s listed %d times", id, n)
		}
	}
}

func TestFindProductsValidatesFilter(t *testing.T) {
	s := newService(t)
	for _, f := range []catalog.ProductFilter{
		{Limit: 0},
		{Limit: catalog.MaxLimit + 1},
		{Limit: 1, Query: strings.Repeat("a", catalog.MaxQueryLength+1)},
		{Limit: 1, Query: "bad\x00byte"},
		{Limit: 1, Query: "\xff"},
		{Limit: 1, Category: "Not A Slug"},
		{Limit: 1, After: "abc"},
	} {
		_, err := s.FindProducts(context.Background(), f)
		catalogtest.WantCode(t, err, apperr.Invalid)
	}
}

func TestFindProductsByID(t *testing.T) {
	s := newStore(t)
	ps := catalogtest.MustCreateN(t, s, 3, "I", "misc")
	if err := s.DeleteProduct(context.Background(), ps[2].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindProductsByID(context.Background(), []string{ps[2].ID, "junk", ps[0].ID, ps[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ps[:2], got, cmp.Transformer("sort", sortByID)); diff != "" {
		t.Errorf("FindProductsByID (-want +got):\n%s", diff)
	}
}

func sortByID(ps []catalog.Product) map[string]catalog.Product {
	m := make(map[string]catalog.Product, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}
