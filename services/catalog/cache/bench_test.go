package cache_test

import (
	"context"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
)

// BenchmarkFindProduct compares a product read from PostgreSQL with one
// answered from Redis (one round trip: the version and the entry).
func BenchmarkFindProduct(b *testing.B) {
	reset(b)
	store := postgres.NewProductStore(db.Pool)
	p := catalogtest.MustCreate(b, store, catalogtest.Input("BENCH-1", "Benchmark", "", "misc", 1, 1))
	for name, s := range map[string]catalog.ProductStore{
		"postgres": store,
		"cache":    newReplica(b, rds.URL, store).products,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.FindProduct(context.Background(), p.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFindProducts compares a search page of 20 from PostgreSQL with
// one answered from Redis.
func BenchmarkFindProducts(b *testing.B) {
	reset(b)
	store := postgres.NewProductStore(db.Pool)
	catalogtest.MustCreateN(b, store, 60, "BENCH", "misc")
	f := catalog.ProductFilter{Query: "item", Limit: 20}
	for name, s := range map[string]catalog.ProductStore{
		"postgres": store,
		"cache":    newReplica(b, rds.URL, store).products,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.FindProducts(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
