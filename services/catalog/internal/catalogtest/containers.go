// Package catalogtest serves the catalog's tests: it starts the PostgreSQL
// and Redis they run against (real ones, in containers) and holds the
// contract that every catalog.ProductService must honour, so that the
// PostgreSQL store and the cache decorator are held to the same cases.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"bazaar/catalog/postgres"
	"bazaar/platform/pg"
)

// Images come from the environment because there is no registry to pull
// from: the project builds them locally (images/build.sh).
func image(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// Postgres is a disposable PostgreSQL holding the migrated catalog schema.
type Postgres struct {
	// Pool connects as the superuser with search_path=catalog, so the
	// migrations and queries run in the catalog schema as in production.
	Pool *pgxpool.Pool
	// URL is Pool's connection string.
	URL       string
	container *tcpostgres.PostgresContainer
}

// StartPostgres starts PostgreSQL, creates the catalog schema and migrates
// it. A missing Docker is an error, never a reason to skip.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	ctr, err := tcpostgres.Run(ctx, image("POSTGRES_IMAGE", "bazaar/postgres:15"),
		tcpostgres.WithDatabase("bazaar"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	p := &Postgres{container: ctr}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := p.init(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return p, nil
}

func (p *Postgres) init(ctx context.Context) error {
	dsn, err := p.container.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `CREATE SCHEMA catalog`)
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	p.URL = dsn + "&search_path=catalog"
	cfg, err := pgxpool.ParseConfig(p.URL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 40 // the concurrency tests race dozens of transactions
	if p.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	return pg.Migrate(ctx, p.Pool, postgres.Migrations)
}

// Reset empties every table; tests call it first.
func (p *Postgres) Reset(tb testing.TB) {
	tb.Helper()
	if _, err := p.Pool.Exec(context.Background(), `TRUNCATE reservation_lines, reservations, products, categories`); err != nil {
		tb.Fatalf("reset: %v", err)
	}
}

// Close stops PostgreSQL.
func (p *Postgres) Close() {
	if p.Pool != nil {
		p.Pool.Close()
	}
	if p.container != nil {
		_ = testcontainers.TerminateContainer(p.container)
	}
}

// Redis is a disposable Redis.
type Redis struct {
	URL       string
	container *tcredis.RedisContainer
}

// StartRedis starts Redis.
func StartRedis(ctx context.Context) (*Redis, error) {
	ctr, err := tcredis.Run(ctx, image("REDIS_IMAGE", "bazaar/redis:7.0"))
	r := &Redis{container: ctr}
	if err == nil {
		r.URL, err = ctr.ConnectionString(ctx)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start redis: %w", err)
	}
	return r, nil
}

// Close stops Redis.
func (r *Redis) Close() {
	if r.container != nil {
		_ = testcontainers.TerminateContainer(r.container)
	}
}

// Main runs a package's tests between start and its cleanup, and exits with
// their status; a failed start fails the run.
func Main(m *testing.M, start func(ctx context.Context) (cleanup func(), err error)) {
	cleanup, err := start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogtest:", errors.Join(err, errors.New("the store tests need Docker and the images named by POSTGRES_IMAGE and REDIS_IMAGE")))
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
