package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"bazaar/catalog"
	"bazaar/catalog/cache"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/metrics"
	"bazaar/catalog/postgres"
	"bazaar/platform/pg/pgtest"
)

var (
	db  *pgtest.DB
	rds *catalogtest.Redis
)

func TestMain(m *testing.M) {
	pgtest.Main(m, func(ctx context.Context) (func(), error) {
		var err error
		if db, err = pgtest.Start(ctx, catalogtest.Postgres); err != nil {
			return nil, err
		}
		if rds, err = catalogtest.StartRedis(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return func() { rds.Close(); db.Close() }, nil
	})
}

// replica is one catalog instance's view: its own cache and Redis client
// over the shared PostgreSQL and Redis, as each container of a scaled
// service has.
type replica struct {
	products     *cache.ProductStore
	reservations *cache.ReservationStore
	registry     *prometheus.Registry
}

// newReplica returns a replica whose Redis commands time out after a
// second: generous, so that a loaded test machine does not pass for a Redis
// outage.
func newReplica(t testing.TB, redisURL string, store cache.Store) *replica {
	t.Helper()
	return newReplicaWithTimeout(t, redisURL, store, time.Second)
}

func newReplicaWithTimeout(t testing.TB, redisURL string, store cache.Store, timeout time.Duration) *replica {
	t.Helper()
	rdb, err := cache.NewRedisClient(redisURL, "", timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	c := cache.New(rdb, cache.Config{TTL: time.Minute, RetryAfter: 50 * time.Millisecond, Metrics: metrics.New(reg, nil)})
	return &replica{
		products:     cache.NewProductStore(store, c),
		reservations: cache.NewReservationStore(postgres.NewReservationStore(db.Pool), c),
		registry:     reg,
	}
}

// redisClient returns a plain client of the test Redis, to look at it and
// tamper with it.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// reset empties PostgreSQL and Redis.
func reset(t testing.TB) {
	t.Helper()
	db.Reset(t)
	if err := redisClient(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestProductStoreContract(t *testing.T) {
	catalogtest.ProductStoreContract(t, func(t *testing.T) catalog.ProductStore {
		reset(t)
		return newReplica(t, rds.URL, postgres.NewProductStore(db.Pool)).products
	})
}

// counter returns the value of a counter of reg with the given kind (or no)
// label.
func counter(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			if kind == "" && len(labels) == 0 || len(labels) == 1 && labels[0].GetValue() == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{kind=%q}", name, kind)
	return 0
}
