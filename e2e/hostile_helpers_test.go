package e2e

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostile is one request of the hostile catalogue and the answer it must get.
type hostile struct {
	name   string
	method string
	// path is sent exactly as written: neither cleaned nor escaped, so that
	// dot segments and percent-encodings reach nginx as a client sent them.
	path string
	// body is sent as it is: a string or []byte, or an io.Reader to send it
	// chunked, without a Content-Length. nil sends no body.
	body any
	// contentType defaults to application/json when there is a body; "-"
	// sends none.
	contentType string
	headers     []string // more name, value pairs, each added
	as          *Client  // whose token goes in Authorization; nil for none
	// status is the 4xx the request must get; 0 accepts any 4xx.
	status int
	// outsideAPI marks paths that nginx normalises out of /api/ (to the
	// storefront), whose 4xx need not be problem+json.
	outsideAPI bool
	// raw, when set, is the whole request, written to nginx over TCP
	// instead of the fields above: for bytes Go's client will not send.
	raw string
}

// send makes the request through nginx. A 429 from nginx's rate limit (a
// Retry-After of a few seconds) is waited out and the request sent again,
// so that the limit never hides the answer the catalogue checks.
func (h hostile) send(t *testing.T) *Response {
	t.Helper()
	for attempt := 0; ; attempt++ {
		r := h.sendOnce(t)
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.Status != http.StatusTooManyRequests || err != nil || wait > 5 || attempt == 5 {
			return r
		}
		time.Sleep(time.Duration(wait)*time.Second + 100*time.Millisecond)
	}
}

