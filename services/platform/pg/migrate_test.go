package pg_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/pg"
)

// migrations returns a set whose files each record their version in
// applied, so that a test sees which files ran, in what order, how often.
func migrations(extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"0001_create.sql": {Data: []byte(`
			CREATE TABLE applied (seq bigserial PRIMARY KEY, version int NOT NULL);
			INSERT INTO applied (version) VALUES (1);`)},
		"0002_more.sql": {Data: []byte(`INSERT INTO applied (version) VALUES (2);`)},
		"README.md":     {Data: []byte("not a migration")},
	}
	for name, sql := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fsys
}

// appliedVersions lists the versions the files recorded, in the order they ran.
func appliedVersions(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT version FROM applied ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

// recorded lists schema_migrations, or nil when the table does not exist.
func recorded(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return nil
	}
	rows, err := pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var exists bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestMigrateAppliesEachFileOnceInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, newSchema(t))
	for range 2 {
		if err := pg.Migrate(ctx, pool, migrations(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]int{1, 2}, appliedVersions(t, pool)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	// Numbers order the files, not the order they were written in; a new
	// file runs alone.
	more := migrations(map[string]string{
		"0010_later.sql": `INSERT INTO applied (version) VALUES (10);`,
		"0003_next.sql":  `INSERT INTO applied (version) VALUES (3);`,
	})
	if err := pg.Migrate(ctx, pool, more); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 10}, appliedVersions(t, pool)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	want := []string{"0001_create.sql", "0002_more.sql", "0003_next.sql", "0010_later.sql"}
	if diff := cmp.Diff(want, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

// A service embeds its files as migrations/*.sql: they are found there,
// and recorded by file name.
func TestMigrateFindsFilesInADirectory(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	for name, f := range migrations(nil) {
		fsys["migrations/"+name] = f
	}
	pool := newPool(t, newSchema(t))
	if err := pg.Migrate(context.Background(), pool, fsys); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 2}, appliedVersions(t, pool)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0001_create.sql", "0002_more.sql"}, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

// Replicas start together and all migrate: the advisory lock lets one apply
// each file and the others find it applied.
func TestMigrateConcurrentCallersApplyOnce(t *testing.T) {
	t.Parallel()
	url := newSchema(t)
	const replicas = 8
	pools := make([]*pgxpool.Pool, replicas)
	for i := range pools {
		pools[i] = newPool(t, url)
		if err := pools[i].Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	start := make(chan struct{})
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, pool := range pools {
		wg.Go(func() {
			<-start
			errs[i] = pg.Migrate(context.Background(), pool, migrations(nil))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if diff := cmp.Diff([]int{1, 2}, appliedVersions(t, pools[0])); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
}

// A failing file undoes the whole run, earlier files of the run included,
// so a half-migrated schema never serves.
func TestMigrateFailingFileRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, newSchema(t))
	broken := migrations(map[string]string{"0003_broken.sql": `INSERT INTO applied (version) VALUES (3); INSERT INTO missing_table VALUES (1);`})

	err := pg.Migrate(ctx, pool, broken)
	if err == nil || !strings.Contains(err.Error(), "0003_broken.sql") {
		t.Fatalf("Migrate = %v, want an error naming 0003_broken.sql", err)
	}
	if tableExists(t, pool, "applied") || recorded(t, pool) != nil {
		t.Fatal("a failed first run left tables behind")
	}

	// Once 0001 and 0002 are in, a failing 0003 leaves them as they were.
	if err := pg.Migrate(ctx, pool, migrations(nil)); err != nil {
		t.Fatal(err)
	}
	if err := pg.Migrate(ctx, pool, broken); err == nil {
		t.Fatal("Migrate with a broken file succeeded")
	}
	if diff := cmp.Diff([]int{1, 2}, appliedVersions(t, pool)); diff != "" {
		t.Errorf("applied after the failure (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0001_create.sql", "0002_more.sql"}, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations after the failure (-want +got):\n%s", diff)
	}

	// Fixed, it applies.
	fixed := migrations(map[string]string{"0003_broken.sql": `INSERT INTO applied (version) VALUES (3);`})
	if err := pg.Migrate(ctx, pool, fixed); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, appliedVersions(t, pool)); diff != "" {
		t.Errorf("applied after the fix (-want +got):\n%s", diff)
	}
}

func TestMigrateRefusesUnnumberedFiles(t *testing.T) {
	t.Parallel()
	pool := newPool(t, newSchema(t))
	err := pg.Migrate(context.Background(), pool, migrations(map[string]string{"create_more.sql": `SELECT 1;`}))
	if err == nil || !strings.Contains(err.Error(), "must start with a number") {
		t.Fatalf("Migrate = %v, want a naming error", err)
	}
	if tableExists(t, pool, "applied") {
		t.Error("files before the misnamed one stayed applied")
	}
}
