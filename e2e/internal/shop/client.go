// Package shop is the shop's public contract (docs/api.md) as the end-to-end
// tests use it, through nginx only: an HTTP client, the API's shapes, signed-in
// accounts, and the shop suite (Tests), the journeys and invariants that every
// deployment must keep. The root e2e package runs the suite against the
// Compose stack, e2e/swarm against the Swarm stack; each hands it a Shop, the
// base URL of its nginx and its administrator.
package shop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client talks to the stack through nginx, as a browser or script would.
type Client struct {
	Base  string
	Token string // sent as a Bearer token when set
	HTTP  *http.Client
}

// NewClient is a client of the nginx at base (http://127.0.0.1:8080) that
// gives up on an answer after 30 s.
func NewClient(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request; body is JSON-encoded unless it is a string or []byte,
// which are sent as they are. headers are name, value pairs.
func (c *Client) Do(tb testing.TB, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Attempt sends one request like Do, but returns a transport error instead
// of failing the test: t.Fatal may only be called from the test's own
// goroutine, and the concurrency tests send from many. The body is sent as
// it is, as JSON.
func (c *Client) Attempt(method, path string, body []byte, headers ...string) (*Response, error) {
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Expect fails the test unless the response has the given status, and
// decodes a JSON body into v when v is not nil.
func (r *Response) Expect(tb testing.TB, status int, v any) *Response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			tb.Fatalf("decode %s: %v", r.Body, err)
		}
	}
	return r
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// ExpectProblem fails the test unless the response is a problem+json body
// with the given status whose type ends in typeSuffix (when not empty).
func (r *Response) ExpectProblem(tb testing.TB, status int, typeSuffix string) Problem {
	tb.Helper()
	var p Problem
	r.Expect(tb, status, &p)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		tb.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if p.Status != status || p.Title == "" || p.Detail == "" || p.Type == "" {
		tb.Errorf("incomplete problem: %s", r.Body)
	}
	if typeSuffix != "" && !strings.HasSuffix(p.Type, typeSuffix) {
		tb.Errorf("problem type %q, want one ending in %q", p.Type, typeSuffix)
	}
	return p
}

// ProblemType is the type of a problem+json body, or "" for another body.
func ProblemType(r *Response) string {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		return ""
	}
	var p Problem
	if json.Unmarshal(r.Body, &p) != nil || p.Status != r.Status {
		return ""
	}
	return p.Type
}

// WantFieldError checks that a validation problem names field.
func WantFieldError(tb testing.TB, p Problem, field string) {
	tb.Helper()
	for _, e := range p.Errors {
		if e.Field == field && e.Message != "" {
			return
		}
	}
	tb.Errorf("problem %+v: want a field error for %q", p, field)
}
