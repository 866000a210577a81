package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
	"bazaar/platform/log"
)

// genericDetail is what a client learns of an unexpected error.
const genericDetail = "An unexpected error occurred. It has been logged; quote the X-Request-Id header when reporting it."

func TestProblemFor(t *testing.T) {
	t.Parallel()
	fields := []apperr.FieldError{{Field: "sku", Message: "is required"}}
	for _, tc := range []struct {
		name string
		err  error
		want Problem
	}{
		{"invalid with fields", &apperr.Error{Code: apperr.Invalid, Message: "The request has invalid fields.", Fields: fields},
			Problem{Type: "/problems/invalid-request", Title: "Bad Request", Status: 400, Detail: "The request has invalid fields.", Errors: fields}},
		{"unauthorized", apperr.Errorf(apperr.Unauthorized, "no token"), Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: 401, Detail: "no token"}},
		{"forbidden", apperr.Errorf(apperr.Forbidden, "admins only"), Problem{Type: "/problems/forbidden", Title: "Forbidden", Status: 403, Detail: "admins only"}},
		{"not found", apperr.Errorf(apperr.NotFound, "no such product"), Problem{Type: "/problems/not-found", Title: "Not Found", Status: 404, Detail: "no such product"}},
		{"conflict", apperr.Errorf(apperr.Conflict, "sku taken"), Problem{Type: "/problems/conflict", Title: "Conflict", Status: 409, Detail: "sku taken"}},
		{"out of stock", apperr.Errorf(apperr.OutOfStock, "only 2 left"), Problem{Type: "/problems/out-of-stock", Title: "Conflict", Status: 409, Detail: "only 2 left"}},
		{"in flight", apperr.Errorf(apperr.InFlight, "busy"), Problem{Type: "/problems/request-in-progress", Title: "Conflict", Status: 409, Detail: "busy"}},
		{"too large", apperr.Errorf(apperr.TooLarge, "big"), Problem{Type: "/problems/payload-too-large", Title: "Request Entity Too Large", Status: 413, Detail: "big"}},
		{"unprocessable", apperr.Errorf(apperr.Unprocessable, "unknown product"), Problem{Type: "/problems/unprocessable-entity", Title: "Unprocessable Entity", Status: 422, Detail: "unknown product"}},
		{"key reused", apperr.Errorf(apperr.KeyReused, "other body"), Problem{Type: "/problems/idempotency-key-reused", Title: "Unprocessable Entity", Status: 422, Detail: "other body"}},
		{"too many", apperr.Errorf(apperr.TooManyRequest, "slow down"), Problem{Type: "/problems/too-many-requests", Title: "Too Many Requests", Status: 429, Detail: "slow down"}},
		{"unavailable", apperr.Errorf(apperr.Unavailable, "database down"), Problem{Type: "/problems/service-unavailable", Title: "Service Unavailable", Status: 503, Detail: "database down"}},
		{"internal", apperr.Errorf(apperr.Internal, "broken"), Problem{Type: "/problems/internal-error", Title: "Internal Server Error", Status: 500, Detail: "broken"}},
		{"wrapped domain error", fmt.Errorf("store: %w", apperr.Errorf(apperr.NotFound, "gone")),
			Problem{Type: "/problems/not-found", Title: "Not Found", Status: 404, Detail: "gone"}},
		{"unknown code", apperr.Errorf("made-up", "odd"), Problem{Type: "/problems/made-up", Title: "Internal Server Error", Status: 500, Detail: "odd"}},
		{"echo 404", echo.ErrNotFound, Problem{Type: "/problems/not-found", Title: "Not Found", Status: 404, Detail: "Not Found"}},
		{"echo 405", echo.ErrMethodNotAllowed, Problem{Type: "/problems/method-not-allowed", Title: "Method Not Allowed", Status: 405, Detail: "Method Not Allowed"}},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, Problem{Type: "/problems/payload-too-large", Title: "Request Entity Too Large", Status: 413, Detail: "Request Entity Too Large"}},
		{"echo 415 with a message", &echo.HTTPError{Code: 415, Message: "Content-Type must be application/json."},
			Problem{Type: "/problems/unsupported-media-type", Title: "Unsupported Media Type", Status: 415, Detail: "Content-Type must be application/json."}},
		{"echo 503 keeps its message", &echo.HTTPError{Code: 503, Message: "shutting down"},
			Problem{Type: "/problems/service-unavailable", Title: "Service Unavailable", Status: 503, Detail: "shutting down"}},
		{"echo 500 hides its message", &echo.HTTPError{Code: 500, Message: "pq: password authentication failed"},
			Problem{Type: "/problems/internal-error", Title: "Internal Server Error", Status: 500, Detail: "Internal Server Error"}},
		{"echo status without a code", &echo.HTTPError{Code: http.StatusTeapot, Message: "short and stout"},
			Problem{Type: "/problems/internal-error", Title: "I'm a teapot", Status: 418, Detail: "short and stout"}},
		{"echo error with a non-string message", &echo.HTTPError{Code: 400, Message: map[string]string{"secret": "x"}},
			Problem{Type: "/problems/invalid-request", Title: "Bad Request", Status: 400, Detail: "Bad Request"}},
		{"unknown error", errors.New("dial tcp 10.0.0.7:5432: password=hunter2"),
			Problem{Type: "/problems/internal-error", Title: "Internal Server Error", Status: 500, Detail: genericDetail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, ProblemFor(tc.err)); diff != "" {
				t.Errorf("ProblemFor(%v) (-want +got):\n%s", tc.err, diff)
			}
		})
	}
}

