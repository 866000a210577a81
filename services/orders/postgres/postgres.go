// Package postgres stores orders and idempotency keys in PostgreSQL, in the
// schema the orders role owns.
package postgres

import (
	"embed"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/orders"
)

// Migrations are the orders schema's migrations, for pg.Open or pg.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Store implements orders.Store and the idempotency key store on
// PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ orders.Store = (*Store)(nil)

// NewStore returns a Store using pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// micros passes a duration to SQL as a number of microseconds, to be
// written `$n::bigint * interval '1 microsecond'`.
func micros(d time.Duration) int64 { return d.Microseconds() }
