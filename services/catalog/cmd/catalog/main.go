// Command catalog serves products, categories and stock.
package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"bazaar/catalog"
	"bazaar/catalog/cache"
	cataloghttp "bazaar/catalog/http"
	"bazaar/catalog/imaging"
	"bazaar/catalog/media"
	"bazaar/catalog/metrics"
	"bazaar/catalog/postgres"
	"bazaar/platform/app"
	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/lambda"
	"bazaar/platform/pg"
	"bazaar/platform/web"
)

func main() {
	// "catalog media-export" and "catalog media-import": the backup and
	// restore of the product images (mediaArchive).
	if len(os.Args) == 2 && (os.Args[1] == "media-export" || os.Args[1] == "media-import") {
		os.Exit(mediaArchive(os.Args[1], os.Stdin, os.Stdout, os.Stderr))
	}
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
	Media         MediaConfig
	// ReadURL names a streaming standby for the reads that may trail
	// (listings, search, categories); empty: every read on DATABASE_URL.
	ReadURL string
	// ReadMaxLag: a standby trailing by more than this is left alone.
	ReadMaxLag time.Duration
}

// MediaConfig says where product images go and how much work one may cost.
type MediaConfig struct {
	Store          string // "local" (Dir, served by the edge) or "s3" (S3)
	Dir            string // the folder the images are written to, which the edge serves
	BaseURL        string // where clients fetch the images: the edge's /media/, or the bucket's URL
	S3             media.S3Config
	MaxPixels      int   // the most pixels an upload may declare
	MaxDecodeBytes int64 // the most memory one decoded upload may take
	Workers        int   // images processed at once
	// Retention is how long a file no product names is kept after it was
	// last written (catalog.MediaCollectorConfig).
	Retention time.Duration
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
		ReadURL:       e.String("DATABASE_READ_URL", ""),
		ReadMaxLag:    e.Duration("DATABASE_READ_MAX_LAG", 5*time.Second),
		Media: MediaConfig{
			Store:          e.String("MEDIA_STORE", "local"),
			Dir:            e.String("MEDIA_DIR", "/media"),
			BaseURL:        e.String("MEDIA_BASE_URL", "/media/"),
			MaxPixels:      e.Int("IMAGE_MAX_PIXELS", 40_000_000),
			MaxDecodeBytes: int64(e.Int("IMAGE_MAX_DECODE_MB", 96)) << 20,
			Workers:        e.Int("IMAGE_WORKERS", 1),
			Retention:      e.Duration("MEDIA_RETENTION", catalog.DefaultMediaRetention),
		},
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	e.Check(err == nil, "REDIS_URL must be a redis:// or rediss:// URL")
	e.Check(err != nil || opts.Password == "" || !cfg.Production(), "REDIS_URL holds a password; in production it comes from the file REDIS_PASSWORD_FILE names")
	e.Check(!cfg.Production() || !app.IsDevSecret(cfg.RedisPassword), "REDIS_PASSWORD is a development default; set a real one in production")
	e.Check(cfg.RedisTimeout >= 10*time.Millisecond && cfg.RedisTimeout <= 5*time.Second, "REDIS_TIMEOUT must be from 10ms to 5s")
	e.Check(cfg.CacheTTL >= time.Second && cfg.CacheTTL <= 24*time.Hour, "CACHE_TTL must be from 1s to 24h")
	e.Check(cfg.ReadMaxLag >= 100*time.Millisecond && cfg.ReadMaxLag <= time.Hour, "DATABASE_READ_MAX_LAG must be from 100ms to 1h")
	if cfg.ReadURL != "" {
		_, err := pgxpool.ParseConfig(cfg.ReadURL)
		e.Check(err == nil, "DATABASE_READ_URL is not a valid PostgreSQL connection string")
	}
	e.Check(cfg.Media.Store == "local" || cfg.Media.Store == "s3", "MEDIA_STORE must be local or s3")
	if cfg.Media.Store == "s3" {
		cfg.Media.S3 = media.S3Config{
			Endpoint:  e.String("MEDIA_S3_ENDPOINT", ""),
			Region:    e.String("MEDIA_S3_REGION", "us-east-1"),
			Bucket:    e.String("MEDIA_S3_BUCKET", ""),
			Prefix:    e.String("MEDIA_S3_PREFIX", ""),
			AccessKey: e.String("MEDIA_S3_ACCESS_KEY", ""),
			SecretKey: e.Secret("MEDIA_S3_SECRET_KEY"),
			ACL:       e.String("MEDIA_S3_ACL", ""),
			BaseURL:   cfg.Media.BaseURL,
		}
		_, err := media.NewS3(cfg.Media.S3)
		e.Check(err == nil, "MEDIA_STORE=s3 needs MEDIA_S3_ENDPOINT (an http(s) URL), MEDIA_S3_BUCKET and MEDIA_BASE_URL (the bucket's public URL, ending with /)")
		e.Check((cfg.Media.S3.AccessKey == "") == (cfg.Media.S3.SecretKey == ""), "MEDIA_STORE=s3 needs both MEDIA_S3_ACCESS_KEY and the secret MEDIA_S3_SECRET_KEY(_FILE), or neither (the AWS environment's credentials: a Lambda function's or an instance's role)")
	}
	e.Check(strings.HasPrefix(cfg.Media.Dir, "/"), "MEDIA_DIR must be an absolute path")
	e.Check(strings.HasSuffix(cfg.Media.BaseURL, "/"), "MEDIA_BASE_URL must end with /")
	e.Check(cfg.Media.MaxPixels >= 1_000_000 && cfg.Media.MaxPixels <= 200_000_000, "IMAGE_MAX_PIXELS must be from 1000000 to 200000000")
	e.Check(cfg.Media.MaxDecodeBytes >= 8<<20 && cfg.Media.MaxDecodeBytes <= 1<<30, "IMAGE_MAX_DECODE_MB must be from 8 to 1024")
	e.Check(cfg.Media.Workers >= 1 && cfg.Media.Workers <= 16, "IMAGE_WORKERS must be from 1 to 16")
	// Well above CACHE_TTL's longest (24h), the lifetime of cached answers
	// that may still name a file no product names any more.
	e.Check(cfg.Media.Retention >= 48*time.Hour, "MEDIA_RETENTION must be at least 48h")
	return cfg, e.Err()
}

