package catalogclient_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bazaar/orders"
	"bazaar/orders/catalogclient"
	"bazaar/orders/metrics"
	"bazaar/platform/apperr"
	"bazaar/platform/log"
)

const orderID = "0190f3a0-0000-7000-8000-0000000000aa"

// serve starts a catalog that answers each call with answers[i] (the last
// one repeats) and counts the calls.
func serve(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) (*catalogclient.Client, *atomic.Int32, *prometheus.Registry) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		answers[min(i, len(answers)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	c := catalogclient.New(catalogclient.Config{BaseURL: srv.URL, Timeout: 100 * time.Millisecond, Retries: 2, Backoff: time.Millisecond}, metrics.New(reg, nil))
	return c, &calls, reg
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		ct := "application/json"
		if code >= 400 {
			ct = "application/problem+json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func problem(code int, typ, detail string) func(http.ResponseWriter, *http.Request) {
	b, _ := json.Marshal(map[string]any{"type": "/problems/" + typ, "title": http.StatusText(code), "status": code, "detail": detail})
	return status(code, string(b))
}

var reserved = orders.Reservation{OrderID: orderID, Status: orders.Reserved, Items: []orders.ReservedItem{
	{ProductID: "p", SKU: "MUG", Name: "Mug", Quantity: 2, UnitPriceCents: 450, Currency: "EUR"},
}}

func reservedAnswer(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(reserved)
	status(http.StatusOK, string(b))(w, r)
}

func TestReserveSendsTheContractsRequest(t *testing.T) {
	t.Parallel()
	var got struct {
		method, path, contentType, requestID string
		body                                 map[string]any
	}
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path = r.Method, r.URL.Path
		got.contentType, got.requestID = r.Header.Get("Content-Type"), r.Header.Get("X-Request-Id")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		reservedAnswer(w, r)
	})
	ctx := log.WithRequestID(t.Context(), "req-42")
	res, err := c.Reserve(ctx, orderID, []orders.Line{{ProductID: "p", Quantity: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reserved, res); diff != "" {
		t.Errorf("reservation (-want +got):\n%s", diff)
	}
	if got.method != http.MethodPost || got.path != "/internal/reservations" || got.contentType != "application/json" || got.requestID != "req-42" {
		t.Errorf("request = %s %s (%s, request id %q)", got.method, got.path, got.contentType, got.requestID)
	}
	want := map[string]any{"order_id": orderID, "items": []any{map[string]any{"product_id": "p", "quantity": float64(2)}}}
	if diff := cmp.Diff(want, got.body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestReserveAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		code   string // apperr code of the error
		is     error  // or the sentinel it wraps
	}{
		{"out of stock", problem(409, "out-of-stock", "Only 1 MUG left."), apperr.OutOfStock, nil},
		{"unknown product", problem(422, "unprocessable-entity", "No product has id \"x\"."), apperr.Unprocessable, nil},
		{"released before", problem(409, "conflict", "released"), "", orders.ErrReservationReleased},
		{"refused body", problem(400, "invalid-request", "bad"), apperr.Internal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, calls, _ := serve(t, tt.answer)
			_, err := c.Reserve(t.Context(), orderID, []orders.Line{{ProductID: "p", Quantity: 2}})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if tt.code != "" && apperr.Code(err) != tt.code {
				t.Errorf("code = %s, want %s (%v)", apperr.Code(err), tt.code, err)
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls; a 4xx must not be retried", calls.Load())
			}
		})
	}
	t.Run("the catalog's detail reaches the client", func(t *testing.T) {
		t.Parallel()
		c, _, _ := serve(t, problem(409, "out-of-stock", "Only 1 MUG left."))
		_, err := c.Reserve(t.Context(), orderID, []orders.Line{{ProductID: "p", Quantity: 2}})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Message != "Only 1 MUG left." {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	}
	hangUp := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	tests := []struct {
		name    string
		answers []func(http.ResponseWriter, *http.Request)
		calls   int32
		ok      bool
		kind    string // the error kind counted
	}{
		{"5xx then success", []func(http.ResponseWriter, *http.Request){problem(503, "service-unavailable", ""), reservedAnswer}, 2, true, "status_5xx"},
		{"timeout then success", []func(http.ResponseWriter, *http.Request){slow, reservedAnswer}, 2, true, "timeout"},
		{"connection lost then success", []func(http.ResponseWriter, *http.Request){hangUp, reservedAnswer}, 2, true, "connection"},
		{"always 5xx: bounded", []func(http.ResponseWriter, *http.Request){status(500, "boom")}, 3, false, "status_5xx"},
		{"always slow: bounded", []func(http.ResponseWriter, *http.Request){slow}, 3, false, "timeout"},
		{"not the catalog (404) then success", []func(http.ResponseWriter, *http.Request){problem(404, "not-found", "No route."), reservedAnswer}, 2, true, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, calls, reg := serve(t, tt.answers...)
			start := time.Now()
			_, err := c.Reserve(t.Context(), orderID, []orders.Line{{ProductID: "p", Quantity: 2}})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && apperr.Code(err) != apperr.Internal {
				t.Errorf("an unknown outcome must not look like a refusal: code %s", apperr.Code(err))
			}
			if calls.Load() != tt.calls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.calls)
			}
			if elapsed := time.Since(start); elapsed > c.MaxDuration()+200*time.Millisecond {
				t.Errorf("took %v, more than MaxDuration %v", elapsed, c.MaxDuration())
			}
			failed, _ := testutil.GatherAndCount(reg, "orders_catalog_request_errors_total")
			if failed != 1 {
				t.Errorf("%d error series, want 1", failed)
			}
			want := float64(tt.calls - 1)
			if !tt.ok {
				want = float64(tt.calls)
			}
			if got := errorsOf(t, reg, "reserve", tt.kind); got != want {
				t.Errorf("errors{reserve,%s} = %v, want %v", tt.kind, got, want)
			}
		})
	}
}

