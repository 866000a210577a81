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

func newStore(t *testing.T) *postgres.ProductStore {
	db.Reset(t)
	return postgres.NewProductStore(db.Pool)
}

// newService returns a Service over the PostgreSQL stores, for the cases
// about what reaches them: the input the Service checks and normalizes.
func newService(t *testing.T) *catalog.Service {
	return catalog.NewService(catalog.ServiceConfig{Products: newStore(t), Reservations: postgres.NewReservationStore(db.Pool)})
}

func TestProductStoreContract(t *testing.T) {
	catalogtest.ProductStoreContract(t, func(t *testing.T) catalog.ProductStore { return newStore(t) })
}