// Main is the running catalog service.
type Main struct {
	Config Config
	Logger *slog.Logger

	pool   *pgxpool.Pool
	redis  *redis.Client
	server *web.Server

	standbyPool *pgxpool.Pool
	stopStandby context.CancelFunc

	// collector deletes unused image files every mediaCollectInterval, or
	// a round per scheduled invocation on Lambda.
	collector   *catalog.MediaCollector
	stopCollect context.CancelFunc
	collecting  sync.WaitGroup
}

// mediaCollectInterval is how often image files no product names are
// looked for; they are deleted once MEDIA_RETENTION has passed.
const mediaCollectInterval = time.Hour

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
	mx := metrics.New(m.server.Registry, m.pool)
	c := cache.New(m.redis, cache.Config{TTL: m.Config.CacheTTL, Logger: m.Logger, Metrics: mx})
	var reads postgres.Querier = m.pool
	if m.Config.ReadURL != "" {
		if reads, err = m.openStandby(ctx, mx); err != nil {
			return err
		}
	}
	store, err := m.mediaStore(ctx)
	if err != nil {
		return err
	}
	svc := catalog.NewService(catalog.ServiceConfig{
		Products:     cache.NewProductStore(postgres.NewProductStoreReadingFrom(m.pool, reads), c),
		Reservations: cache.NewReservationStore(postgres.NewReservationStore(m.pool), c),
		Images: imaging.New(imaging.Config{
			MaxPixels: m.Config.Media.MaxPixels, MaxDecodeBytes: m.Config.Media.MaxDecodeBytes, Workers: m.Config.Media.Workers,
		}),
		Media:  store,
		Logger: m.Logger,
	})
	cataloghttp.NewHandler(svc, &auth.Verifier{Keys: auth.NewJWKSClient(m.Config.JWKSURL)}, mx).Register(m.server.API)
	m.server.AllowBody(http.MethodPut, cataloghttp.ImageRoute, catalog.MaxImageBytes)
	cataloghttp.NewInternal(svc, mx).Register(m.server.Internal)
	if err := m.server.Open(); err != nil {
		return err
	}

	m.collector = catalog.NewMediaCollector(catalog.MediaCollectorConfig{
		Files: store, References: postgres.NewProductStore(m.pool), Logger: m.Logger,
		Interval: mediaCollectInterval, Retention: m.Config.Media.Retention,
	})
	if m.Config.Lambda {
		return nil // a schedule invokes each round
	}
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopCollect = stop
	m.collecting.Go(func() { m.collector.Run(cctx) })
	return nil
}

