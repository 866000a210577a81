// Package pg opens the PostgreSQL connection pool and applies a service's
// embedded migrations.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
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
	// ConnectTimeout bounds the name lookup, and then the rest of opening
	// a connection, unless the URL sets connect_timeout. Without it a
	// request waits as long as the network does while the database is
	// gone (a lookup of a name the DNS no longer knows can take seconds),
	// where it should fail fast with a 503.
	ConnectTimeout time.Duration
}

// Open connects (see Connect) and brings the schema up to date with the
// migrations in fsys (see Migrate): what every service does at start-up.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, migrations fs.FS) (*pgxpool.Pool, error) {
	pool, err := Connect(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
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
	if cc := pc.ConnConfig; cfg.ConnectTimeout > 0 && cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = cfg.ConnectTimeout
		lookup := cc.LookupFunc
		cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
			defer cancel()
			return lookup(ctx, host)
		}
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
// could not be reached or went away, so callers answer 503 rather than 500.
// The cause stays in the chain for the log.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	if lostDatabase(err) {
		return fmt.Errorf("%w (%w)", errDatabaseUnavailable, err)
	}
	return err
}

// Wrap names the operation that failed on err, marking a lost database as
// Unavailable.
func Wrap(op string, err error) error {
	return fmt.Errorf("%s: %w", op, Unavailable(err))
}

// lostDatabase reports whether err is the database being out of reach
// rather than a mistake in the request: no connection could be made, the
// connection broke (a server killed mid-query reads as an unexpected EOF),
// a wait ran out, or the server says it is shutting down, starting up or
// full.
func lostDatabase(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin shutdown, crash shutdown, cannot connect now
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
	}
	return false
}
