// Command orders places, lists and cancels orders, reserving stock at the
// catalog.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/orders"
	"bazaar/orders/catalogclient"
	ordershttp "bazaar/orders/http"
	"bazaar/orders/metrics"
	"bazaar/orders/postgres"
	"bazaar/platform/app"
	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/lambda"
	"bazaar/platform/pg"
	"bazaar/platform/web"
)

func main() {
	app.Main("orders", func(logger *slog.Logger) (app.Service, error) {
		cfg, err := LoadConfig(&config.Env{})
		if err != nil {
			return nil, err
		}
		return &Main{Config: cfg, Logger: logger}, nil
	})
}

// Config is the orders service's configuration.
type Config struct {
	app.Base
	// JWKSURL is where the users service publishes its token keys.
	JWKSURL string
	// CatalogURL is the catalog's internal address.
	CatalogURL string
	// CatalogTimeout bounds one call to the catalog.
	CatalogTimeout time.Duration
	// CatalogRetries is how many times a failed catalog call is repeated.
	CatalogRetries int
	// ReconcileInterval is the time between two reconciler rounds.
	ReconcileInterval time.Duration
	// IdempotencyTTL is how long idempotency keys are kept.
	IdempotencyTTL time.Duration
	// Limits bound what one user's open orders may hold.
	Limits orders.Limits
}

// defaultCatalogTimeout bounds one attempt to call the catalog. It waits out
// a catalog whose queue a burst has filled (100 requests right after a
// restart on 2 cores: several seconds), where shorter attempts would give
// up and queue again; connecting has its own second (catalogclient), so a
// catalog that is gone costs no more than that.
const defaultCatalogTimeout = 5 * time.Second

