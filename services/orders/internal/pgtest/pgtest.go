// Package pgtest starts the PostgreSQL that the orders tests run against: a
// real server in a container (testcontainers), with the orders schema
// created as in production, so that migrations and queries behave alike.
// A missing Docker fails the tests; it never skips them.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// defaultImage is built locally (there is no registry); POSTGRES_IMAGE
// overrides it.
const defaultImage = "bazaar/postgres:15"

// Server is a running PostgreSQL container.
type Server struct {
	// URL connects as the superuser with search_path pinned to the orders
	// schema, as the orders role's is in production.
	URL       string
	container *tcpostgres.PostgresContainer
}

// Start runs the container and creates the orders schema.
func Start(ctx context.Context) (*Server, error) {
	image := os.Getenv("POSTGRES_IMAGE")
	if image == "" {
		image = defaultImage
	}
	c, err := tcpostgres.Run(ctx, image,
		tcpostgres.WithDatabase("bazaar"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	s := &Server{container: c}
	if err != nil {
		return s, fmt.Errorf("pgtest: start %s: %w", image, err)
	}
	dsn, err := c.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return s, fmt.Errorf("pgtest: %w", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return s, fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA orders`); err != nil {
		return s, fmt.Errorf("pgtest: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return s, fmt.Errorf("pgtest: %w", err)
	}
	q := u.Query()
	q.Set("search_path", "orders")
	u.RawQuery = q.Encode()
	s.URL = u.String()
	return s, nil
}

// Truncate empties every orders table and rewinds the reservation sweep,
// between tests.
func Truncate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
		TRUNCATE order_items, orders, idempotency_keys, user_order_totals;
		UPDATE reservation_sweep SET through = '00000000-0000-0000-0000-000000000000'`)
	return err
}

// Close removes the container.
func (s *Server) Close() error {
	if s == nil || s.container == nil {
		return nil
	}
	return testcontainers.TerminateContainer(s.container)
}
