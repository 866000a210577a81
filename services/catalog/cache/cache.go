// Package cache keeps the catalog's reads in Redis, cache-aside, through
// go-redis/cache: products by id, listing pages and categories. Its
// ProductStore and ReservationStore decorate the PostgreSQL stores.
//
// Only Redis is used, never an in-process layer, because every replica must
// see an invalidation at once. A write never updates an entry in place: it
// replaces a version, and entries are looked up under the current versions.
// A version is a random token, never an incrementing count, so that a
// version evicted from Redis (the cache may run allkeys-lru) and then made
// anew can never come back to an old value and make an old entry current:
//
//   - a product is stored under its version, catalog:{format}:p:{id}:{version},
//     where catalog:{format}:pv:{id} holds the version;
//   - listing pages and categories are stored under the generation in
//     catalog:{format}:gen, which every product write replaces. A listing page
//     holds ids only, and its products are read through their own entries,
//     so a stock change (each order makes one) replaces the product's
//     version alone and leaves the listings cached.
//
// A reader reads the version before it reads PostgreSQL and stores what it
// read under that version. A writer commits, then replaces the version,
// before it answers. So a reader that fetched data from before a write can
// only store it under the old version, which no later reader looks up: the
// race where a slow reader refills the cache with old data after the
// invalidation cannot serve old data. Old entries expire after the TTL.
//
// When Redis fails, reads go to PostgreSQL for a short while (see breaker).
// An invalidation that could not be made is kept, and made before this
// replica reads from Redis again; until then, another replica that still
// reaches Redis may serve the entry it was meant to hide, for at most the
// TTL. The Redis must not restart from an old snapshot (it should run
// without persistence): that would bring back old versions with their old
// entries.
package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	rediscache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// Config configures a Cache.
type Config struct {
	// TTL bounds how long an entry lives; at least a second (go-redis/cache
	// replaces shorter ones with an hour).
	TTL time.Duration
	// RetryAfter is how long reads leave Redis alone after it failed
	// (default one second).
	RetryAfter time.Duration
	// Logger receives outage reports (default slog.Default()).
	Logger *slog.Logger
	// Metrics counts what the cache does (default: nothing counted).
	Metrics Metrics
}

// Metrics counts what the cache does, by kind of entry (Kinds);
// bazaar/catalog/metrics implements it.
type Metrics interface {
	// CacheHits counts n reads answered from Redis.
	CacheHits(kind string, n int)
	// CacheMisses counts n reads that loaded from PostgreSQL.
	CacheMisses(kind string, n int)
	// CacheBypassed counts n reads served from PostgreSQL without Redis,
	// because Redis was failing.
	CacheBypassed(kind string, n int)
	// CacheError counts a failed Redis command.
	CacheError()
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) CacheHits(string, int)     {}
func (noMetrics) CacheMisses(string, int)   {}
func (noMetrics) CacheBypassed(string, int) {}
func (noMetrics) CacheError()               {}

// logEvery is the shortest time between two log reports of Redis failures:
// an outage is logged when it starts, then at most once per logEvery.
const logEvery = 30 * time.Second

// loadTimeout bounds a load from PostgreSQL that concurrent readers share.
// It runs detached from the request that started it, so that one client
// hanging up does not fail the others waiting on the same load.
const loadTimeout = 10 * time.Second

// Cache is the Redis side shared by the decorators: entries, versions,
// invalidation, metrics.
type Cache struct {
	rdb     *redis.Client
	codec   *rediscache.Cache
	ttl     time.Duration
	breaker *breaker
	metrics counter

	// mu guards pending: invalidations made while Redis was unreachable,
	// to be made before this replica reads from Redis again.
	mu         sync.Mutex
	pending    invalidation
	hasPending atomic.Bool
}

// New returns a Cache over rdb.
func New(rdb *redis.Client, cfg Config) *Cache {
	cfg.TTL = max(cfg.TTL, time.Second)
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := cfg.Metrics
	if m == nil {
		m = noMetrics{}
	}
	b := &breaker{retryAfter: cfg.RetryAfter, logEvery: logEvery, logger: cfg.Logger, metrics: m}
	return &Cache{
		rdb: rdb,
		// JSON rather than the default msgpack, which decodes times into
		// the local zone: a product must read the same from either store.
		codec: rediscache.New(&rediscache.Options{
			Redis:     guardedRedis{rdb: rdb, b: b},
			Marshal:   json.Marshal,
			Unmarshal: json.Unmarshal,
		}),
		ttl:     cfg.TTL,
		breaker: b,
		metrics: counter{m},
		pending: invalidation{ids: map[string]bool{}},
	}
}

