package pg

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errBackingOff refuses a connection attempt at once while the last one
// failed and the next is not due: the request fails fast with a 503 rather
// than adding to the load of a database that is starting or gone.
var errBackingOff = errors.New("pg: the last connection attempt failed; not trying again yet")

// Backoff between connection attempts after a failure: doubling from
// minBackoff up to maxBackoff, each wait drawn between half and all of it.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Second
)

// gate is how a pool opens connections: at most cap(slots) attempts in
// flight, so that a burst on an empty pool queues for a few connections
// rather than opening one per request at once (each costs the database a
// backend process and an authentication, and under a stampede every one of
// them misses its deadline); and after a failed attempt, none but a single
// probe until a backoff has passed.
type gate struct {
	slots       chan struct{}
	dialTimeout time.Duration // the name lookup, and then the TCP connect
	slotTimeout time.Duration // how long an attempt may queue for a slot

	mu      sync.Mutex
	down    bool // the last attempt to finish failed
	backoff time.Duration
	retryAt time.Time
	probing bool // an attempt admitted while down is in flight
}

func newGate(maxConnecting int, dialTimeout, slotTimeout time.Duration) *gate {
	return &gate{slots: make(chan struct{}, maxConnecting), dialTimeout: dialTimeout, slotTimeout: slotTimeout}
}

// beforeConnect is the pool's BeforeConnect hook: it admits the attempt,
// waits for a slot, and wraps cc's lookup and dial so that the slot is
// given back however the attempt ends.
//
// A URL may list several hosts (a primary and its standby, with
// target_session_attrs choosing among them): pgconn looks every host up
// first, then tries each address in turn until one takes the session. So
// the attempt fails only once every address has failed: a host that is
// gone (its name no longer resolves, or its address refuses) or that is
// not the one wanted (a standby, for read-write) while another answers is
// no reason to back off.
func (g *gate) beforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	a, err := g.admit(ctx)
	if err != nil {
		return err
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port}}, cc.Fallbacks...)
	for _, h := range hosts {
		if strings.HasPrefix(h.Host, "/") {
			a.pending++ // a unix socket: dialled without a lookup
		} else {
			a.lookups++
		}
	}
	// pgconn stops short of the remaining addresses on some errors (a
	// wrong password, say): the attempt counts as failed once every
	// address could have had its full time.
	backstop := time.AfterFunc(time.Duration(len(hosts))*g.slotTimeout+g.dialTimeout, func() { a.finish(false) })
	a.backstop = backstop
	lookup, dial, afterConnect := cc.LookupFunc, cc.DialFunc, cc.AfterConnect
	cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, g.dialTimeout)
		defer cancel()
		addrs, err := lookup(ctx, host)
		if err != nil {
			a.resolved(0)
		} else {
			a.resolved(len(addrs))
		}
		return addrs, err
	}
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, g.dialTimeout)
		defer cancel()
		conn, err := dial(ctx, network, addr)
		if err != nil {
			a.failed()
			return nil, err
		}
		return &attemptConn{Conn: conn, attempt: a}, nil
	}
	cc.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		if afterConnect != nil {
			if err := afterConnect(ctx, pc); err != nil {
				a.finish(false)
				return err
			}
		}
		a.finish(true)
		return nil
	}
	return nil
}

// admit lets an attempt through, or refuses it with errBackingOff while
// the database is taken for down and the next probe is not due. An
// admitted attempt holds a slot until it finishes.
func (g *gate) admit(ctx context.Context) (*attempt, error) {
	g.mu.Lock()
	probe := g.down
	if probe {
		if g.probing || time.Now().Before(g.retryAt) {
			g.mu.Unlock()
			return nil, errBackingOff
		}
		g.probing = true
	}
	g.mu.Unlock()
	a := &attempt{gate: g, probe: probe}

	timer := time.NewTimer(g.slotTimeout)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		a.leave()
		return nil, ctx.Err()
	case <-timer.C:
		a.leave()
		return nil, fmt.Errorf("pg: no connection attempt could start within %s: %w", g.slotTimeout, context.DeadlineExceeded)
	}
	// An attempt that queued while another failed is not sent after it.
	g.mu.Lock()
	refused := g.down && !probe
	g.mu.Unlock()
	if refused {
		<-g.slots
		return nil, errBackingOff
	}
	return a, nil
}

// attempt is one admitted connection attempt.
type attempt struct {
	gate     *gate
	probe    bool
	backstop *time.Timer

	mu       sync.Mutex
	lookups  int  // host lookups still to come
	pending  int  // addresses found and not yet failed
	released bool // the slot was given back
	ok       bool // the attempt connected
}

// leave gives up the attempt before it took a slot.
func (a *attempt) leave() {
	if a.probe {
		a.gate.mu.Lock()
		a.gate.probing = false
		a.gate.mu.Unlock()
	}
}

// resolved counts a host lookup that found n addresses.
func (a *attempt) resolved(n int) {
	a.mu.Lock()
	a.lookups--
	a.pending += n
	over := a.lookups <= 0 && a.pending <= 0
	a.mu.Unlock()
	if over {
		a.finish(false)
	}
}

// failed counts an address that could not take the session.
func (a *attempt) failed() {
	a.mu.Lock()
	a.pending--
	over := a.lookups <= 0 && a.pending <= 0
	a.mu.Unlock()
	if over {
		a.finish(false)
	}
}

// finish records how the attempt ended and gives its slot back. A success
// is final; a failure may still be followed by one (pgconn goes back to a
// host it passed over when no other would do).
func (a *attempt) finish(ok bool) {
	a.mu.Lock()
	if a.ok || (a.released && !ok) {
		a.mu.Unlock()
		return
	}
	release := !a.released
	a.released, a.ok = true, ok
	a.mu.Unlock()
	if a.backstop != nil {
		a.backstop.Stop()
	}
	g := a.gate
	g.mu.Lock()
	if a.probe {
		g.probing = false
	}
	if ok {
		g.down, g.backoff = false, 0
	} else {
		g.down = true
		g.backoff = min(max(2*g.backoff, minBackoff), maxBackoff)
		wait := g.backoff/2 + rand.N(g.backoff/2)
		g.retryAt = time.Now().Add(wait)
	}
	g.mu.Unlock()
	if release {
		<-g.slots
	}
}

// attemptConn counts its address as failed when it is closed, which is
// only heard when the attempt has not connected yet.
type attemptConn struct {
	net.Conn
	attempt *attempt
	once    sync.Once
}

func (c *attemptConn) Close() error {
	c.once.Do(c.attempt.failed)
	return c.Conn.Close()
}
