package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"bazaar/e2e/internal/load"
)

// api makes the bench's data through the public API, as a client would.
type api struct {
	base string
	http *http.Client
}

// call sends a request and decodes a 2xx JSON answer into out (when not
// nil); any other answer is an error.
func (a *api) call(ctx context.Context, method, path, token string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *api) login(ctx context.Context, email, password string) (string, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err := a.call(ctx, "POST", "/api/users/login", "", map[string]string{"email": email, "password": password}, &tok)
	return tok.AccessToken, err
}

// product is the part of a product the bench uses.
type product struct {
	ID string `json:"id"`
}

// createProducts makes n products with the given stock and description,
// a few at a time.
func (a *api) createProducts(ctx context.Context, admin string, n, stock int, description string) ([]product, error) {
	out := make([]product, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range out {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = a.call(ctx, "POST", "/api/catalog/products", admin, map[string]any{
				"sku": "BENCH-" + word(), "name": "Bench " + word(), "description": description,
				"price_cents": 1999, "currency": "USD", "stock": stock, "category": "bench",
			}, &out[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// shoppers registers n customers and returns their access tokens.
func (a *api) shoppers(ctx context.Context, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		email := "bench-" + word() + "@example.com"
		const password = "correct horse battery"
		if err := a.call(ctx, "POST", "/api/users/register", "", map[string]string{"email": email, "password": password, "name": "Bench"}, nil); err != nil {
			return nil, err
		}
		var err error
		if tokens[i], err = a.login(ctx, email, password); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// word returns a random word of lowercase letters, for unique names.
func word() string {
	const letters = "bcdfghjklmnpqrstvwxz"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// get is a load request: a GET whose answer must be 200, read in full;
// size reports the body's length.
func get(c *http.Client, url string) load.Func {
	return func(ctx context.Context, _ int) load.Outcome {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return load.Outcome{Err: err}
		}
		resp, err := c.Do(req)
		if err != nil {
			return load.Outcome{Err: err}
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return load.Outcome{Status: resp.StatusCode, Err: err}
	}
}

// bodySize returns the length of the body a GET of url answers, read as
// the load reads it (no compression).
func bodySize(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return len(b), err
}

// placeOrder is a load request placing one order of one unit of a product
// for a shopper, both picked by the request's number.
func placeOrder(c *http.Client, base string, tokens []string, products []product) load.Func {
	return func(ctx context.Context, i int) load.Outcome {
		body := fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, products[(i*7)%len(products)].ID)
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/orders", strings.NewReader(body))
		if err != nil {
			return load.Outcome{Err: err}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
		resp, err := c.Do(req)
		if err != nil {
			return load.Outcome{Err: err}
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusCreated {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return load.Outcome{Status: resp.StatusCode, Err: err}
	}
}