// Keys, all under the format of the entries (see entryFormat).
var (
	keyPrefix = "catalog:" + entryFormat + ":"
	genKey    = keyPrefix + "gen"
)

func versionKey(id string) string          { return keyPrefix + "pv:" + id }
func productKeyPrefix(id string) string    { return keyPrefix + "p:" + id + ":" }
func productKey(id, version string) string { return productKeyPrefix(id) + version }
func listKey(gen, filter string) string    { return keyPrefix + "l:" + gen + ":" + filter }
func categoriesKey(gen string) string      { return keyPrefix + "c:" + gen }

// ready reports whether reads may use Redis now: the breaker is closed and
// no invalidation is waiting, or the waiting ones could be made.
func (c *Cache) ready(ctx context.Context) bool {
	if !c.breaker.closed() {
		return false
	}
	if !c.hasPending.Load() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked(context.WithoutCancel(ctx))
}

// currentVersion returns the version at key, or false when the read must
// go to PostgreSQL without Redis (counted as bypassed, under kind).
func (c *Cache) currentVersion(ctx context.Context, key, kind string) (string, bool) {
	if c.ready(ctx) {
		if v, err := c.version(ctx, key); err == nil {
			return v, true
		}
	}
	c.metrics.CacheBypassed(kind, 1)
	return "", false
}

// currentProduct returns the version of product id and the entry stored
// under it (nil when there is none), or false when the read must go to
// PostgreSQL without Redis (counted as bypassed).
func (c *Cache) currentProduct(ctx context.Context, id string) (string, []byte, bool) {
	if c.ready(ctx) {
		if v, entry, err := c.product(ctx, id); err == nil {
			return v, entry, true
		}
	}
	c.metrics.CacheBypassed(kindProduct, 1)
	return "", nil, false
}

// productScript returns a product's version, setting it to the fresh token
// ARGV[1] when it is missing (as versionScript does), and the entry stored
// under it: the key ARGV[2] followed by the version. One round trip, where
// reading the version and then the entry took two, on every product read.
var productScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1])
  return {ARGV[1], false}
end
return {v, redis.call('GET', ARGV[2] .. v)}`)

// product reads a product's version and its entry under that version.
func (c *Cache) product(ctx context.Context, id string) (string, []byte, error) {
	vals, err := productScript.Run(ctx, c.rdb, []string{versionKey(id)}, newToken(), productKeyPrefix(id)).Slice()
	if err != nil {
		return "", nil, c.breaker.observe(ctx, err)
	}
	version, ok := vals[0].(string)
	if !ok || len(vals) != 2 {
		return "", nil, fmt.Errorf("cache: unexpected answer to the product script: %v", vals)
	}
	var entry []byte
	if s, ok := vals[1].(string); ok {
		entry = []byte(s)
	}
	return version, entry, nil
}

// versionScript returns the versions in KEYS, setting a missing one to the
// fresh token in ARGV at the same index.
var versionScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[i]
    redis.call('SET', k, v)
  end
  out[i] = v
end
return out`)

// newToken returns a version never used before (64 random bits).
func newToken() string {
	return strconv.FormatUint(rand.Uint64(), 36)
}

// version reads one version (of a product, or the generation).
func (c *Cache) version(ctx context.Context, key string) (string, error) {
	vs, err := c.versions(ctx, []string{key})
	if err != nil {
		return "", err
	}
	return vs[0], nil
}

// versions reads several versions in one round trip.
func (c *Cache) versions(ctx context.Context, keys []string) ([]string, error) {
	tokens := make([]any, len(keys))
	for i := range tokens {
		tokens[i] = newToken()
	}
	vals, err := versionScript.Run(ctx, c.rdb, keys, tokens...).StringSlice()
	if err != nil {
		return nil, c.breaker.observe(ctx, err)
	}
	return vals, nil
}

// entries reads several entries at once; an absent one is nil.
func (c *Cache) entries(ctx context.Context, keys []string) ([][]byte, error) {
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, c.breaker.observe(ctx, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
		}
	}
	return out, nil
}

