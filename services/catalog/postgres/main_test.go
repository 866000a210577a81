package postgres_test

import (
	"context"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
	"bazaar/platform/pg/pgtest"
)

var db *pgtest.DB

func TestMain(m *testing.M) {
	pgtest.Main(m, func(ctx context.Context) (func(), error) {
		var err error
		db, err = pgtest.Start(ctx, catalogtest.Postgres)
		if err != nil {
			return nil, err
		}
		return db.Close, nil
	})
}

func newStore(t *testing.T) *postgres.ProductService {
	db.Reset(t)
	return postgres.NewProductService(db.Pool)
}

func TestProductServiceContract(t *testing.T) {
	catalogtest.ProductServiceContract(t, func(t *testing.T) catalog.ProductService { return newStore(t) })
}
