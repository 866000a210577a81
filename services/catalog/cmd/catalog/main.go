// Command catalog serves products, categories and stock.
package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"bazaar/catalog/cache"
	cataloghttp "bazaar/catalog/http"
	"bazaar/catalog/postgres"
	"bazaar/platform/app"
	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/lambda"
	"bazaar/platform/pg"
	"bazaar/platform/web"
)

func main() {
	app.Main("catalog", func(logger *slog.Logger) (app.Service, error) {
		cfg, err := LoadConfig(&config.Env{})
		if err != nil {
			return nil, err
		}
		return &Main{Config: cfg, Logger: logger}, nil
	})
}

// Config is the catalog's configuration.
type Config struct {
	app.Base
	RedisURL      string        // the cache's Redis, with the ACL user: redis://catalog@redis:6379/0
	RedisPassword string        // the ACL user's password, from REDIS_PASSWORD(_FILE)
	RedisTimeout  time.Duration // bound on every Redis wait before reads fall back to PostgreSQL
	JWKSURL       string        // the users service's public keys, to verify admin tokens
	CacheTTL      time.Duration // lifetime of cached entries
}

// LoadConfig reads the configuration from the environment.
func LoadConfig(e *config.Env) (Config, error) {
	cfg := Config{
		Base:          app.LoadBase(e, "catalog"),
		RedisURL:      e.String("REDIS_URL", "redis://redis:6379/0"),
		RedisPassword: e.Secret("REDIS_PASSWORD"),
		RedisTimeout:  e.Duration("REDIS_TIMEOUT", 200*time.Millisecond),
		JWKSURL:       e.String("USERS_JWKS_URL", "http://users:8080/api/users/.well-known/jwks.json"),
		CacheTTL:      e.Duration("CACHE_TTL", 5*time.Minute),
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	e.Check(err == nil, "REDIS_URL must be a redis:// or rediss:// URL")
	e.Check(err != nil || opts.Password == "" || !cfg.Production(), "REDIS_URL holds a password; in production it comes from the file REDIS_PASSWORD_FILE names")
	e.Check(!cfg.Production() || !app.IsDevSecret(cfg.RedisPassword), "REDIS_PASSWORD is a development default; set a real one in production")
	e.Check(cfg.RedisTimeout >= 10*time.Millisecond && cfg.RedisTimeout <= 5*time.Second, "REDIS_TIMEOUT must be from 10ms to 5s")
	e.Check(cfg.CacheTTL >= time.Second && cfg.CacheTTL <= 24*time.Hour, "CACHE_TTL must be from 1s to 24h")
	return cfg, e.Err()
}

// Main is the running catalog service.
type Main struct {
	Config Config
	Logger *slog.Logger

	pool   *pgxpool.Pool
	redis  *redis.Client
	server *web.Server
}

// Run connects to PostgreSQL and Redis, migrates, and starts serving.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("starting", "env", m.Config.Env,
		"database", config.Redact(m.Config.DB.URL), "redis", config.Redact(m.Config.RedisURL),
		"redis_timeout", m.Config.RedisTimeout.String(), "cache_ttl", m.Config.CacheTTL.String(), "jwks", m.Config.JWKSURL)
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var err error
	if m.pool, err = pg.Open(startCtx, m.Config.DB, m.Logger, postgres.Migrations); err != nil {
		return err
	}
	// go-redis logs each failed dial; the cache reports outages itself.
	redis.SetLogger(cache.RedisLogger{Logger: m.Logger})
	if m.redis, err = cache.NewRedisClient(m.Config.RedisURL, m.Config.RedisPassword, m.Config.RedisTimeout); err != nil {
		return err
	}

	// Readiness reports Redis, but reads never fail because of it: the
	// cache falls back to PostgreSQL.
	m.server = web.NewServer(m.Config.Web, m.Logger, map[string]web.Check{
		"postgres": m.pool.Ping,
		"redis":    func(ctx context.Context) error { return m.redis.Ping(ctx).Err() },
	})
	m.server.Registry.MustRegister(pg.NewPoolCollector(m.pool))
	c := cache.New(m.redis, cache.Config{TTL: m.Config.CacheTTL, Logger: m.Logger, Registerer: m.server.Registry})
	h := &cataloghttp.Handler{
		Products: cache.NewProductService(postgres.NewProductService(m.pool), c),
		Verifier: &auth.Verifier{Keys: auth.NewJWKSClient(m.Config.JWKSURL)},
	}
	h.Register(m.server.API)
	cataloghttp.NewInternal(cache.NewReservationService(postgres.NewReservationService(m.pool), c), m.server.Registry).Register(m.server.Internal)
	return m.server.Open()
}

// Lambda returns what the catalog's function answers (lambda.Service): the
// public API, and the reservation API for the orders function.
func (m *Main) Lambda() lambda.Handlers {
	return lambda.Handlers{API: m.server.API, Internal: m.server.Internal}
}

// Close drains HTTP traffic, then closes Redis and the pool.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}
