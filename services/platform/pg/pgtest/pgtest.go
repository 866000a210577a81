// Package pgtest starts the PostgreSQL that the services' tests run against:
// a real server in a container (testcontainers), with the service's schema
// created and pinned as search_path, as its role's is in production, so that
// migrations and queries behave alike. A missing Docker fails the tests; it
// never skips them.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"bazaar/platform/pg"
)

// DefaultImage is built locally (images/build.sh: there is no registry);
// POSTGRES_IMAGE overrides it.
const DefaultImage = "bazaar/postgres:15"

// Options says what Start sets up.
type Options struct {
	// Schema is created and pinned as search_path; empty leaves the
	// database as the image makes it, for tests that make their own.
	Schema string
	// Migrations, when not nil, are applied to Schema once.
	Migrations fs.FS
	// Tables are what Reset empties.
	Tables []string
	// AfterReset runs after the truncation, for rows a schema keeps in
	// every state (a singleton row's reset value, say).
	AfterReset string
	// MaxConns bounds Pool (default pgxpool's).
	MaxConns int32
}

// DB is a running PostgreSQL container and a pool on it.
type DB struct {
	// URL connects as the superuser, with search_path pinned to the schema
	// when there is one.
	URL string
	// Pool is a pool on URL.
	Pool *pgxpool.Pool

	opts      Options
	container *tcpostgres.PostgresContainer
}

// Start runs the container, creates the schema and migrates it. On error
// the container is already removed.
func Start(ctx context.Context, opts Options) (*DB, error) {
	image := os.Getenv("POSTGRES_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	c, err := tcpostgres.Run(ctx, image,
		tcpostgres.WithDatabase("bazaar"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	db := &DB{opts: opts, container: c}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pgtest: start %s: %w", image, err)
	}
	if err := db.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return db, nil
}

func (db *DB) init(ctx context.Context) error {
	dsn, err := db.container.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return err
	}
	db.URL = dsn
	if db.opts.Schema != "" {
		if db.URL, err = db.NewSchema(ctx, db.opts.Schema); err != nil {
			return err
		}
	}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return err
	}
	if db.opts.MaxConns > 0 {
		cfg.MaxConns = db.opts.MaxConns
	}
	if db.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	if db.opts.Migrations != nil {
		return pg.Migrate(ctx, db.Pool, db.opts.Migrations)
	}
	return nil
}

// NewSchema creates schema name and returns the URL of a superuser
// connection whose search_path is name.
func (db *DB) NewSchema(ctx context.Context, name string) (string, error) {
	base, err := db.container.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Reset empties Options.Tables, then runs Options.AfterReset; tests call it
// first.
func (db *DB) Reset(tb testing.TB) {
	tb.Helper()
	sql := "TRUNCATE " + strings.Join(db.opts.Tables, ", ")
	if db.opts.AfterReset != "" {
		sql += "; " + db.opts.AfterReset
	}
	if _, err := db.Pool.Exec(context.Background(), sql); err != nil {
		tb.Fatalf("pgtest: reset: %v", err)
	}
}

// Close closes the pool and removes the container.
func (db *DB) Close() {
	if db == nil {
		return
	}
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.container != nil {
		_ = testcontainers.TerminateContainer(db.container)
	}
}

// Main runs a package's tests between start and its cleanup, and exits with
// their status; a failed start fails the run.
func Main(m *testing.M, start func(ctx context.Context) (cleanup func(), err error)) {
	cleanup, err := start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, errors.Join(err, errors.New("the tests need Docker and the images named by POSTGRES_IMAGE (and REDIS_IMAGE)")))
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
