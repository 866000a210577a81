// Package pg opens the PostgreSQL connection pool and applies a service's
// embedded migrations.
package pg

import (
	"cmp"
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

// Config says where the database is and how one instance connects to it.
// MaxConns is explicit so that every pool of every replica together stays
// under PostgreSQL's max_connections. Zero values take the defaults below.
type Config struct {
	URL string
	// Password, when set, replaces the URL's: it comes from a secret file.
	Password string
	MaxConns int32
	// MinConns are kept open even when idle, so that the first requests
	// after a quiet night or a restart find connections waiting.
	MinConns int32
	// MaxConnecting bounds the connection attempts in flight (see gate).
	MaxConnecting int
	// DialTimeout bounds the name lookup, and then the TCP connect: a
	// database that is gone is found out in this long, and the request
	// answered 503, where the network alone could take seconds.
	DialTimeout time.Duration
	// ConnectTimeout bounds a whole connection attempt, authentication
	// included, unless the URL sets connect_timeout. It must fit the
	// slowest machine served: an attempt given up is work the database
	// has done for nothing, and under load such retries can keep it too
	// busy to answer any of them in time.
	ConnectTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultMinConns       = 2
	DefaultMaxConnecting  = 4
	DefaultDialTimeout    = 500 * time.Millisecond
	DefaultConnectTimeout = 10 * time.Second
)

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
	pool, err := NewPool(ctx, cfg)
	if err != nil {
		return nil, err
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

// NewPool opens a pool without waiting for the database: for one that
// may be missing for long (a standby), whose users fall back elsewhere.
func NewPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pg: parse config: %w", err)
	}
	if cfg.Password != "" {
		pc.ConnConfig.Password = cfg.Password
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.MinConns = min(cmp.Or(cfg.MinConns, DefaultMinConns), pc.MaxConns)
	// Connections are replaced a few at a time, not all in the same minute.
	pc.MaxConnLifetimeJitter = pc.MaxConnLifetime / 4
	pc.HealthCheckPeriod = min(pc.HealthCheckPeriod, 10*time.Second)
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	}
	g := newGate(cmp.Or(cfg.MaxConnecting, DefaultMaxConnecting), cmp.Or(cfg.DialTimeout, DefaultDialTimeout), pc.ConnConfig.ConnectTimeout)
	pc.BeforeConnect = g.beforeConnect
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pg: new pool: %w", err)
	}
	return pool, nil
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
// connection broke (a server killed mid-query reads as an unexpected EOF, or
// as a closed connection when it broke earlier in the same operation),
// a wait ran out, or the server says it is shutting down, starting up or
// full.
func lostDatabase(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errBackingOff) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) {
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
