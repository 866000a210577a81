// Command latency measures what one client waits, through nginx, for four
// things a shop does: a product read answered from the cache, a product read
// that the cache cannot answer (the first after a write replaced the
// product's cache version), a login, and placing an order. Requests go one
// at a time over one keep-alive connection, as a browser tab sends them, and
// each figure is the median and 90th percentile of many samples.
//
// Run it against a running stack, for instance `make up`'s:
//
//	cd e2e && go run ./cmd/latency -base http://localhost:8080
//
// It signs in as the admin (ADMIN_EMAIL and ADMIN_PASSWORD, else the compose
// development defaults), registers one customer and creates one product; at
// the end it cancels the orders it placed and deletes the product. Requests
// are paced below nginx's per-client rate limits, so that a 429 never stands
// in for a latency; any unexpected answer stops the run.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	base := flag.String("base", "http://localhost:8080", "nginx's address")
	n := flag.Int("n", 200, "samples of each product read and of placing an order")
	logins := flag.Int("logins", 50, "samples of login (argon2id makes each deliberately slow)")
	apiGap := flag.Duration("api-gap", 10*time.Millisecond, "least time between API request starts (nginx allows 200/s per client)")
	authGap := flag.Duration("auth-gap", 100*time.Millisecond, "least time between login request starts (nginx allows 20/s per client)")
	flag.Parse()
	log.SetFlags(0)
	if *n < 1 || *logins < 1 {
		log.Fatal("-n and -logins must be at least 1")
	}

	api := &client{base: *base, http: &http.Client{Timeout: 30 * time.Second}, gap: *apiGap}
	auth := &client{base: *base, http: api.http, gap: *authGap}
	if err := run(api, auth, *n, *logins); err != nil {
		log.Fatal(err)
	}
}

// sample is one measured operation.
type sample struct {
	name      string
	latencies []time.Duration
}

func run(api, auth *client, n, logins int) error {
	admin, err := login(auth, envOr("ADMIN_EMAIL", "admin@bazaar.local"), envOr("ADMIN_PASSWORD", "change-me-admin"))
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	word := randomWord()
	email, password := "latency-"+word+"@example.com", "latency probe password"
	if _, err := auth.do("POST", "/api/users/register", "", map[string]string{"email": email, "password": password, "name": "Latency Probe"}, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	customer, err := login(auth, email, password)
	if err != nil {
		return fmt.Errorf("customer login: %w", err)
	}
	var product struct {
		ID string `json:"id"`
	}
	_, err = api.do("POST", "/api/catalog/products", admin, map[string]any{
		"sku": "LATENCY-" + word, "name": "Latency probe " + word, "description": "Measured by e2e/cmd/latency.",
		"price_cents": 100, "currency": "USD", "stock": 1_000_000, "category": "latency-probe",
	}, http.StatusCreated, &product)
	if err != nil {
		return fmt.Errorf("create product: %w", err)
	}
	productPath := "/api/catalog/products/" + product.ID
	var orders []string
	defer cleanUp(api, admin, customer, productPath, &orders)

	results := []*sample{{name: "cached product read"}, {name: "uncached product read"}, {name: "login"}, {name: "place order"}}
	cached, uncached, loginTimes, placing := results[0], results[1], results[2], results[3]

	// The first read fills the cache; every later one is a hit.
	if _, err := api.do("GET", productPath, "", nil, http.StatusOK, nil); err != nil {
		return err
	}
	for range n {
		d, err := api.do("GET", productPath, "", nil, http.StatusOK, nil)
		if err != nil {
			return err
		}
		cached.latencies = append(cached.latencies, d)
	}
	// Each write replaces the product's cache version, so the read after it
	// misses the cache and goes to PostgreSQL.
	for i := range n {
		if _, err := api.do("PATCH", productPath, admin, map[string]int{"stock": 1_000_000 - i - 1}, http.StatusOK, nil); err != nil {
			return err
		}
		d, err := api.do("GET", productPath, "", nil, http.StatusOK, nil)
		if err != nil {
			return err
		}
		uncached.latencies = append(uncached.latencies, d)
	}
	for range logins {
		d, err := auth.do("POST", "/api/users/login", "", map[string]string{"email": email, "password": password}, http.StatusOK, nil)
		if err != nil {
			return err
		}
		loginTimes.latencies = append(loginTimes.latencies, d)
	}
	body := map[string]any{"items": []map[string]any{{"product_id": product.ID, "quantity": 1}}}
	for range n {
		var o struct {
			ID string `json:"id"`
		}
		d, err := api.do("POST", "/api/orders", customer, body, http.StatusCreated, &o)
		if err != nil {
			return err
		}
		orders = append(orders, o.ID)
		placing.latencies = append(placing.latencies, d)
		// Cancelled at once, untimed: a user may hold only so many open
		// orders (ORDERS_MAX_OPEN_PER_USER).
		if _, err := api.do("POST", "/api/orders/"+o.ID+"/cancel", customer, nil, http.StatusOK, nil); err != nil {
			return err
		}
		orders = orders[:len(orders)-1]
	}

	fmt.Printf("Sequential requests through nginx at %s, one keep-alive connection:\n", api.base)
	fmt.Printf("%-22s %6s %9s %9s %9s %9s\n", "", "n", "median", "p90", "min", "max")
	for _, s := range results {
		l := slices.Sorted(slices.Values(s.latencies))
		fmt.Printf("%-22s %6d %9s %9s %9s %9s\n", s.name, len(l), ms(percentile(l, 0.5)), ms(percentile(l, 0.9)), ms(l[0]), ms(l[len(l)-1]))
	}
	return nil
}

// cleanUp gives the stock of the orders not yet cancelled back and deletes
// the product, so that a run leaves only the probe customer behind.
func cleanUp(api *client, admin, customer, productPath string, orders *[]string) {
	for _, id := range *orders {
		if _, err := api.do("POST", "/api/orders/"+id+"/cancel", customer, nil, http.StatusOK, nil); err != nil {
			log.Printf("clean up: %v", err)
		}
	}
	if _, err := api.do("DELETE", productPath, admin, nil, http.StatusNoContent, nil); err != nil {
		log.Printf("clean up: %v", err)
	}
}

func login(c *client, email, password string) (string, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_, err := c.do("POST", "/api/users/login", "", map[string]string{"email": email, "password": password}, http.StatusOK, &tok)
	return tok.AccessToken, err
}

// client sends requests no closer together than gap.
type client struct {
	base string
	http *http.Client
	gap  time.Duration
	last time.Time
}

// do sends one request and returns the time from sending it to having read
// the whole answer. Any status but want is an error.
func (c *client) do(method, path, token string, body any, want int, v any) (time.Duration, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	time.Sleep(time.Until(c.last.Add(c.gap)))
	start := time.Now()
	c.last = start
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return 0, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return elapsed, nil
}

// percentile is the q-quantile of sorted by the nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[max(int(math.Ceil(q*float64(len(sorted))))-1, 0)]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func randomWord() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
