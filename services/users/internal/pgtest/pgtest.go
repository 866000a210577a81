// Package pgtest starts a throwaway PostgreSQL in Docker for the users
// service's tests, set up the way production is: the service's tables live
// in the "users" schema, reached through search_path.
package pgtest

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// Schema is the schema the users service owns in production.
const Schema = "users"

// Start runs a container from the image named by POSTGRES_IMAGE (default
// bazaar/postgres:15, built locally: there is no registry), creates Schema,
// and returns a connection string whose search_path is Schema, with a
// function that removes the container. A missing Docker is an error, never a
// reason to skip.
func Start(ctx context.Context) (dsn string, stop func(), err error) {
	image := os.Getenv("POSTGRES_IMAGE")
	if image == "" {
		image = "bazaar/postgres:15"
	}
	ctr, err := tcpostgres.Run(ctx, image,
		tcpostgres.WithDatabase("bazaar"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	stop = func() { _ = testcontainers.TerminateContainer(ctr) }
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("pgtest: start %s: %w", image, err)
	}
	base, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+Schema); err != nil {
		stop()
		return "", nil, fmt.Errorf("pgtest: create schema: %w", err)
	}
	return base + "&search_path=" + Schema, stop, nil
}
