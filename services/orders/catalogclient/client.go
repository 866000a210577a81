// Package catalogclient calls the catalog's internal stock reservation API
// over HTTP: each attempt has a timeout, and timeouts, connection errors and
// 5xx answers are retried a bounded number of times with backoff. Retrying
// is safe because the catalog's reserve and release are idempotent per
// order id.
package catalogclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"bazaar/orders"
	"bazaar/platform/apperr"
	"bazaar/platform/log"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the catalog's internal address, e.g. http://catalog:8081.
	BaseURL string
	// Token is the internal API's bearer token (web.Config.InternalToken).
	Token string
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Retries is how many times a failed attempt is repeated.
	Retries int
	// Backoff is the wait before the first retry; it doubles for each next
	// one, up to maxBackoff, with jitter.
	Backoff time.Duration
	// Transport, when set, carries the calls instead of connections of
	// its own: on AWS Lambda, direct invocations of the catalog function
	// (BaseURL lambda://<function>).
	Transport http.RoundTripper
}

const maxBackoff = 2 * time.Second

// maxIdleConns is how many idle connections to the catalog are kept: one
// per placement in flight, well beyond what the database pool lets run.
const maxIdleConns = 100

// dialTimeout bounds a connection to the catalog: on a container network
// one takes under a millisecond.
const dialTimeout = time.Second

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// Client implements orders.Catalog.
type Client struct {
	cfg     Config
	http    *http.Client
	metrics Metrics
}

var _ orders.Catalog = (*Client)(nil)

// Metrics counts the attempts to call the catalog; bazaar/orders/metrics
// implements it.
type Metrics interface {
	// CatalogAttempt records how long one attempt at operation op took.
	CatalogAttempt(op string, d time.Duration)
	// CatalogError counts a failed attempt at op, by kind (timeout,
	// connection, status_5xx, unexpected).
	CatalogError(op, kind string)
}

// New returns a Client counting its calls in m.
func New(cfg Config, m Metrics) *Client {
	// http.DefaultTransport keeps two idle connections per host: with more
	// placements at once, most calls opened a new connection to the catalog
	// (and left one in TIME_WAIT), which the profile showed as a tenth of
	// this service's CPU. Keep as many as there can be calls in flight.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = maxIdleConns, maxIdleConns
	// While a replaced catalog container leaves, its address may still be
	// listed for a moment, and a connect to an address that is gone hangs
	// instead of being refused. A connect has dialTimeout in all, shared
	// among the listed addresses, so the live one is tried in time.
	transport.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	return &Client{
		cfg:     cfg,
		http:    &http.Client{Transport: cmp.Or[http.RoundTripper](cfg.Transport, transport)},
		metrics: m,
	}
}

// MaxDuration is the longest one call can take with all its retries.
func (c *Client) MaxDuration() time.Duration {
	d := time.Duration(c.cfg.Retries+1) * c.cfg.Timeout
	for i := range c.cfg.Retries {
		d += c.backoff(i)
	}
	return d
}

// backoff is the longest wait before retry i (from 0).
func (c *Client) backoff(i int) time.Duration {
	return min(c.cfg.Backoff<<i, maxBackoff)
}

type reserveRequest struct {
	OrderID string        `json:"order_id"`
	Items   []orders.Line `json:"items"`
}

// Reserve implements orders.Catalog.
func (c *Client) Reserve(ctx context.Context, orderID string, lines []orders.Line) (orders.Reservation, error) {
	body, err := json.Marshal(reserveRequest{OrderID: orderID, Items: lines})
	if err != nil {
		return orders.Reservation{}, fmt.Errorf("catalog reserve: %w", err)
	}
	a, err := c.do(ctx, "reserve", http.MethodPost, "/internal/reservations", body)
	if err != nil {
		return orders.Reservation{}, err
	}
	switch {
	case a.status == http.StatusOK:
		return a.reservation("reserve")
	case a.status == http.StatusConflict && a.problem() == apperr.OutOfStock:
		return orders.Reservation{}, apperr.Errorf(apperr.OutOfStock, "%s", a.detail("Not enough stock for one of the products; nothing was reserved."))
	case a.status == http.StatusConflict && a.problem() == apperr.Conflict:
		return orders.Reservation{}, fmt.Errorf("catalog reserve %s: %w", orderID, orders.ErrReservationReleased)
	case a.status == http.StatusUnprocessableEntity:
		return orders.Reservation{}, apperr.Errorf(apperr.Unprocessable, "%s", a.detail("One of the products does not exist."))
	}
	return orders.Reservation{}, a.unexpected("reserve")
}