// fill stores the products found among ids under keys (one per id, holding
// the version read before the products were loaded), in one round trip.
// It is best effort: a failure leaves a miss for the next read.
func (c *Cache) fill(ctx context.Context, ids, keys []string, found []catalog.Product) {
	if !c.breaker.closed() {
		return
	}
	byID := make(map[string]catalog.Product, len(found))
	for _, p := range found {
		byID[p.ID] = p
	}
	pipe := c.rdb.Pipeline()
	for i, id := range ids {
		p, ok := byID[id]
		if !ok {
			continue
		}
		b, err := c.codec.Marshal(p)
		if err != nil {
			continue
		}
		pipe.Set(ctx, keys[i], b, c.ttl)
	}
	if pipe.Len() > 0 {
		_, err := pipe.Exec(ctx)
		_ = c.breaker.observe(ctx, err)
	}
}

// once returns the entry at key in value, or loads, stores and returns it,
// with one load at a time per key in this replica (stampede protection).
// loaded reports whether this call ran load.
func (c *Cache) once(ctx context.Context, key string, value any, load func(context.Context) (any, error)) (loaded bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	err = c.codec.Once(&rediscache.Item{
		Ctx:   ctx,
		Key:   key,
		Value: value,
		TTL:   c.ttl,
		Do: func(*rediscache.Item) (any, error) {
			loaded = true
			return load(ctx)
		},
	})
	return loaded, err
}

// invalidation is a set of product versions and, optionally, the listing
// generation to replace.
type invalidation struct {
	ids      map[string]bool
	listings bool
}

// replaceScript gives each version in KEYS the fresh token ARGV[i] and, when
// ARGV[#KEYS+i] is not empty, deletes the entry stored under the version it
// replaces (that prefix followed by the old version), freeing its memory
// at once rather than at its TTL.
var replaceScript = redis.NewScript(`
local n = #KEYS
for i, k in ipairs(KEYS) do
  local old = redis.call('GET', k)
  redis.call('SET', k, ARGV[i])
  local prefix = ARGV[n + i]
  if old and prefix ~= '' then redis.call('DEL', prefix .. old) end
end
return n`)

// invalidate makes every entry that shows the products ids, and when
// listings is set every listing page and the categories, unreachable. It
// runs after the write committed and before it is answered. It does not
// fail: what Redis did not take is kept pending.
func (c *Cache) invalidate(ctx context.Context, ids []string, listings bool) {
	if len(ids) == 0 && !listings {
		return
	}
	// A client hanging up after the commit must not leave stale entries.
	ctx = context.WithoutCancel(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.pending.ids[id] = true
	}
	c.pending.listings = c.pending.listings || listings
	c.hasPending.Store(true)
	c.flushLocked(ctx)
}

// flushLocked makes the pending invalidations; c.mu is held.
func (c *Cache) flushLocked(ctx context.Context) bool {
	if len(c.pending.ids) == 0 && !c.pending.listings {
		return true
	}
	if !c.breaker.closed() {
		return false
	}
	var keys []string
	var tokens, prefixes []any
	if c.pending.listings {
		keys, tokens, prefixes = append(keys, genKey), append(tokens, newToken()), append(prefixes, "")
	}
	for id := range c.pending.ids {
		keys, tokens, prefixes = append(keys, versionKey(id)), append(tokens, newToken()), append(prefixes, productKeyPrefix(id))
	}
	if err := c.breaker.observe(ctx, replaceScript.Run(ctx, c.rdb, keys, append(tokens, prefixes...)...).Err()); err != nil {
		return false
	}
	c.pending = invalidation{ids: map[string]bool{}}
	c.hasPending.Store(false)
	return true
}

// mayHaveCommitted reports whether a write that failed with err may
// nevertheless have changed the database (the connection broke after the
// commit was sent, say), so its entries must be invalidated all the same.
func mayHaveCommitted(err error) bool {
	code := apperr.Code(err)
	return code == apperr.Internal || code == apperr.Unavailable
}

// Kinds of entries, the "kind" label of the metrics.
const (
	kindProduct    = "product"
	kindList       = "list"
	kindCategories = "categories"
)

// Kinds are the kinds of entries, the values of the "kind" label.
var Kinds = []string{kindProduct, kindList, kindCategories}

// counter is Metrics with the outcome of a cached read.
type counter struct{ Metrics }

// count records the outcome of one cached read.
func (m counter) count(kind string, loaded bool, err error) {
	if loaded || err != nil {
		m.CacheMisses(kind, 1)
		return
	}
	m.CacheHits(kind, 1)
}