// LoadConfig reads the configuration from the environment.
func LoadConfig(e *config.Env) (Config, error) {
	cfg := Config{
		Base:              app.LoadBase(e, "orders"),
		JWKSURL:           e.String("USERS_JWKS_URL", "http://users:8080/api/users/.well-known/jwks.json"),
		CatalogURL:        e.String("CATALOG_INTERNAL_URL", "http://catalog:8081"),
		CatalogTimeout:    e.Duration("CATALOG_TIMEOUT", defaultCatalogTimeout),
		CatalogRetries:    e.Int("CATALOG_RETRIES", 2),
		ReconcileInterval: e.Duration("RECONCILE_INTERVAL", 5*time.Second),
		IdempotencyTTL:    e.Duration("IDEMPOTENCY_TTL", orders.DefaultKeyTTL),
		Limits: orders.Limits{
			OpenOrders:    e.Int("ORDERS_MAX_OPEN_PER_USER", orders.DefaultMaxOpenOrders),
			ReservedUnits: e.Int("ORDERS_MAX_RESERVED_UNITS_PER_USER", orders.DefaultMaxReservedUnits),
		},
	}
	e.Check(httpURL(cfg.JWKSURL) || cfg.Lambda && lambda.IsInvokeURL(cfg.JWKSURL), "USERS_JWKS_URL must be an http(s) URL (or lambda:// on AWS Lambda)")
	e.Check(httpURL(cfg.CatalogURL) || cfg.Lambda && lambda.IsInvokeURL(cfg.CatalogURL), "CATALOG_INTERNAL_URL must be an http(s) URL (or lambda:// on AWS Lambda)")
	e.Check(cfg.CatalogTimeout >= 10*time.Millisecond && cfg.CatalogTimeout <= time.Minute, "CATALOG_TIMEOUT must be from 10ms to 1m")
	e.Check(cfg.CatalogRetries >= 0 && cfg.CatalogRetries <= 10, "CATALOG_RETRIES must be from 0 to 10")
	e.Check(cfg.ReconcileInterval >= 10*time.Millisecond && cfg.ReconcileInterval <= 10*time.Minute, "RECONCILE_INTERVAL must be from 10ms to 10m")
	e.Check(cfg.IdempotencyTTL >= time.Second && cfg.IdempotencyTTL <= 7*24*time.Hour, "IDEMPOTENCY_TTL must be from 1s to 168h")
	e.Check(cfg.Limits.OpenOrders >= 0 && cfg.Limits.OpenOrders <= 1_000_000, "ORDERS_MAX_OPEN_PER_USER must be from 0 (no limit) to 1000000")
	e.Check(cfg.Limits.ReservedUnits >= 0 && cfg.Limits.ReservedUnits <= 1_000_000_000, "ORDERS_MAX_RESERVED_UNITS_PER_USER must be from 0 (no limit) to 1000000000")
	return cfg, e.Err()
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// reconcileBatch is the most cancellations one reconciler round finishes
// and the most reservations it checks per catalog call; rounds are
// frequent, so a backlog drains over a few of them.
const reconcileBatch = 50

// Main is the running orders service.
type Main struct {
	Config Config
	Logger *slog.Logger

	pool      *pgxpool.Pool
	server    *web.Server
	stop      context.CancelFunc
	reconcile sync.WaitGroup
	// reconciler runs a round per scheduled invocation on Lambda.
	reconciler *orders.Reconciler
	// clock is the reconciler's clock; nil means time.Now.
	clock func() time.Time
}

// Run connects to PostgreSQL, migrates, starts the reconciler and serves.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("starting", "env", m.Config.Env, "database", config.Redact(m.Config.DB.URL),
		"catalog", m.Config.CatalogURL, "jwks", m.Config.JWKSURL,
		"catalog_timeout", m.Config.CatalogTimeout.String(), "catalog_retries", m.Config.CatalogRetries,
		"reconcile_interval", m.Config.ReconcileInterval.String(), "idempotency_ttl", m.Config.IdempotencyTTL.String(),
		"max_open_orders_per_user", m.Config.Limits.OpenOrders, "max_reserved_units_per_user", m.Config.Limits.ReservedUnits)
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var err error
	if m.pool, err = pg.Open(startCtx, m.Config.DB, m.Logger, postgres.Migrations); err != nil {
		return err
	}

	m.server = web.NewServer(m.Config.Web, m.Logger, map[string]web.Check{"postgres": m.pool.Ping})
	reg := m.server.Registry
	store := postgres.NewStore(m.pool)
	var transport http.RoundTripper
	if lambda.IsInvokeURL(m.Config.CatalogURL) {
		transport = lambda.NewInvoker() // the catalog function, invoked directly
	}
	counters := metrics.New(reg, m.pool)
	catalog := catalogclient.New(catalogclient.Config{
		BaseURL:   m.Config.CatalogURL,
		Token:     m.Config.Web.InternalToken,
		Timeout:   m.Config.CatalogTimeout,
		Retries:   m.Config.CatalogRetries,
		Backoff:   100 * time.Millisecond,
		Transport: transport,
	}, counters)
	// A placement, with its catalog call's retries, ends within lease; so
	// does a claimed cancellation's catalog call.
	lease := 2*catalog.MaxDuration() + time.Second
	svc := orders.NewService(orders.ServiceConfig{Store: store, Catalog: catalog, Metrics: counters, Logger: m.Logger, CancelLease: lease, Limits: m.Config.Limits})
	h := &ordershttp.Handler{
		Orders:   svc,
		Keys:     store,
		Verifier: &auth.Verifier{Keys: auth.NewJWKSClient(m.Config.JWKSURL)},
		Logger:   m.Logger,
		KeyTTL:   m.Config.IdempotencyTTL,
		KeyLease: lease,
	}
	h.Register(m.server.API)
	if err := m.server.Open(); err != nil {
		return err
	}

	r := orders.NewReconciler(orders.ReconcilerConfig{
		Store: store, Catalog: catalog, Metrics: counters, Logger: m.Logger,
		Interval: m.Config.ReconcileInterval, Batch: reconcileBatch, Lease: lease,
		// Twice the catalog's limit leaves as much again for the clocks'
		// skew and a reserve's commit, and the placement gets its lease.
		SweepAfter: 2*orders.MaxReservationAge + lease,
		Now:        m.clock,
	})
	if m.Config.Lambda {
		m.reconciler = r // a schedule invokes each round
		return nil
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop = stop
	m.reconcile.Go(func() { r.Run(rctx) })
	return nil
}

// Lambda returns what the orders function answers (lambda.Service): the
// API, and the reconciler's round, which the containers run every
// RECONCILE_INTERVAL.
func (m *Main) Lambda() lambda.Handlers {
	return lambda.Handlers{API: m.server.API, Jobs: map[string]lambda.Job{"reconcile": func(ctx context.Context) error {
		n, err := m.reconciler.RunOnce(ctx)
		if n > 0 {
			m.Logger.InfoContext(ctx, "reconciled", "settled", n)
		}
		return err
	}}}
}

// Close drains HTTP traffic, stops the reconciler, then closes the pool.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.stop != nil {
		m.stop()
		m.reconcile.Wait()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}
