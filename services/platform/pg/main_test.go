package pg_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/pg/pgtest"
)

// baseURL connects as the superuser to the package's one PostgreSQL
// container. Each test works in a schema of its own (newSchema).
var (
	db      *pgtest.DB
	baseURL string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	if db, err = pgtest.Start(ctx, pgtest.Options{}); err != nil {
		log.Print(err) // a missing Docker fails the tests; it never skips them
		return 1
	}
	defer db.Close()
	baseURL = db.URL
	return m.Run()
}

var schemas atomic.Int32

// newSchema creates an empty schema and returns the URL of a connection
// whose search_path is that schema, as each service's role has in production.
func newSchema(t *testing.T) string {
	t.Helper()
	url, err := db.NewSchema(context.Background(), fmt.Sprintf("test_%d", schemas.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// newPool opens a pool on url, closed when the test ends.
func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