// testServer is a Server whose log lines land in a buffer.
func testServer(t *testing.T) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	s := NewServer(Config{Service: "test"}, log.New(&logs, "test", slog.LevelInfo), nil)
	return s, &logs
}

func serve(e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// decodeProblem fails the test unless rec holds a problem+json body with
// status, and returns it.
func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get(echo.HeaderContentType); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != status || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.Type, ProblemTypePrefix) {
		t.Errorf("incomplete problem %+v", p)
	}
	return p
}

func TestHandleErrorRendersEveryFailureAsProblem(t *testing.T) {
	t.Parallel()
	s, logs := testServer(t)
	s.API.GET("/domain", func(echo.Context) error {
		return fmt.Errorf("find: %w", apperr.Errorf(apperr.NotFound, "No product has id %q.", "x"))
	})
	s.API.GET("/secret", func(echo.Context) error {
		return errors.New("connect postgres://catalog:hunter2@db failed")
	})
	s.API.GET("/panic", func(echo.Context) error { panic("nil map write in handler") })
	s.API.POST("/body", func(c echo.Context) error {
		var v struct{ Name string }
		return BindJSON(c, &v)
	})

	for _, tc := range []struct {
		name     string
		req      *http.Request
		status   int
		typ      string
		noDetail string // must not appear in the response
	}{
		{"domain error", httptest.NewRequest(http.MethodGet, "/domain", nil), 404, "/problems/not-found", ""},
		{"unknown error", httptest.NewRequest(http.MethodGet, "/secret", nil), 500, "/problems/internal-error", "hunter2"},
		{"panic", httptest.NewRequest(http.MethodGet, "/panic", nil), 500, "/problems/internal-error", "nil map"},
		{"unknown route", httptest.NewRequest(http.MethodGet, "/nope", nil), 404, "/problems/not-found", ""},
		{"method not allowed", httptest.NewRequest(http.MethodDelete, "/domain", nil), 405, "/problems/method-not-allowed", ""},
		{"body over the limit", jsonRequest(http.MethodPost, "/body", `{"Name":"`+strings.Repeat("a", MaxBodyBytes)+`"}`), 413, "/problems/payload-too-large", ""},
		{"wrong content type", httptest.NewRequest(http.MethodPost, "/body", strings.NewReader(`{}`)), 415, "/problems/unsupported-media-type", ""},
		{"malformed body", jsonRequest(http.MethodPost, "/body", `{"Name":`), 400, "/problems/invalid-request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(s.API, tc.req)
			body := rec.Body.String()
			p := decodeProblem(t, rec, tc.status)
			if p.Type != tc.typ {
				t.Errorf("type %q, want %q", p.Type, tc.typ)
			}
			if tc.status == 500 && p.Detail != genericDetail {
				t.Errorf("detail %q, want the generic one", p.Detail)
			}
			if tc.noDetail != "" && strings.Contains(body, tc.noDetail) {
				t.Errorf("the response leaks %q: %s", tc.noDetail, body)
			}
			if rec.Header().Get(HeaderRequestID) == "" {
				t.Error("no X-Request-Id on an error response")
			}
		})
	}
	t.Run("a panic is logged with its stack", func(t *testing.T) {
		rec := serve(s.API, httptest.NewRequest(http.MethodGet, "/panic", nil))
		id := rec.Header().Get(HeaderRequestID)
		for line := range strings.Lines(logs.String()) {
			if !strings.Contains(line, `"request_id":"`+id+`"`) {
				continue
			}
			for _, want := range []string{`"err":"panic: nil map write in handler"`, `"stack":"goroutine `, `problem_test.go`} {
				if !strings.Contains(line, want) {
					t.Errorf("the panic's log line lacks %s:\n%s", want, line)
				}
			}
			return
		}
		t.Errorf("no log line for request %s:\n%s", id, logs)
	})
	t.Run("the cause goes to the log", func(t *testing.T) {
		rec := serve(s.API, httptest.NewRequest(http.MethodGet, "/secret", nil))
		id := rec.Header().Get(HeaderRequestID)
		for _, want := range []string{`"msg":"request failed"`, "hunter2", `"request_id":"` + id + `"`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, logs)
			}
		}
	})
}

func TestHandleErrorHeadHasNoBody(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t)
	s.API.HEAD("/gone", func(echo.Context) error { return apperr.Errorf(apperr.NotFound, "gone") })
	rec := serve(s.API, httptest.NewRequest(http.MethodHead, "/gone", nil))
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, body %q; want 404 without a body", rec.Code, rec.Body)
	}
}

// An error after the response has started cannot change it: the handler
// leaves the written response alone rather than appending a second body.
func TestHandleErrorLeavesCommittedResponses(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t)
	s.API.GET("/late", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "partial"); err != nil {
			return err
		}
		return errors.New("failed after writing")
	})
	rec := serve(s.API, httptest.NewRequest(http.MethodGet, "/late", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("status %d, body %q; want the handler's own 200 partial", rec.Code, rec.Body)
	}
}

func jsonRequest(method, target, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	return req
}
