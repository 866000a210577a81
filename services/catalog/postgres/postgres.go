// Package postgres stores the catalog in PostgreSQL: products, categories
// and stock reservations.
package postgres

import (
	"embed"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// Migrations are the catalog schema's migrations, for pg.Open or pg.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

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
	return pg.Wrap(op, err)
}
