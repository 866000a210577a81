// Command seed loads the demo catalogue (over a thousand products in
// fourteen categories) into a running stack through the public admin API,
// as an administrator would, and gives each product it creates a picture
// that it draws itself. It is idempotent: a product whose SKU is already
// there counts as done.
//
// Usage:
//
//	ADMIN_EMAIL=… ADMIN_PASSWORD=… seed [-base-url http://localhost:8080] [-workers 4]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	baseURL := fs.String("base-url", envOr(getenv, "BASE_URL", "http://localhost:8080"), "the stack's public URL (env BASE_URL)")
	email := fs.String("email", getenv("ADMIN_EMAIL"), "admin email (env ADMIN_EMAIL)")
	password := fs.String("password", getenv("ADMIN_PASSWORD"), "admin password (env ADMIN_PASSWORD)")
	workers := fs.Int("workers", 4, "concurrent requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" || *password == "" {
		return errors.New("ADMIN_EMAIL and ADMIN_PASSWORD (or -email and -password) are required")
	}
	if *workers < 1 || *workers > 32 {
		return errors.New("-workers must be from 1 to 32")
	}
	c := &client{base: *baseURL, email: *email, password: *password, http: &http.Client{Timeout: 15 * time.Second}}
	if err := c.login(ctx); err != nil {
		return err
	}

	products := demoCatalogue()
	jobs := make(chan seedProduct)
	var created, existing, failed, done atomic.Int64
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for p := range jobs {
				switch isNew, err := c.create(ctx, p); {
				case err != nil:
					failed.Add(1)
					_, _ = fmt.Fprintf(out, "%s: %v\n", p.SKU, err)
				case isNew:
					created.Add(1)
				default:
					existing.Add(1)
				}
				if n := done.Add(1); n%100 == 0 || int(n) == len(products) {
					_, _ = fmt.Fprintf(out, "seeded %d/%d products (%d created, %d already there, %d failed)\n",
						n, len(products), created.Load(), existing.Load(), failed.Load())
				}
			}
		})
	}
	for _, p := range products {
		select {
		case jobs <- p:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d products could not be created", n)
	}
	return nil
}

// client calls the public API with an admin token, logging in again when
// the token expires.
type client struct {
	base, email, password string
	http                  *http.Client

	mu    sync.Mutex
	token string
}

func (c *client) login(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"email": c.email, "password": c.password})
	resp, err := c.post(ctx, "/api/users/login", "", body)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if resp.status != http.StatusOK {
		return fmt.Errorf("login: %d %s", resp.status, resp.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("login: no access token in %s", resp.body)
	}
	c.mu.Lock()
	c.token = tok.AccessToken
	c.mu.Unlock()
	return nil
}

func (c *client) currentToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// retryable answers are worth trying again after a pause: rate limiting and
// an edge or service that is briefly unavailable.
var retryable = map[int]bool{
	http.StatusTooManyRequests: true, http.StatusBadGateway: true,
	http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
}

// create posts p and gives it its picture, and reports whether it was
// created (true) or its SKU was already there (false).
func (c *client) create(ctx context.Context, p seedProduct) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	resp, err := c.call(ctx, http.MethodPost, "/api/catalog/products", "application/json", body, http.StatusCreated, http.StatusConflict)
	if err != nil || resp.status == http.StatusConflict {
		return false, err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.body, &created); err != nil || created.ID == "" {
		return false, fmt.Errorf("no product id in %s", resp.body)
	}
	if _, err := c.call(ctx, http.MethodPut, "/api/catalog/products/"+created.ID+"/image", "image/jpeg", picture(p), http.StatusOK); err != nil {
		return false, fmt.Errorf("picture: %w", err)
	}
	return true, nil
}

// call sends a request with the admin token until it is answered with one
// of the statuses in done, logging in again once when the token has
// expired and retrying what is worth retrying.
func (c *client) call(ctx context.Context, method, path, contentType string, body []byte, done ...int) (response, error) {
	relogged := false
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, method, path, c.currentToken(), contentType, body)
		switch {
		case err == nil && slices.Contains(done, resp.status):
			return resp, nil
		case err == nil && resp.status == http.StatusUnauthorized && !relogged:
			relogged = true
			if err := c.login(ctx); err != nil {
				return response{}, err
			}
		case attempt < 6 && (err != nil && ctx.Err() == nil || retryable[resp.status]):
			if err := sleep(ctx, resp.backoff(attempt)); err != nil {
				return response{}, err
			}
		case err != nil:
			return response{}, err
		default:
			return response{}, fmt.Errorf("%d %s", resp.status, resp.body)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

type response struct {
	status     int
	body       []byte
	retryAfter time.Duration // from a Retry-After header in seconds
}

// backoff waits what Retry-After asked, if anything, or doubles from 200 ms.
func (r response) backoff(attempt int) time.Duration {
	if r.retryAfter > 0 && r.retryAfter <= time.Minute {
		return r.retryAfter
	}
	return time.Duration(100<<attempt) * time.Millisecond
}

// post sends a JSON body.
func (c *client) post(ctx context.Context, path, token string, body []byte) (response, error) {
	return c.send(ctx, http.MethodPost, path, token, "application/json", body)
}

// send sends one request.
func (c *client) send(ctx context.Context, method, path, token, contentType string, body []byte) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	r := response{status: resp.StatusCode}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		r.retryAfter = time.Duration(n) * time.Second
	}
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return r, err
}
