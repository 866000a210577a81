package pg_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// proxy forwards loopback TCP connections to PostgreSQL. Each new
// connection is held for delay before it is forwarded, as on a machine
// where opening one is slow; while down, connections are closed at once.
type proxy struct {
	target   string
	delay    time.Duration
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool // open client connections
	accepted atomic.Int32      // connections accepted
	holding  atomic.Int32      // connections being held now
	maxHeld  atomic.Int32      // the most held at once
	ln       net.Listener
}

// startProxy starts a proxy to the test database and returns it with the
// database's URL through it.
func startProxy(t *testing.T, delay time.Duration) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host, delay: delay, ln: ln, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			p.mu.Lock()
			down := p.down
			if !down {
				p.conns[c] = true
			}
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			go p.serve(c)
		}
	}()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// setDown takes the database away, closing every connection to it (even
// one being opened), or brings it back.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) serve(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	held := p.holding.Add(1)
	for m := p.maxHeld.Load(); held > m && !p.maxHeld.CompareAndSwap(m, held); m = p.maxHeld.Load() {
	}
	time.Sleep(p.delay)
	p.holding.Add(-1)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
}

func connect(t *testing.T, cfg pg.Config) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pg.Connect(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// A burst on a cold pool opens connections at most MaxConnecting at a time,
// and every query of the burst succeeds however slow each connect is.
func TestGateBoundsAttemptsInFlight(t *testing.T) {
	t.Parallel()
	p, url := startProxy(t, 200*time.Millisecond)
	pool := connect(t, pg.Config{URL: url, MaxConns: 20, MinConns: 1, MaxConnecting: 2})

	burst(t, pool, 20, "SELECT pg_sleep(0.3)")
	if n := p.maxHeld.Load(); n > 2 {
		t.Errorf("%d connections were being opened at once, want at most 2", n)
	}
	if n := p.accepted.Load(); n < 3 {
		t.Errorf("the burst opened %d connections in all: it did not need new ones, so it proves nothing", n)
	}
	t.Logf("%d connections opened, at most %d at once", p.accepted.Load(), p.maxHeld.Load())
}

// While the database is gone, queries that need a connection fail fast with
// Unavailable and the pool does not hammer it with attempts; once it is back
// the pool finds it within the longest backoff.
func TestGateBacksOffWhileTheDatabaseIsGone(t *testing.T) {
	t.Parallel()
	p, url := startProxy(t, 0)
	pool := connect(t, pg.Config{URL: url, MaxConns: 10, MinConns: 1})

	p.setDown(true)
	pool.Reset() // drop the broken connections: every query needs a new one
	before, gone := p.accepted.Load(), time.Now()
	for i := range 40 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pool.Exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			t.Fatalf("query %d succeeded while the database was gone", i)
		}
		if code := apperr.Code(pg.Unavailable(err)); code != apperr.Unavailable {
			t.Fatalf("query %d: %v is %s, want %s", i, err, code, apperr.Unavailable)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("query %d took %s to fail, want at most 1s", i, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Each query alone would make an attempt (without the gate, 80: two
	// per query). The gate lets through those that start before the first
	// failure is known, up to DefaultMaxConnecting, then one probe after
	// each backoff (100ms doubling to 1s, jittered): a handful in all.
	if n := p.accepted.Load() - before; n > 10 {
		t.Errorf("%d connection attempts for 40 queries in %s while the database was gone, want at most 10",
			n, time.Since(gone).Round(time.Millisecond))
	}

	p.setDown(false)
	back := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pool.Exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			break
		}
		if time.Since(back) > 3*time.Second {
			t.Fatalf("the database is back, but the pool has not found it after %s: %v", time.Since(back).Round(time.Millisecond), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d attempts while gone; found again after %s", p.accepted.Load()-before, time.Since(back).Round(time.Millisecond))
}

// A URL may list a primary and its standby: a host that is gone (its name
// does not resolve, its port refuses) while another takes the session is
// no failure, so a burst on a cold pool connects in full rather than
// backing off after the first attempt passed over the lost host.
func TestGateTriesEveryHost(t *testing.T) {
	t.Parallel()
	p, via := startProxy(t, 0)
	refusing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := refusing.Addr().String()
	refusing.Close()
	u, err := url.Parse(via)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = "gone.invalid:5432," + closed + "," + u.Host
	pool := connect(t, pg.Config{URL: u.String(), MaxConns: 8, MinConns: 1, MaxConnecting: 2})

	burst(t, pool, 8, "SELECT pg_sleep(0.2)")
	if n := p.accepted.Load(); n < 3 {
		t.Errorf("the burst opened %d connections in all: it did not need new ones, so it proves nothing", n)
	}
}

// burst runs query n times at once on pool and fails t for each that fails.
func burst(t *testing.T, pool *pgxpool.Pool, n int, query string) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := pool.Exec(ctx, query); err != nil {
				t.Errorf("query of the burst failed: %v", err)
			}
		})
	}
	wg.Wait()
}