// Release implements orders.Catalog.
func (c *Client) Release(ctx context.Context, orderID string) error {
	a, err := c.do(ctx, "release", http.MethodPost, "/internal/reservations/"+url.PathEscape(orderID)+"/release", nil)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.unexpected("release")
	}
	return nil
}

// ReservedOrderIDs implements orders.Catalog.
func (c *Client) ReservedOrderIDs(ctx context.Context, after, before string, limit int) ([]string, error) {
	q := url.Values{"after": {after}, "before": {before}, "limit": {strconv.Itoa(limit)}}
	a, err := c.do(ctx, "list", http.MethodGet, "/internal/reservations?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, a.unexpected("list")
	}
	var page struct {
		OrderIDs []string `json:"order_ids"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		return nil, fmt.Errorf("catalog list: decode answer: %w", err)
	}
	return page.OrderIDs, nil
}

// answer is the catalog's final answer to one call.
type answer struct {
	status int
	body   []byte
}

func (a answer) reservation(op string) (orders.Reservation, error) {
	var r orders.Reservation
	if err := json.Unmarshal(a.body, &r); err != nil {
		return orders.Reservation{}, fmt.Errorf("catalog %s: decode answer: %w", op, err)
	}
	return r, nil
}

// problem is the code of a problem+json answer: the last segment of its
// type.
func (a answer) problem() string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(a.body, &p)
	return p.Type[strings.LastIndex(p.Type, "/")+1:]
}

// detail is the answer's problem detail, meant for the client (it names
// the product concerned), or def.
func (a answer) detail(def string) string {
	var p struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(a.body, &p); err != nil || p.Detail == "" || len(p.Detail) > 500 {
		return def
	}
	return p.Detail
}

func (a answer) unexpected(op string) error {
	return fmt.Errorf("catalog %s: unexpected answer %d: %.200s", op, a.status, a.body)
}

// errRetryable marks an attempt worth repeating.
var errRetryable = errors.New("retryable")

// do calls the catalog, repeating failed attempts, and returns the first
// answer that is not a 5xx.
func (c *Client) do(ctx context.Context, op, method, path string, body []byte) (answer, error) {
	for attempt := 0; ; attempt++ {
		a, err := c.attempt(ctx, op, method, path, body)
		if !errors.Is(err, errRetryable) {
			return a, err
		}
		if attempt == c.cfg.Retries || ctx.Err() != nil {
			return answer{}, fmt.Errorf("catalog %s: gave up after %d attempts: %w", op, attempt+1, err)
		}
		wait := c.backoff(attempt)
		wait = wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			return answer{}, fmt.Errorf("catalog %s: %w", op, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (c *Client) attempt(ctx context.Context, op, method, path string, body []byte) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("catalog %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := log.RequestID(ctx); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	var a answer
	if err == nil {
		a.status = resp.StatusCode
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
	}
	c.metrics.CatalogAttempt(op, time.Since(start))
	switch {
	case err != nil && ctx.Err() != nil:
		c.metrics.CatalogError(op, "timeout")
		return answer{}, fmt.Errorf("%w: %w", errRetryable, err)
	case err != nil:
		c.metrics.CatalogError(op, "connection")
		return answer{}, fmt.Errorf("%w: %w", errRetryable, err)
	case a.status >= 500:
		c.metrics.CatalogError(op, "status_5xx")
		return answer{}, fmt.Errorf("%w: catalog answered %d", errRetryable, a.status)
	case a.status == http.StatusNotFound && method == http.MethodPost:
		// The catalog never answers 404 to a reserve or a release: this
		// is another server, on a kept-alive connection to an address a
		// catalog container left behind (Docker hands addresses on at
		// once). Drop the idle connections and call again.
		c.metrics.CatalogError(op, "unexpected")
		c.http.CloseIdleConnections()
		return answer{}, fmt.Errorf("%w: a 404 from %s, which is not the catalog's reservation API", errRetryable, c.cfg.BaseURL)
	case a.status != http.StatusOK && a.status != http.StatusNotFound && a.status != http.StatusConflict && a.status != http.StatusUnprocessableEntity:
		c.metrics.CatalogError(op, "unexpected")
	}
	return a, nil
}