func (h hostile) sendOnce(t *testing.T) *Response {
	t.Helper()
	if h.raw != "" {
		return rawExchange(t, h.raw)
	}
	var body io.Reader
	switch b := h.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = io.NopCloser(b) // hides the length: sent chunked
	default:
		t.Fatalf("%s: body of type %T", h.name, h.body)
	}
	req, err := http.NewRequest(h.method, mustStack(t).BaseURL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = h.path // verbatim request target
	switch {
	case h.contentType == "-":
	case h.contentType != "":
		req.Header.Set("Content-Type", h.contentType)
	case h.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if h.as != nil {
		req.Header.Set("Authorization", "Bearer "+h.as.Token)
	}
	for i := 0; i+1 < len(h.headers); i += 2 {
		req.Header.Add(h.headers[i], h.headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", h.method, h.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", h.method, h.path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// rawExchange writes request, bytes that Go's client refuses to produce
// (bare CR in a header, conflicting lengths), to nginx over TCP and reads
// the response.
func rawExchange(t *testing.T, request string) *Response {
	t.Helper()
	u, err := url.Parse(mustStack(t).BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	// nginx may answer and close before it has read all of a request it
	// refuses: a failed write still leaves its answer to read.
	_, werr := io.WriteString(conn, request)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v (write: %v)", err, werr)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// checkRefused fails the test unless r is a 4xx (the catalogue's status
// when it names one) that is problem+json under /api/, repeats no markup,
// and stays small whatever the request held.
func checkRefused(t *testing.T, h hostile, r *Response) {
	t.Helper()
	if r.Status < 400 || r.Status >= 500 || h.status != 0 && r.Status != h.status {
		want := "a 4xx"
		if h.status != 0 {
			want = strconv.Itoa(h.status)
		}
		t.Errorf("%s %.120s: status %d, want %s; body %.300s", h.method, h.path, r.Status, want, r.Body)
	}
	if bytes.Contains(bytes.ToLower(r.Body), []byte("<script")) {
		t.Errorf("the response repeats markup unescaped: %.300s", r.Body)
	}
	if len(r.Body) > 8<<10 {
		t.Errorf("the response has %d bytes: it must not echo the request", len(r.Body))
	}
	if h.outsideAPI {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q, want application/problem+json; body %.300s", ct, r.Body)
		return
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Errorf("problem body %.300q: %v", r.Body, err)
		return
	}
	if p.Status != r.Status || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.Type, "/problems/") {
		t.Errorf("incomplete problem: %s", r.Body)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

// jsonObject renders fields, name to raw JSON value, as an object whose
// keys come in sorted order, so that a case can replace one field of a
// valid body by hostile raw JSON.
func jsonObject(fields map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	for i, k := range slices.Sorted(maps.Keys(fields)) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", k, fields[k])
	}
	b.WriteString("}")
	return b.String()
}

// jsonWith returns base with the given fields replaced (or added).
func jsonWith(base map[string]string, kv ...string) string {
	fields := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	return jsonObject(fields)
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hmacToken forges an access token for the stack's algorithm-confusion
// attack: HS256, keyed with the bytes of the users service's published
// Ed25519 key and naming its kid, claiming the admin role.
func hmacToken(t *testing.T) string {
	t.Helper()
	var set struct {
		Keys []struct{ Kid, X string } `json:"keys"`
	}
	newClient(t).Do(t, "GET", "/api/users/.well-known/jwks.json", nil).Expect(t, http.StatusOK, &set)
	if len(set.Keys) == 0 {
		t.Fatal("the JWKS has no key")
	}
	key, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"HS256","typ":"JWT","kid":` + jsonString(set.Keys[0].Kid) + `}`))
	claims := enc(fmt.Appendf(nil, `{"iss":"bazaar-users","aud":["bazaar"],"sub":"0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b","role":"admin","exp":%d}`,
		time.Now().Add(time.Hour).Unix()))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(header + "." + claims))
	return header + "." + claims + "." + enc(mac.Sum(nil))
}

// unsignedToken is an "alg":"none" token claiming the admin role.
func unsignedToken() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc(fmt.Appendf(nil, `{"iss":"bazaar-users","aud":["bazaar"],"sub":"0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b","role":"admin","exp":%d}`,
			time.Now().Add(time.Hour).Unix())) + "."
}

// dbState is what the API shows of the database: every product as stored
// (stock and updated_at included), the categories with their counts, every
// account, and a shopper's orders.
type dbState struct {
	Products   map[string]string // id → the product's JSON
	Categories string
	Users      map[string]string // id → email
	Orders     string
}

// snapshotDB reads dbState through the API, as admin and shopper.
func snapshotDB(t *testing.T, admin, shopper *Client) dbState {
	t.Helper()
	s := dbState{Products: map[string]string{}, Users: map[string]string{}}
	type page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor *string           `json:"next_cursor"`
	}
	walk := func(c *Client, path string, each func(json.RawMessage)) {
		for cursor := ""; ; {
			var p page
			sep := "?limit=100"
			if cursor != "" {
				sep += "&cursor=" + url.QueryEscape(cursor)
			}
			c.Do(t, "GET", path+sep, nil).Expect(t, http.StatusOK, &p)
			for _, it := range p.Items {
				each(it)
			}
			if p.NextCursor == nil {
				return
			}
			cursor = *p.NextCursor
		}
	}
	walk(newClient(t), "/api/catalog/products", func(raw json.RawMessage) {
		var p struct{ ID string }
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		s.Products[p.ID] = string(raw)
	})
	walk(admin, "/api/users", func(raw json.RawMessage) {
		var u struct{ ID, Email string }
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		s.Users[u.ID] = u.Email
	})
	s.Categories = string(newClient(t).Do(t, "GET", "/api/catalog/categories", nil).Expect(t, http.StatusOK, nil).Body)
	s.Orders = string(shopper.Do(t, "GET", "/api/orders?limit=100", nil).Expect(t, http.StatusOK, nil).Body)
	return s
}

// diff describes how after differs from s, or is empty.
func (s dbState) diff(after dbState) []string {
	var out []string
	for id, before := range s.Products {
		switch now, ok := after.Products[id]; {
		case !ok:
			out = append(out, "product gone: "+before)
		case now != before:
			out = append(out, fmt.Sprintf("product changed:\n  before %s\n  after  %s", before, now))
		}
	}
	for id, now := range after.Products {
		if _, ok := s.Products[id]; !ok {
			out = append(out, "product added: "+now)
		}
	}
	for id, email := range after.Users {
		if _, ok := s.Users[id]; !ok {
			out = append(out, "account added: "+email)
		}
	}
	if len(after.Users) != len(s.Users) {
		out = append(out, fmt.Sprintf("accounts: %d before, %d after", len(s.Users), len(after.Users)))
	}
	if after.Categories != s.Categories {
		out = append(out, fmt.Sprintf("categories changed:\n  before %s\n  after  %s", s.Categories, after.Categories))
	}
	if after.Orders != s.Orders {
		out = append(out, fmt.Sprintf("the shopper's orders changed:\n  before %s\n  after  %s", s.Orders, after.Orders))
	}
	return out
}