// openStandby opens the pool of the standby (DATABASE_READ_URL) without
// waiting for it, which may be missing for good, and starts checking it.
func (m *Main) openStandby(ctx context.Context, mx *metrics.Metrics) (*postgres.Standby, error) {
	cfg := m.Config.DB
	cfg.URL = m.Config.ReadURL
	// The standby serves only the reads that miss the cache.
	cfg.MinConns = 1
	cfg.MaxConns = max(1, cfg.MaxConns/2)
	var err error
	if m.standbyPool, err = pg.NewPool(ctx, cfg); err != nil {
		return nil, err
	}
	// A read waits on the standby for at most the time a connection
	// attempt has to reach a server (DB_DIAL_TIMEOUT), twice over: longer
	// than a healthy standby ever takes to start answering, and short
	// enough that the primary still answers well within a request's time.
	timeout := 2 * cmp.Or(cfg.DialTimeout, pg.DefaultDialTimeout)
	s := postgres.NewStandby(m.pool, m.standbyPool, postgres.StandbyConfig{
		MaxLag: m.Config.ReadMaxLag, Timeout: timeout, CheckEvery: time.Second,
	}, m.Logger, mx)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopStandby = cancel
	go s.Run(runCtx)
	m.Logger.Info("reads that may trail go to a standby when it is caught up",
		"standby", config.Redact(m.Config.ReadURL), "max_lag", m.Config.ReadMaxLag.String())
	return s, nil
}

// mediaStore returns where product images go. A store that cannot be used
// now is logged, not fatal: it fails only the uploads.
func (m *Main) mediaStore(ctx context.Context) (media.Store, error) {
	c := m.Config.Media
	if c.Store == "s3" {
		s, err := media.NewS3(c.S3)
		if err != nil {
			return nil, err
		}
		if err := s.Check(ctx); err != nil {
			m.Logger.Warn("image uploads will fail: the bucket cannot be reached", "endpoint", c.S3.Endpoint, "bucket", c.S3.Bucket, "err", err)
		}
		return s, nil
	}
	s := &media.Local{Dir: c.Dir, BaseURL: c.BaseURL}
	if err := s.Check(ctx); err != nil {
		m.Logger.Warn("image uploads will fail: the media folder cannot be written", "dir", c.Dir, "err", err)
	}
	return s, nil
}

// Lambda returns what the catalog's function answers (lambda.Service): the
// public API, the reservation API for the orders function, and the
// collection of unused image files that the containers run every
// mediaCollectInterval.
func (m *Main) Lambda() lambda.Handlers {
	return lambda.Handlers{API: m.server.API, Internal: m.server.Internal,
		Jobs: map[string]lambda.Job{"media-collect": m.collector.RunOnce}}
}

// Close drains HTTP traffic, stops the collector, then closes Redis and the
// pool.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.stopCollect != nil {
		m.stopCollect()
		m.collecting.Wait()
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	if m.stopStandby != nil {
		m.stopStandby()
	}
	if m.standbyPool != nil {
		m.standbyPool.Close()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}
