package pg

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrate applies, in order, every NNNN_name.sql file in fsys (in any of
// its directories, such as the migrations/ of a service's embed.FS) that
// the current schema has not seen yet. All of it runs in one transaction
// holding an advisory lock, so replicas starting together apply each file
// exactly once and a failed file leaves nothing half done.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(p) == ".sql" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return path.Base(files[i]) < path.Base(files[j]) })
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.schema_migrations'))`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: create table: %w", err)
		}
		for _, f := range files {
			version, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migrate: %s: name must start with a number", f)
			}
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&applied); err != nil {
				return fmt.Errorf("migrate: %s: %w", f, err)
			}
			if applied {
				continue
			}
			sql, err := fs.ReadFile(fsys, f)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			// Exec without arguments uses the simple protocol, which allows
			// several statements per file.
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migrate: %s: %w", f, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, path.Base(f)); err != nil {
				return fmt.Errorf("migrate: %s: %w", f, err)
			}
		}
		return nil
	})
}
