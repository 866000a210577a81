// Package postgres stores orders and idempotency keys in PostgreSQL, in the
// schema the orders role owns.
package postgres

import (
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/orders"
	"bazaar/platform/pg"
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

// wrap names the operation and turns a lost database into a 503.
func wrap(op string, err error) error {
	return fmt.Errorf("%s: %w", op, pg.Unavailable(err))
}
