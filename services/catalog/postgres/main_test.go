package postgres_test

import (
	"context"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
)

var db *catalogtest.Postgres

func TestMain(m *testing.M) {
	catalogtest.Main(m, func(ctx context.Context) (func(), error) {
		var err error
		db, err = catalogtest.StartPostgres(ctx)
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
