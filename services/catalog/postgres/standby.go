package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier runs a query that returns rows: a pool, or a Standby that picks
// the node.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (*Standby)(nil)
)

// ReadCounter counts the reads a Standby routes, by the node that served
// each ("standby" or "primary") and, for the primary, why.
type ReadCounter interface {
	CountRead(node, reason string)
}

// StandbyConfig configures a Standby.
type StandbyConfig struct {
	// MaxLag: while the standby's replay trails by more than this, reads
	// stay on the primary without asking it.
	MaxLag time.Duration
	// Timeout bounds a read's wait on the standby (its connection and its
	// first answer) before the read goes to the primary instead.
	Timeout time.Duration
	// CheckEvery is how often the standby's state is read.
	CheckEvery time.Duration
}

// Standby sends reads that may trail the primary (product listings, search,
// categories) to a streaming standby, and everything else, and any read
// the standby cannot serve as fresh as the primary would, to the primary.
//
// Every read it serves is filled into the cache under a version read before
// the query (cache package): data older than the newest commit a version
// was replaced after would be cached under that version, and served until
// the next write. So a read goes to the standby only when the standby has
// replayed all the primary had flushed when the read began: Query asks the
// primary for its WAL flush position (a query that touches no table), then
// the standby whether it has replayed that far, then runs the read there.
// With synchronous replication the standby has the WAL already and has
// nearly always replayed it; when it has not, the read goes to the
// primary. Between the check and the read the standby only moves forward.
//
// A background check (Run) keeps reads off a standby that is down, is no
// longer a standby (promoted by a failover), or trails by more than
// MaxLag, so that they do not wait on it. A read that fails on the
// standby is made again on the primary.
type Standby struct {
	primary *pgxpool.Pool
	standby *pgxpool.Pool
	cfg     StandbyConfig
	logger  *slog.Logger
	reads   ReadCounter

	mu     sync.Mutex
	usable bool
	why    string
	seen   time.Time
}

// NewStandby returns a Standby over the two pools; reads go to the primary
// until Run has found the standby usable.
func NewStandby(primary, standby *pgxpool.Pool, cfg StandbyConfig, logger *slog.Logger, reads ReadCounter) *Standby {
	return &Standby{primary: primary, standby: standby, cfg: cfg, logger: logger, reads: reads, why: "not checked yet"}
}

// Run checks the standby every CheckEvery until ctx ends; while it cannot
// be reached, less and less often, up to every 30 s: without the standby
// at all (no profile replica), each check costs a connection attempt. It is
// no domain type's round (Run and RunOnce) because what it keeps is this
// process's own routing state, which a schedule could not keep for it.
func (s *Standby) Run(ctx context.Context) {
	wait := s.cfg.CheckEvery
	for {
		if s.check(ctx) {
			wait = s.cfg.CheckEvery
		} else {
			wait = min(2*wait, max(30*time.Second, s.cfg.CheckEvery))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// check reads whether the standby is one, and how far its replay trails:
// nothing when it has replayed all it received, else the age of the last
// transaction it replayed. It reports whether the standby answered.
func (s *Standby) check(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var recovering bool
	var lag float64
	err := s.standby.QueryRow(ctx, `
		SELECT pg_is_in_recovery(),
		       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 END`).Scan(&recovering, &lag)
	usable, why := false, ""
	switch {
	case err != nil:
		why = "standby unreachable"
	case !recovering:
		why = "not a standby"
	case time.Duration(lag*float64(time.Second)) > s.cfg.MaxLag:
		why = fmt.Sprintf("standby %.1fs behind", lag)
	default:
		usable = true
	}
	s.mu.Lock()
	changed := s.usable != usable
	s.usable, s.why, s.seen = usable, why, time.Now()
	s.mu.Unlock()
	if changed && usable {
		s.logger.Info("reads that may trail go to the standby")
	} else if changed {
		s.logger.Warn("reads that may trail go to the primary", "reason", why, "err", err)
	}
	return err == nil
}

// state reports whether reads may try the standby, and if not why.
func (s *Standby) state() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usable && time.Since(s.seen) > 3*s.cfg.CheckEvery+2*s.cfg.Timeout {
		return false, "standby not checked lately"
	}
	return s.usable, s.why
}

// Query runs the read on the standby when it is usable and has replayed
// everything the primary had flushed when the read began, else on the
// primary.
func (s *Standby) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	usable, why := s.state()
	if usable {
		rows, reason, err := s.queryStandby(ctx, sql, args)
		if err == nil {
			s.reads.CountRead("standby", "")
			return rows, nil
		}
		why = reason
		if reason != "behind the primary" {
			s.logger.Warn("read on the standby failed; reading from the primary", "err", err)
		}
	}
	s.reads.CountRead("primary", why)
	return s.primary.Query(ctx, sql, args...)
}

var errBehind = errors.New("the standby has not replayed the primary's last commit")

// queryStandby runs the read on one connection to the standby once it has
// replayed the primary's flush position, or says why it did not.
func (s *Standby) queryStandby(ctx context.Context, sql string, args []any) (pgx.Rows, string, error) {
	var flushed string
	if err := s.primary.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&flushed); err != nil {
		return nil, "primary position unknown", err
	}
	// The timeout covers the connection, the check and the read's first
	// answer; the rows then have the caller's own time.
	wait, cancelWait := context.WithTimeout(ctx, s.cfg.Timeout)
	conn, err := s.standby.Acquire(wait)
	if err != nil {
		cancelWait()
		return nil, "standby unreachable", err
	}
	var caughtUp bool
	err = conn.QueryRow(wait, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, flushed).Scan(&caughtUp)
	cancelWait()
	if err != nil {
		conn.Release()
		return nil, "standby failed", err
	}
	if !caughtUp {
		conn.Release()
		return nil, "behind the primary", errBehind
	}
	// The read's own deadline is the caller's; a standby that stops
	// answering mid-read is bounded by a watchdog of Timeout on the first
	// answer only.
	readCtx, cancelRead := context.WithCancel(ctx)
	timer := time.AfterFunc(s.cfg.Timeout, cancelRead)
	rows, err := conn.Query(readCtx, sql, args...)
	if err == nil {
		// pgx has the first message of the answer once Query returns
		// without error for a query that does not fail at once.
		timer.Stop()
		return &releasingRows{Rows: rows, conn: conn, cancel: cancelRead}, "", nil
	}
	timer.Stop()
	cancelRead()
	conn.Release()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return nil, "standby refused the read", err
	}
	return nil, "standby failed", err
}

// releasingRows gives the standby's connection back when the rows are
// closed.
type releasingRows struct {
	pgx.Rows
	conn   *pgxpool.Conn
	cancel context.CancelFunc
	once   sync.Once
}

func (r *releasingRows) Close() {
	r.Rows.Close()
	r.once.Do(func() {
		r.cancel()
		r.conn.Release()
	})
}
