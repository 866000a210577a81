// Package pg opens the PostgreSQL connection pool and applies a service's
// embedded migrations.
package pg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/apperr"
)

// Config says where the database is and how many connections one instance
// may hold. MaxConns is explicit so that every pool of every replica together
// stays under PostgreSQL's max_connections.
type Config struct {
	URL      string
	MaxConns int32
}

// Connect opens a pool and waits, until ctx ends, for the database to
// answer: at start-up the database may still be starting.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pg: parse config: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pg: new pool: %w", err)
	}
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		err := pool.Ping(ctx)
		if err == nil {
			return pool, nil
		}
		logger.Warn("database not reachable yet", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("pg: connect: %w", err)
		case <-time.After(delay):
		}
	}
}

var errDatabaseUnavailable = &apperr.Error{Code: apperr.Unavailable, Message: "The database is unavailable; try again shortly."}

// Unavailable wraps err as an apperr.Unavailable when it says the database
// could not be reached, so callers answer 503 rather than 500. The cause
// stays in the chain for the log.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w (%w)", errDatabaseUnavailable, err)
	}
	return err
}
