// Package web is the HTTP edge of every service: an echo server for the API,
// a second one on an internal port for metrics, profiling and
// service-to-service calls, the middleware they share, problem+json errors
// and graceful shutdown.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server.
type Config struct {
	Service string // name used in metrics and logs
	Addr    string // API listen address, e.g. ":8080"
	// InternalAddr is the internal listen address, e.g. ":8081". With a
	// host name (catalog-internal:8081) the server listens only on the
	// address of this machine that the name resolves to: in Compose, an
	// alias on the one network meant to reach the internal API, so that
	// the port is closed on every other network of the container.
	InternalAddr string
	// InternalToken, when set, is the bearer token that every internal
	// route but /healthz and /readyz requires.
	InternalToken string
	// DrainDelay is how long the server keeps answering after shutdown
	// starts, with /readyz failing, so the edge stops sending new requests
	// before connections close.
	DrainDelay time.Duration
	// NoListen leaves both servers without sockets: on AWS Lambda the
	// handlers answer invocations (package lambda), and Open only logs.
	NoListen bool
}

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Server runs the API and internal HTTP servers of one service.
type Server struct {
	// API serves the public routes that nginx proxies.
	API *echo.Echo
	// Internal serves /metrics, /debug/pprof and routes that only other
	// services may call; nginx never proxies to it.
	Internal *echo.Echo
	// Registry holds the service's metrics; add collectors to it.
	Registry *prometheus.Registry

	cfg      Config
	logger   *slog.Logger
	checks   map[string]Check
	draining atomic.Bool
	servers  []*http.Server
	addrs    []net.Addr
	// bodyLimits holds the routes allowed larger bodies (AllowBody), by
	// method and route template.
	bodyLimits map[string]echo.MiddlewareFunc
}

// NewServer returns a Server whose /readyz runs checks.
func NewServer(cfg Config, logger *slog.Logger, checks map[string]Check) *Server {
	s := &Server{
		API:      newEcho(),
		Internal: newEcho(),
		Registry: prometheus.NewRegistry(),
		cfg:      cfg,
		logger:   logger,
		checks:   checks,

		bodyLimits: map[string]echo.MiddlewareFunc{},
	}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newHTTPMetrics(s.Registry)
	for _, e := range []*echo.Echo{s.API, s.Internal} {
		e.HTTPErrorHandler = s.handleError
		e.Use(s.closeWhenDraining, requestID, s.recoverPanic, s.observe(m), s.limitBody)
		e.GET("/healthz", s.healthz)
		e.GET("/readyz", s.readyz)
	}
	s.Internal.Use(s.requireInternalToken)
	s.Internal.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry})))
	s.Internal.GET("/debug/pprof/*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	s.Internal.GET("/debug/pprof/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	s.Internal.GET("/debug/pprof/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	return s
}

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// Requests arrive through nginx, which appends the client's address to
	// X-Forwarded-For; trust that header only from private networks.
	e.IPExtractor = echo.ExtractIPFromXFFHeader()
	return e
}

// Open starts listening on both addresses and serves in the background.
// Addresses with port 0 pick a free port; see Addr and InternalAddr.
func (s *Server) Open() error {
	if s.cfg.NoListen {
		s.logger.Info("serving invocations; not listening")
		return nil
	}
	internal, err := localAddr(s.cfg.InternalAddr, 10*time.Second)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		addr string
		h    http.Handler
	}{{s.cfg.Addr, s.API}, {internal, s.Internal}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("web: listen %s: %w", l.addr, err)
		}
		srv := &http.Server{
			Handler:           l.h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		}
		s.servers = append(s.servers, srv)
		s.addrs = append(s.addrs, ln.Addr())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	s.logger.Info("listening", "api", s.addrs[0].String(), "internal", s.addrs[1].String())
	return nil
}

func (s *Server) closeListeners() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

// Addr returns the API server's address once Open has returned.
func (s *Server) Addr() string { return s.addrs[0].String() }

// InternalAddr returns the internal server's address once Open has returned.
func (s *Server) InternalAddr() string { return s.addrs[1].String() }

// Shutdown fails readiness, waits DrainDelay, then stops accepting
// connections and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	select {
	case <-time.After(s.cfg.DrainDelay):
	case <-ctx.Done():
	}
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// closeWhenDraining answers with Connection: close once shutdown has
// started, so the connection is closed after its answer and the client
// (nginx, another service) stops reusing it. Otherwise the server would
// close it idle at the end of the drain, and a request sent on it at that
// moment would fail with nothing answered: a POST is not retried.
func (s *Server) closeWhenDraining(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.draining.Load() {
			c.Response().Header().Set(echo.HeaderConnection, "close")
		}
		return next(c)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every check passes, else 503 naming the failures.
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: "shutting down"}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.checks))
	for name, check := range s.checks {
		go func() { results <- result{name, check(ctx)} }()
	}
	status := map[string]string{}
	var failed []error
	for range s.checks {
		r := <-results
		status[r.name] = "ok"
		if r.err != nil {
			status[r.name] = r.err.Error()
			failed = append(failed, fmt.Errorf("%s: %w", r.name, r.err))
		}
	}
	if len(failed) > 0 {
		return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: errors.Join(failed...).Error()}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": status})
}
