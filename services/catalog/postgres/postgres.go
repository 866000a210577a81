// Package postgres stores the catalog in PostgreSQL: products, categories
// and stock reservations.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the catalog schema up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return pg.Migrate(ctx, pool, sub)
}

// isUniqueViolation reports whether err broke the unique constraint or index
// named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// storeError passes domain errors through and wraps the others for the log,
// as Unavailable when they say the database could not be reached.
func storeError(op string, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("%s: %w", op, pg.Unavailable(err))
}
