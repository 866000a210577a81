package e2e

import (
	"bytes"
	"encoding/json"
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

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func newClient(tb testing.TB) *Client {
	tb.Helper()
	return &Client{Base: mustStack(tb).BaseURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
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
