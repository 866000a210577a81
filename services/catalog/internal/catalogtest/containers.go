// Package catalogtest serves the catalog's tests: it says how pgtest sets up
// the PostgreSQL they run against, starts their Redis (a real one, in a
// container) and holds the contract that every catalog.ProductStore must
// honour, so that the PostgreSQL store and the cache decorator are held to
// the same cases.
package catalogtest

import (
	"context"
	"fmt"
	"os"

	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"bazaar/catalog/postgres"
	"bazaar/platform/pg/pgtest"
)

// Postgres is the PostgreSQL the catalog's tests start with pgtest.Start:
// the catalog schema, migrated. The concurrency tests race dozens of
// transactions, hence the pool's size.
var Postgres = pgtest.Options{
	Schema:     "catalog",
	Migrations: postgres.Migrations,
	Tables:     []string{"reservation_lines", "reservations", "products", "categories"},
	MaxConns:   40,
}

// Redis is a disposable Redis.
type Redis struct {
	URL       string
	container *tcredis.RedisContainer
}

// StartRedis starts Redis.
func StartRedis(ctx context.Context) (*Redis, error) {
	// The image comes from the environment because there is no registry to
	// pull from: the project builds it locally (images/build.sh).
	image := os.Getenv("REDIS_IMAGE")
	if image == "" {
		image = "bazaar/redis:7.0"
	}
	ctr, err := tcredis.Run(ctx, image)
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
