package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/platform/log"
)

// HeaderRequestID carries the id that joins a request's log lines across
// nginx and every service it touches.
const HeaderRequestID = "X-Request-Id"

// MaxBodyBytes is the largest request body any service reads (docs/api.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// validRequestID reports whether id is 1 to 128 of A-Z a-z 0-9 . _ : -.
// (A loop: the regular expression it replaced was 2% of a service's CPU.)
func validRequestID(id string) bool {
	if len(id) < 1 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// requestID adopts the caller's request id when it is well formed, or makes
// one, and puts it on the response and into the request's context.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(HeaderRequestID, id)
		c.SetRequest(c.Request().WithContext(log.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

// panicError is a handler's panic, with the stack it happened on.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// recoverPanic turns a panicking handler into a 500; handleError logs it
// with its stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = &panicError{value: r, stack: debug.Stack()}
			}
		}()
		return next(c)
	}
}

var bodyLimit = middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: strconv.Itoa(MaxBodyBytes) + "B"})

// AllowBody lets the route method path (its template, e.g.
// /api/things/:id/file) read bodies of up to limit bytes instead of
// MaxBodyBytes. Call it before Open.
func (s *Server) AllowBody(method, path string, limit int64) {
	s.bodyLimits[method+" "+path] = middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: strconv.FormatInt(limit, 10) + "B"})
}

// limitBody refuses bodies over the route's limit with 413: MaxBodyBytes
// unless AllowBody gave the route another.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	limited := bodyLimit(next)
	return func(c echo.Context) error {
		if l, ok := s.bodyLimits[c.Request().Method+" "+c.Path()]; ok {
			return l(next)(c)
		}
		return limited(c)
	}
}

// methodLabel is the method label of a request's metrics: the method itself
// when it is a standard one, else "other". Clients choose the method freely,
// and every distinct label value is a new series in this process and in
// Prometheus, so an unbounded set would let anyone grow both without limit.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight)
	return m
}

// observe counts, times and logs every request. It renders a handler's error
// itself so that the status it records is the one the client gets.
func (s *Server) observe(m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			m.inFlight.Inc()
			defer m.inFlight.Dec()
			if err := next(c); err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" || c.Response().Status == http.StatusNotFound && route == "/*" {
				route = "unmatched"
			}
			// route is a registered route template or "unmatched", never
			// the request's path, so it is bounded by the routes the
			// service registers; the method must be bounded too.
			method := methodLabel(c.Request().Method)
			status := c.Response().Status
			elapsed := time.Since(start)
			m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				return nil // probes would drown the log
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			s.logger.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", c.Response().Size),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("remote_ip", c.RealIP()),
			)
			return nil
		}
	}
}
