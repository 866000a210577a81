package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisClient returns a client for url whose every wait is bounded by
// timeout and which never retries: the cache is an optimisation, and a read
// that cannot reach Redis quickly is better served by PostgreSQL at once.
// A password, when given, replaces the URL's.
func NewRedisClient(url, password string, timeout time.Duration) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if password != "" {
		opts.Password = password
	}
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	return redis.NewClient(opts), nil
}

// errBypassed is what commands return, without reaching Redis, while the
// breaker is open.
var errBypassed = errors.New("cache: redis bypassed after a recent failure")

// breaker keeps a down Redis from slowing every request: after a failure,
// Redis is left alone for retryAfter and reads go to PostgreSQL. Failures are
// counted, and logged at most once per logEvery rather than per request.
type breaker struct {
	retryAfter time.Duration
	logEvery   time.Duration
	logger     *slog.Logger
	metrics    Metrics

	openUntil  atomic.Int64 // unix nanoseconds
	lastLog    atomic.Int64 // unix nanoseconds
	suppressed atomic.Int64
}

// closed reports whether Redis may be used now.
func (b *breaker) closed() bool {
	return time.Now().UnixNano() >= b.openUntil.Load()
}

// observe returns err, recording it as a Redis failure unless it is a miss,
// the breaker's own refusal, or the caller's context ending.
func (b *breaker) observe(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, errBypassed) || ctx.Err() != nil {
		return err
	}
	now := time.Now()
	b.metrics.CacheError()
	// Waiting too long for a free connection says this replica is busy,
	// not that Redis is down: that request alone goes to PostgreSQL.
	if !errors.Is(err, redis.ErrPoolTimeout) {
		b.openUntil.Store(now.Add(b.retryAfter).UnixNano())
	}
	last := b.lastLog.Load()
	if now.UnixNano()-last < int64(b.logEvery) || !b.lastLog.CompareAndSwap(last, now.UnixNano()) {
		b.suppressed.Add(1)
		return err
	}
	b.logger.WarnContext(ctx, "redis cache unavailable; reading from PostgreSQL",
		"err", err, "retry_after", b.retryAfter.String(), "suppressed_since_last_log", b.suppressed.Swap(0))
	return err
}

// guardedRedis is the Redis that go-redis/cache talks to: every command
// goes through the breaker, so a failure inside cache.Once is counted and
// the rest of that call skips Redis.
type guardedRedis struct {
	rdb *redis.Client
	b   *breaker
}

func (g guardedRedis) Get(ctx context.Context, key string) *redis.StringCmd {
	if !g.b.closed() {
		return redis.NewStringResult("", errBypassed)
	}
	cmd := g.rdb.Get(ctx, key)
	_ = g.b.observe(ctx, cmd.Err())
	return cmd
}

func (g guardedRedis) Set(ctx context.Context, key string, value any, ttl time.Duration) *redis.StatusCmd {
	if !g.b.closed() {
		return redis.NewStatusResult("", errBypassed)
	}
	cmd := g.rdb.Set(ctx, key, value, ttl)
	_ = g.b.observe(ctx, cmd.Err())
	return cmd
}

func (g guardedRedis) SetXX(ctx context.Context, key string, value any, ttl time.Duration) *redis.BoolCmd {
	if !g.b.closed() {
		return redis.NewBoolResult(false, errBypassed)
	}
	cmd := g.rdb.SetXX(ctx, key, value, ttl)
	_ = g.b.observe(ctx, cmd.Err())
	return cmd
}

func (g guardedRedis) SetNX(ctx context.Context, key string, value any, ttl time.Duration) *redis.BoolCmd {
	if !g.b.closed() {
		return redis.NewBoolResult(false, errBypassed)
	}
	cmd := g.rdb.SetNX(ctx, key, value, ttl)
	_ = g.b.observe(ctx, cmd.Err())
	return cmd
}

func (g guardedRedis) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	if !g.b.closed() {
		return redis.NewIntResult(0, errBypassed)
	}
	cmd := g.rdb.Del(ctx, keys...)
	_ = g.b.observe(ctx, cmd.Err())
	return cmd
}

// RedisLogger routes go-redis's internal log to Logger at debug level, for
// redis.SetLogger: go-redis logs every failed dial, while the cache already
// reports an outage once per interval.
type RedisLogger struct {
	Logger *slog.Logger
}

// Printf implements go-redis's logging interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Logger.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