// errorsOf reads one series of the errors counter.
func errorsOf(t *testing.T, reg *prometheus.Registry, op, kind string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "orders_catalog_request_errors_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == op && labels["kind"] == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series {operation=%s, kind=%s}", op, kind)
	return 0
}

func TestReleaseAndList(t *testing.T) {
	t.Parallel()
	var path, method string
	var query url.Values
	c, _, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		path, method = r.URL.Path, r.Method
		status(200, `{"order_id":"`+orderID+`","status":"released"}`)(w, r)
	})
	if err := c.Release(t.Context(), orderID); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != "/internal/reservations/"+orderID+"/release" {
		t.Errorf("release called %s %s", method, path)
	}
	c, _, _ = serve(t, problem(409, "conflict", "?"))
	if err := c.Release(t.Context(), orderID); err == nil {
		t.Error("Release accepted a 409")
	}

	const after, before = "00000000-0000-0000-0000-000000000000", "0190f3a0-0000-0000-0000-000000000000"
	c, _, _ = serve(t, func(w http.ResponseWriter, r *http.Request) {
		path, method, query = r.URL.Path, r.Method, r.URL.Query()
		status(200, `{"order_ids":["`+orderID+`"]}`)(w, r)
	})
	ids, err := c.ReservedOrderIDs(t.Context(), after, before, 50)
	if err != nil || len(ids) != 1 || ids[0] != orderID {
		t.Errorf("ReservedOrderIDs = %q, %v", ids, err)
	}
	want := url.Values{"after": {after}, "before": {before}, "limit": {"50"}}
	if method != http.MethodGet || path != "/internal/reservations" || !cmp.Equal(query, want) {
		t.Errorf("list called %s %s?%s", method, path, query.Encode())
	}
	c, _, _ = serve(t, problem(400, "validation", "?"))
	if _, err := c.ReservedOrderIDs(t.Context(), after, before, 50); err == nil {
		t.Error("ReservedOrderIDs accepted a 400")
	}
}
