package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// closingServer answers requests or closes the connection under them, as
// drop says given the request's number on its connection (from 1) and its
// body: "" answers, "silent" closes without a byte of an answer, "partial"
// closes halfway through the status line.
func closingServer(t *testing.T, drop func(n int, body string) string) (srv *httptest.Server, bodies func() []string) {
	var mu sync.Mutex
	seen := map[string]int{}
	var got []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.RemoteAddr]++
		n := seen[r.RemoteAddr]
		got = append(got, string(b))
		mu.Unlock()
		switch drop(n, string(b)) {
		case "silent":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "partial":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Write([]byte("HTTP/1.1 200 O"))
			conn.Close()
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func post(c *BrowserClient, url, body string) (int, error) {
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// A POST on a reused connection that the server closed without answering
// is sent once more, whole, on a new connection, and recorded.
func TestBrowserClientResendsOnClosedReusedConnection(t *testing.T) {
	t.Parallel()
	srv, bodies := closingServer(t, func(n int, _ string) string {
		if n > 1 {
			return "silent"
		}
		return ""
	})
	c := NewBrowserClient(1, 5*time.Second)
	for _, body := range []string{"first", "second"} {
		if status, err := post(c, srv.URL, body); err != nil || status != 200 {
			t.Fatalf("POST %s: status %d, err %v; want 200", body, status, err)
		}
	}
	if got, want := bodies(), []string{"first", "second", "second"}; !slices.Equal(got, want) {
		t.Errorf("the server read bodies %q, want %q", got, want)
	}
	if r := c.Resent(); len(r) != 1 || r[0].Method != "POST" || r[0].Err == nil {
		t.Errorf("resent %+v, want the second POST once", r)
	}
}

// What a browser would not resend fails: a closed connection that was new,
// an answer that had begun, and a second close of the resent request.
func TestBrowserClientDoesNotResendOtherwise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		drop   func(n int, body string) string
		sends  int // requests before the one that must fail
		resent int
	}{
		{"new connection", func(int, string) string { return "silent" }, 0, 0},
		{"answer begun", func(n int, _ string) string {
			if n > 1 {
				return "partial"
			}
			return ""
		}, 1, 0},
		// The resend goes out on a new connection, which closes as well.
		{"closed again", func(n int, body string) string {
			if n > 1 || body == "body" {
				return "silent"
			}
			return ""
		}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := closingServer(t, tc.drop)
			c := NewBrowserClient(1, 5*time.Second)
			for i := range tc.sends {
				if _, err := post(c, srv.URL, "warm"); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if status, err := post(c, srv.URL, "body"); err == nil {
				t.Errorf("status %d, want an error", status)
			}
			if r := c.Resent(); len(r) != tc.resent {
				t.Errorf("resent %d requests (%+v), want %d", len(r), r, tc.resent)
			}
		})
	}
}

// closingConns fails its first closes requests as a reused connection that
// the server closed unanswered (nginx's reload closes them all at once),
// then answers.
type closingConns struct {
	closes, sends int
}

func (c *closingConns) RoundTrip(req *http.Request) (*http.Response, error) {
	c.sends++
	httptrace.ContextClientTrace(req.Context()).GotConn(httptrace.GotConnInfo{Reused: true})
	if c.sends <= c.closes {
		return nil, io.EOF
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// A resend that meets another closed idle connection is sent again, up to
// maxResends times in all.
func TestBrowserClientResendsAtMostTwice(t *testing.T) {
	t.Parallel()
	for closes, want := range map[int]struct {
		ok    bool
		sends int
	}{1: {true, 2}, 2: {true, 3}, 3: {false, 3}} {
		base := &closingConns{closes: closes}
		rt := &resendTransport{base: base}
		req := httptest.NewRequest(http.MethodPost, "http://shop.test/api/orders", strings.NewReader("body"))
		req.RequestURI = ""
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("body")), nil }
		resp, err := rt.RoundTrip(req)
		if ok := err == nil && resp.StatusCode == http.StatusOK; ok != want.ok || base.sends != want.sends {
			t.Errorf("%d closes: answered %v (%v) after %d sends, want %v after %d", closes, ok, err, base.sends, want.ok, want.sends)
		}
		if n := len(rt.resent); n != want.sends-1 {
			t.Errorf("%d closes: %d resends recorded, want %d", closes, n, want.sends-1)
		}
	}
}
