package pg_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	if pg.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) != nil")
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"network error", fmt.Errorf("query: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), apperr.Unavailable},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), apperr.Unavailable},
		{"server killed mid-query", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), apperr.Unavailable},
		{"connection broke earlier in the query", fmt.Errorf("query: %w", pgconn.ErrConnClosed), apperr.Unavailable},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, apperr.Unavailable},
		{"server starting up", &pgconn.PgError{Code: "57P03"}, apperr.Unavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, apperr.Unavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, apperr.Unavailable},
		{"constraint violation", &pgconn.PgError{Code: "23505"}, apperr.Internal},
		{"domain error", apperr.Errorf(apperr.NotFound, "gone"), apperr.NotFound},
	} {
		err := pg.Unavailable(tc.err)
		if got := apperr.Code(err); got != tc.want {
			t.Errorf("%s: code %s, want %s", tc.name, got, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: the cause is not in the chain", tc.name)
		}
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := pg.Connect(context.Background(), pg.Config{URL: baseURL, MaxConns: 3}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns %d, want 3", got)
	}

	// Nothing listens there: Connect keeps retrying until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := pg.Connect(ctx, pg.Config{URL: "postgres://x:y@127.0.0.1:1/bazaar?connect_timeout=1"}, logger); err == nil {
		t.Error("Connect to a closed port succeeded")
	}
	if _, err := pg.Connect(context.Background(), pg.Config{URL: "postgres://x:y@host:port/db"}, logger); err == nil {
		t.Error("Connect with a malformed URL succeeded")
	}
}
