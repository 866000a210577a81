package pg_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// baseURL connects as the superuser to the package's one PostgreSQL
// container. Each test works in a schema of its own (newSchema).
var baseURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	image := os.Getenv("POSTGRES_IMAGE")
	if image == "" {
		image = "bazaar/postgres:15" // built locally: there is no registry
	}
	ctr, err := tcpostgres.Run(ctx, image,
		tcpostgres.WithDatabase("bazaar"),
		tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies(),
	)
	defer func() { _ = testcontainers.TerminateContainer(ctr) }()
	if err != nil {
		// A missing Docker fails the tests; it never skips them.
		log.Printf("start %s: %v", image, err)
		return 1
	}
	if baseURL, err = ctr.ConnectionString(ctx, "sslmode=disable"); err != nil {
		log.Print(err)
		return 1
	}
	return m.Run()
}

var schemas atomic.Int32

// newSchema creates an empty schema and returns the URL of a connection
// whose search_path is that schema, as each service's role has in production.
func newSchema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("test_%d", schemas.Add(1))
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	return baseURL + "&search_path=" + name
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
