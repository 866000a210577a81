package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/shop"
	"bazaar/e2e/internal/short"
)

// TestBackupRestore makes data through nginx, backs it up with
// scripts/backup.sh, restores with scripts/restore.sh over the live data and
// again after destroying the database volume, and proves each time that
// every row of every service's table, and every object's owner and
// privileges, came back unchanged, that PostgreSQL logged the restore in as
// each service's role and never as the superuser, and that the shop works on
// the restored data. Before that, restore.sh must refuse, changing nothing,
// a set whose dump or MANIFEST no longer matches its SHA256SUMS and a set
// whose SHA256SUMS does not cover MANIFEST, and a restore that fails half-way
// must leave the schema as it was. It destroys its database, so it runs on a
// stack of its own.
//
// The services keep working while the test runs, and some of what they do
// changes the database by itself: the orders reconciler moves the
// reservation sweep's position forward, and expired idempotency keys and
// refresh tokens are purged. The test compares only what nothing but a
// user changes (see volatile), and checks the sweep's position apart.
func TestBackupRestore(t *testing.T) {
	const project = "bazaar-backup-e2e"
	ctx, s, ops, lim := startOwnStack(t, project)

	// Data of every service, made as users make it.
	customer := account{Email: fmt.Sprintf("backup-%s@example.com", uniqueWord()), Password: "correct horse battery", Name: "Backup Customer"}
	anonymous := &Client{Base: s.BaseURL, HTTP: &http.Client{Timeout: lim.request()}}
	anonymous.Do(t, "POST", "/api/users/register", map[string]string{"email": customer.Email, "password": customer.Password, "name": customer.Name}).
		Expect(t, http.StatusCreated, nil)
	admin := opsSignIn(t, lim, s.BaseURL, "admin@bazaar.local", secret(t, "admin_password"))
	var products []shopProduct
	for i, category := range []string{"teapots", "teapots", "cups"} {
		var p shopProduct
		admin.Do(t, "POST", "/api/catalog/products", map[string]any{
			"sku": "BACKUP-" + uniqueWord(), "name": fmt.Sprintf("Backup item %d", i), "description": "Survives a restore.",
			"price_cents": 1000 + i, "currency": "USD", "stock": 50, "category": category,
		}).Expect(t, http.StatusCreated, &p)
		products = append(products, p)
	}
	customer.API = opsSignIn(t, lim, s.BaseURL, customer.Email, customer.Password)
	var kept, cancelled shopOrder
	customer.API.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{
		{"product_id": products[0].ID, "quantity": 2}, {"product_id": products[2].ID, "quantity": 1},
	}}, "Idempotency-Key", "backup-"+uniqueWord()).Expect(t, http.StatusCreated, &kept)
	customer.API.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{
		{"product_id": products[1].ID, "quantity": 3},
	}}).Expect(t, http.StatusCreated, &cancelled)
	customer.API.Do(t, "POST", "/api/orders/"+cancelled.ID+"/cancel", nil).Expect(t, http.StatusOK, &cancelled)
	// A cancellation the catalog did not confirm at once is finished by the
	// reconciler; the data is compared once it has settled.
	for cancelled.Status != "cancelled" {
		if ctx.Err() != nil {
			t.Fatalf("order %s is still %q: the cancellation never finished", cancelled.ID, cancelled.Status)
		}
		time.Sleep(200 * time.Millisecond)
		customer.API.Do(t, "GET", "/api/orders/"+cancelled.ID, nil).Expect(t, http.StatusOK, &cancelled)
	}

	// A product image, which the set must carry: the media volume is lost
	// below as well.
	var pictured productWithImage
	admin.Do(t, "PUT", "/api/catalog/products/"+products[0].ID+"/image", shop.PhotoJPEG(t, 640, 480, 21), "Content-Type", "image/jpeg").
		Expect(t, http.StatusOK, &pictured)
	picture := anonymous.Do(t, "GET", pictured.Image.URL, nil).Expect(t, http.StatusOK, nil).Body

	before := ops.snapshot(t)

	backups := t.TempDir()
	ops.env = append(ops.env, "BACKUP_DIR="+backups)
	start := time.Now()
	ops.script(t, "backup.sh")
	sets, _ := filepath.Glob(filepath.Join(backups, "bazaar-*"))
	if len(sets) != 1 {
		t.Fatalf("backup sets in %s: %v, want one", backups, sets)
	}
	t.Logf("backup: %s, %d bytes in %s", filepath.Base(sets[0]), dirSize(t, sets[0]), time.Since(start).Round(time.Millisecond))
	backedUp := ops.backedUpSweep(t, filepath.Join(sets[0], "orders.dump"))
	checkSumsCoverSet(t, sets[0])
	if _, err := os.Stat(filepath.Join(sets[0], "media.tar")); err != nil {
		t.Errorf("the set holds no product images: %v", err)
	}

	// A product made after the backup: a restore of the set takes it away,
	// so it shows whether a refused restore changed anything.
	var late shopProduct
	admin.Do(t, "POST", "/api/catalog/products", map[string]any{
		"sku": "LATE-" + uniqueWord(), "name": "Made after the backup", "description": "Gone after a restore.",
		"price_cents": 999, "currency": "USD", "stock": 7, "category": "cups",
	}).Expect(t, http.StatusCreated, &late)
	refused := func(what string, want []string, args ...string) {
		t.Helper()
		out, err := ops.tryScript("restore.sh", args...)
		if err == nil {
			t.Errorf("restore.sh of %s succeeded; want a refusal. Output:\n%s", what, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("restore.sh of %s: output lacks %q:\n%s", what, w, out)
			}
		}
		if strings.Contains(out, "Stopping") {
			t.Errorf("restore.sh of %s stopped the services before refusing:\n%s", what, out)
		}
		if r := anonymous.Do(t, "GET", "/api/catalog/products/"+late.ID, nil); r.Status != http.StatusOK {
			t.Errorf("after restore.sh of %s, the product made after the backup answers %d: the restore changed the data", what, r.Status)
		}
		t.Logf("restore.sh of %s: %s", what, strings.TrimSpace(out))
	}

	// The scripts refuse clearly, and change nothing: without confirmation,
	// a damaged dump, an edited MANIFEST (here one that would restore catalog
	// and orders without users: a valid-looking set), and an older set
	// whose SHA256SUMS does not list MANIFEST.
	refused("a set without -y", []string{"pass -y"})
	damaged := filepath.Join(t.TempDir(), "bazaar-damaged")
	copyDir(t, sets[0], damaged)
	corrupt(t, filepath.Join(damaged, "orders.dump"))
	refused("a set with a damaged dump", []string{"damaged", "orders.dump: FAILED"}, "-y", damaged)
	edited := filepath.Join(t.TempDir(), "bazaar-edited")
	copyDir(t, sets[0], edited)
	editManifest(t, edited, func(lines []string) []string {
		return slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "users ") })
	})
	refused("a set with an edited MANIFEST", []string{"damaged", "MANIFEST: FAILED"}, "-y", edited)
	older := filepath.Join(t.TempDir(), "bazaar-older")
	copyDir(t, sets[0], older)
	writeSums(t, older, "catalog.dump", "users.dump", "orders.dump")
	refused("a set whose SHA256SUMS does not list MANIFEST", []string{"does not list MANIFEST"}, "-y", older)

	// A set that is intact by its sums but whose archive ends early: the
	// restore of orders starts (its objects are dropped, the archive's
	// tables created) and fails, and orders is left exactly as it was.
	broken := filepath.Join(t.TempDir(), "bazaar-broken")
	copyDir(t, sets[0], broken)
	editManifest(t, broken, func(lines []string) []string {
		return slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "orders ") })
	})
	truncate(t, filepath.Join(broken, "orders.dump"), 16)
	if err := os.Remove(filepath.Join(broken, "media.tar")); err != nil {
		t.Fatal(err)
	}
	writeSums(t, broken, "MANIFEST", "orders.dump")
	unbroken := ops.snapshot(t)
	if out, err := ops.tryScript("restore.sh", "-y", broken); err == nil || !strings.Contains(out, "restore of schema orders failed") {
		t.Errorf("restore.sh of a set whose archive ends early: err %v, output:\n%s", err, out)
	} else {
		t.Logf("restore.sh of a set whose archive ends early failed as it should:\n%s", out)
	}
	compareRestored(t, "the failed restore", unbroken, ops.snapshot(t), "")

	// A restore over the live data: the services' schemas go back to the
	// set, and what was made since is gone.
	ops.logConnections(t)
	start = time.Now()
	ops.script(t, "restore.sh", "-y")
	t.Logf("restore over the live data: %s", time.Since(start).Round(time.Millisecond))
	ops.checkRestoreSessions(t, start)
	compareRestored(t, "the restore over the live data", before, ops.snapshot(t), backedUp)
	anonymous.Do(t, "GET", "/api/catalog/products/"+late.ID, nil).Expect(t, http.StatusNotFound, nil)

	// Lose the product images: the media volume emptied (nginx keeps it
	// mounted, and its published port).
	if out, err := exec.Command("docker", "run", "--rm", "--network", "none", "--user", "0:0", "--entrypoint", "sh",
		"-v", project+"_media:/m", image(t, s, "nginx"), "-c", "rm -rf /m/* && test -z \"$(ls -A /m)\"").CombinedOutput(); err != nil {
		t.Fatalf("empty the media volume: %v\n%s", err, out)
	}
	if r := anonymous.Do(t, "GET", pictured.Image.URL, nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET %s on the new media volume: %d, want 404", pictured.Image.URL, r.Status)
	}

	// Lose the database: a new, empty volume, initialised from scratch.
	ops.compose(t, "stop", "postgres")
	ops.compose(t, "rm", "--force", "postgres")
	if out, err := exec.Command("docker", "volume", "rm", project+"_pgdata").CombinedOutput(); err != nil {
		t.Fatalf("docker volume rm: %v\n%s", err, out)
	}
	ops.compose(t, "up", "--detach", "--wait", "--no-deps", "postgres")
	if n := ops.psql(t, "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('catalog', 'users', 'orders')"); n != "0" {
		t.Fatalf("the new database has %s tables in the services' schemas; want an empty one", n)
	}

	ops.logConnections(t)
	start = time.Now()
	ops.script(t, "restore.sh", "-y")
	t.Logf("restore (services stopped, restored, started): %s", time.Since(start).Round(time.Millisecond))
	ops.checkRestoreSessions(t, start)

	after := ops.snapshot(t)
	compareRestored(t, "the restore into a new database", before, after, backedUp)
	t.Logf("reservation sweep through: %s before the backup, %s in the set, %s after the restore", before.sweep, backedUp, after.sweep)

	// The shop works on the restored data, through nginx.
	customer.API = opsSignIn(t, lim, s.BaseURL, customer.Email, customer.Password)
	var got shopOrder
	customer.API.Do(t, "GET", "/api/orders/"+kept.ID, nil).Expect(t, http.StatusOK, &got)
	if got.ID != kept.ID || got.Status != "confirmed" || len(got.Items) != 2 {
		t.Errorf("restored order %+v; want %+v", got, kept)
	}
	customer.API.Do(t, "GET", "/api/orders/"+cancelled.ID, nil).Expect(t, http.StatusOK, &got)
	if got.Status != "cancelled" {
		t.Errorf("restored cancelled order has status %q", got.Status)
	}
	for p, want := range map[string]int{products[0].ID: 48, products[1].ID: 50, products[2].ID: 49} {
		var got shopProduct
		anonymous.Do(t, "GET", "/api/catalog/products/"+p, nil).Expect(t, http.StatusOK, &got)
		if got.Stock != want {
			t.Errorf("product %s: stock %d after the restore, want %d", p, got.Stock, want)
		}
	}
	opsSignIn(t, lim, s.BaseURL, "admin@bazaar.local", secret(t, "admin_password"))

	// The product shows its image again, and the image is back.
	var restored productWithImage
	anonymous.Do(t, "GET", "/api/catalog/products/"+products[0].ID, nil).Expect(t, http.StatusOK, &restored)
	if restored.Image == nil || *restored.Image != *pictured.Image {
		t.Errorf("restored image %+v, want %+v", restored.Image, pictured.Image)
	}
	for _, u := range []string{pictured.Image.URL, pictured.Image.ThumbnailURL} {
		r := anonymous.Do(t, "GET", u, nil)
		if r.Status != http.StatusOK || u == pictured.Image.URL && !bytes.Equal(r.Body, picture) {
			t.Errorf("GET %s after the restore: %d, %d bytes (want the %d backed up)", u, r.Status, len(r.Body), len(picture))
		}
	}
}

// compareRestored fails the test unless after, read once the restore named
// what had ended, holds every row and object of before. Rows that a purge
// may have taken by the time after was read are left out on both sides. The
// reservation sweep only moves forward, also while a backup runs: when
// backedUp (its position in the set) is given, before had it no further
// and after has it at least there; otherwise after has it at least where
// before had it.
func compareRestored(t *testing.T, what string, before, after snapshot, backedUp string) {
	t.Helper()
	cutoff := after.now
	beforeRows, afterRows := before.stable(cutoff), after.stable(cutoff)
	tables := slices.Sorted(maps.Keys(beforeRows))
	if got := slices.Sorted(maps.Keys(afterRows)); !slices.Equal(got, tables) {
		t.Errorf("tables after %s: %v; before: %v", what, got, tables)
	}
	// An empty table would compare equal however the restore went.
	rows := 0
	for _, table := range tables {
		if len(beforeRows[table]) == 0 {
			t.Errorf("%s has no rows to compare (none that a background job could not purge by the end); the test must make some", table)
		}
		rows += len(beforeRows[table])
	}
	t.Logf("%s: comparing %d rows of %d tables and the objects' owners and privileges", what, rows, len(tables)-1)
	for _, table := range tables {
		if diff := lineDiff(beforeRows[table], afterRows[table]); diff != "" {
			t.Errorf("%s differs after %s (- before, + after):\n%s", table, what, diff)
		}
	}
	switch {
	case backedUp == "" && after.sweep < before.sweep:
		t.Errorf("the reservation sweep is through %s after %s, behind %s, where it was before", after.sweep, what, before.sweep)
	case backedUp != "" && backedUp < before.sweep:
		t.Errorf("the backup holds the reservation sweep through %s, behind %s, where it was before the backup", backedUp, before.sweep)
	case backedUp != "" && after.sweep < backedUp:
		t.Errorf("the reservation sweep is through %s after %s, behind %s, where the backup had it", after.sweep, what, backedUp)
	}
}

// checkSumsCoverSet fails the test unless the set's SHA256SUMS lists every
// other file of the set, MANIFEST first among them.
func checkSumsCoverSet(t *testing.T, set string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(set, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if _, name, ok := strings.Cut(line, "  "); ok {
			listed[name] = true
		}
	}
	entries, err := os.ReadDir(set)
	if err != nil {
		t.Fatal(err)
	}
	if !listed["MANIFEST"] {
		t.Errorf("%s/SHA256SUMS does not list MANIFEST:\n%s", filepath.Base(set), data)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !listed[e.Name()] {
			t.Errorf("%s/SHA256SUMS does not list %s:\n%s", filepath.Base(set), e.Name(), data)
		}
	}
}

// editManifest rewrites the set's MANIFEST with edit's lines, leaving
// SHA256SUMS as it was.
func editManifest(t *testing.T, set string, edit func([]string) []string) {
	t.Helper()
	file := filepath.Join(set, "MANIFEST")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := edit(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"))
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeSums replaces the set's SHA256SUMS with the sums of files, in
// sha256sum's format.
func writeSums(t *testing.T, set string, files ...string) {
	t.Helper()
	var sums strings.Builder
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(set, name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(data), name)
	}
	if err := os.WriteFile(filepath.Join(set, "SHA256SUMS"), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// truncate cuts the last n bytes off the file.
func truncate(t *testing.T, file string, n int64) {
	t.Helper()
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, info.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// logConnections makes PostgreSQL log every connection it lets in, with
// the role and application_name (until its data volume goes), and waits
// until new sessions have it.
func (o *ops) logConnections(t *testing.T) {
	t.Helper()
	o.psql(t, "ALTER SYSTEM SET log_connections = on;\nSELECT pg_reload_conf();")
	for deadline := time.Now().Add(30 * time.Second); o.psql(t, "SHOW log_connections") != "on"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("log_connections is still off 30 s after a configuration reload")
		}
	}
}

// authorized matches PostgreSQL's log line for a connection let in (with
// log_connections on).
var authorized = regexp.MustCompile(`connection authorized: user=(\S+) database=\S+(?: application_name=(\S*))?`)

// checkRestoreSessions fails the test unless PostgreSQL's log since start
// shows restore.sh's sessions (application_name bazaar-restore) logged in
// as each service's role and as no other, and no connection as the
// superuser but the health check's pg_isready.
func (o *ops) checkRestoreSessions(t *testing.T, start time.Time) {
	t.Helper()
	cmd := o.command("docker", "compose", "logs", "--no-color", "--no-log-prefix", "--since", start.UTC().Format(time.RFC3339Nano), "postgres")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose logs postgres: %v\n%s", err, out)
	}
	restoredAs := map[string]int{}
	for _, m := range authorized.FindAllStringSubmatch(string(out), -1) {
		role, app := m[1], m[2]
		if app == "bazaar-restore" {
			restoredAs[role]++
			if !slices.Contains(serviceRoles, role) {
				t.Errorf("restore.sh logged in as %s, not as a service's role", role)
			}
		}
		if role == "postgres" && app != "pg_isready" {
			t.Errorf("a connection as the superuser during the restore: %s", m[0])
		}
	}
	for _, role := range serviceRoles {
		if restoredAs[role] == 0 {
			t.Errorf("no restore.sh session logged in as %s; PostgreSQL's log since the restore began:\n%s", role, out)
		}
	}
	t.Logf("restore.sh sessions by role (PostgreSQL's log): %v", restoredAs)
}

// startOwnStack starts a compose project of the test's own (see
// adoptableNetworks) and returns a context that ends before the test binary's
// -timeout, so that the stack is still torn down when the test runs out of
// time, the operator's tools for the project, and the time limits measured
// on its start. The stack is stopped when the test ends.
func startOwnStack(t *testing.T, project string) (context.Context, *Stack, *ops, limits) {
	t.Helper()
	short.Skip(t, "a compose stack")
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		// A tenth of what is left is kept for tearing the stack down.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)*9/10))
		t.Cleanup(cancel)
	}
	adoptableNetworks(t, project)
	start := time.Now()
	s, err := StartStack(ctx, project)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	l := limits{startup: time.Since(start)}
	t.Logf("stack %s started in %s; a request may take up to %s", project, l.startup.Round(time.Millisecond), l.request().Round(time.Millisecond))
	o := newOps(t, project)
	o.ctx = ctx
	return ctx, s, o, l
}

// limits are a test's time limits, derived from how long its stack took to
// start on this machine (every container created and healthy, migrations
// run): a measure of this machine's speed, where a constant would suit only
// the machine it was tuned on.
type limits struct {
	startup time.Duration
}

// request bounds one request through nginx. A request the stack answers at
// all is answered in a small fraction of a start; one that takes twice as
// long as starting everything is stuck.
func (l limits) request() time.Duration { return 2 * l.startup }

// seconds is request(), in whole seconds (rounded up), for the scripts'
// settings.
func (l limits) seconds() string {
	return strconv.Itoa(int(math.Ceil(l.request().Seconds())))
}

// ops runs the operator's tools (scripts/, docker compose, psql) against one
// compose project started by StartStack.
type ops struct {
	root string
	env  []string        // the process environment plus the stack's
	ctx  context.Context // ends the commands; Background when nil
}

// newOps points the tools at project, with the interpolation environment
// StartStack gave it, so that compose computes the same configuration.
func newOps(t *testing.T, project string) *ops {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	stackVars, err := stackEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	for k, v := range stackVars {
		env = append(env, k+"="+v)
	}
	// A .env on this machine must not add files or rename the project.
	env = append(env, "COMPOSE_PROJECT_NAME="+project, "COMPOSE_FILE=docker-compose.yml")
	return &ops{root: root, env: env}
}

func (o *ops) command(name string, args ...string) *exec.Cmd {
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = o.root
	cmd.Env = o.env
	return cmd
}

// tryScript runs scripts/<name> and returns its combined output.
func (o *ops) tryScript(name string, args ...string) (string, error) {
	out, err := o.command(filepath.Join(o.root, "scripts", name), args...).CombinedOutput()
	return string(out), err
}

// script runs scripts/<name>, logs its output, and fails the test if it fails.
func (o *ops) script(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := o.tryScript(name, args...)
	t.Logf("scripts/%s %s:\n%s", name, strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("scripts/%s: %v", name, err)
	}
}

// compose runs docker compose and returns its standard output.
func (o *ops) compose(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := o.command("docker", append([]string{"compose"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// psql runs SQL as the superuser inside the postgres container and returns
// the unaligned, tuples-only output without its final newline.
func (o *ops) psql(t *testing.T, sql string) string {
	t.Helper()
	cmd := o.command("docker", "compose", "exec", "-T", "postgres", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "bazaar")
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// volatile says, for each table whose rows a background job may delete,
// when a row may go: an SQL expression over the row (the table's name
// qualifies its columns) giving the time from which a purge may take it.
//   - orders' reconciler purges idempotency keys once expires_at passes;
//   - users purges refresh tokens past expires_at (the used ones), and whole
//     refresh families once none of their tokens is valid.
var volatile = map[string]string{
	"orders.idempotency_keys": "idempotency_keys.expires_at",
	"users.refresh_tokens":    "refresh_tokens.expires_at",
	"users.refresh_families": "(SELECT max(t.expires_at) FROM users.refresh_tokens t" +
		" WHERE t.family_id = refresh_families.id)",
}

// sweepTable holds the orders reconciler's position, which it moves forward
// every round: it is compared apart, by order, not for equality.
const sweepTable = "orders.reservation_sweep"

// snapshot is what the database holds at one moment (see ops.snapshot).
type snapshot struct {
	// tables holds every row of every table of the services' schemas, in
	// COPY's text form, one line a row, sorted; the rows of the volatile
	// tables begin with the time a purge may take them (Unix seconds) and
	// a tab. Under "(objects)": every relation of those schemas with its
	// kind, owner and privileges.
	tables map[string][]string
	// sweep is the reservation sweep's position: a UUIDv7, which orders
	// as text in the order of time.
	sweep string
	// now is the database's clock (Unix seconds) once all was read.
	now float64
}

// snapshot reads what the database holds, for comparison across a restore.
func (o *ops) snapshot(t *testing.T) snapshot {
	t.Helper()
	const schemas = "('catalog', 'users', 'orders')"
	tables := strings.Fields(o.psql(t, "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables"+
		" WHERE table_schema IN "+schemas+" AND table_type = 'BASE TABLE' ORDER BY 1"))
	var script strings.Builder
	for _, table := range tables {
		fmt.Fprintf(&script, "\\echo '#table %s'\n", table)
		if horizon, ok := volatile[table]; ok {
			fmt.Fprintf(&script, "COPY (SELECT coalesce(extract(epoch FROM %s), 0), * FROM %s) TO STDOUT;\n", horizon, table)
		} else {
			fmt.Fprintf(&script, "COPY %s TO STDOUT;\n", table)
		}
	}
	fmt.Fprintf(&script, "\\echo '#table (objects)'\n"+
		"SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), coalesce(c.relacl::text, '')"+
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN %s;\n", schemas)
	// Last, in a statement (so a transaction) of its own: no row read above
	// was purged before this moment.
	fmt.Fprintf(&script, "\\echo '#table (now)'\nSELECT extract(epoch FROM now());\n")
	snap := snapshot{tables: map[string][]string{}}
	var table string
	for _, line := range strings.Split(o.psql(t, script.String()), "\n") {
		if name, ok := strings.CutPrefix(line, "#table "); ok {
			table = name
			snap.tables[table] = []string{}
		} else if line != "" {
			snap.tables[table] = append(snap.tables[table], line)
		}
	}
	now := snap.tables["(now)"]
	delete(snap.tables, "(now)")
	var err error
	if len(now) != 1 {
		t.Fatalf("the database's clock: %q", now)
	}
	if snap.now, err = strconv.ParseFloat(now[0], 64); err != nil {
		t.Fatalf("the database's clock: %v", err)
	}
	sweep := snap.tables[sweepTable]
	delete(snap.tables, sweepTable)
	if len(sweep) != 1 {
		t.Fatalf("%s holds %d rows, want one: %q", sweepTable, len(sweep), sweep)
	}
	if snap.sweep, err = sweepPosition(sweep[0]); err != nil {
		t.Fatal(err)
	}
	for _, rows := range snap.tables {
		slices.Sort(rows)
	}
	return snap
}

// stable returns the rows that no background job can have deleted by
// cutoff (Unix seconds): those of the volatile tables that a purge may take
// only after it, without their leading time, and all the others.
func (s snapshot) stable(cutoff float64) map[string][]string {
	out := map[string][]string{}
	for table, rows := range s.tables {
		if _, ok := volatile[table]; !ok {
			out[table] = rows
			continue
		}
		kept := []string{}
		for _, row := range rows {
			horizon, rest, _ := strings.Cut(row, "\t")
			if at, err := strconv.ParseFloat(horizon, 64); err != nil || at > cutoff {
				kept = append(kept, rest) // a row that cannot be read stays, and shows in a diff
			}
		}
		out[table] = kept
	}
	return out
}

// sweepPosition reads the sweep's position from its row in COPY's text
// form: "t", a tab, the order id.
func sweepPosition(row string) (string, error) {
	one, through, ok := strings.Cut(row, "\t")
	if !ok || one != "t" || len(through) != 36 {
		return "", fmt.Errorf("%s: unexpected row %q", sweepTable, row)
	}
	return through, nil
}

// backedUpSweep returns the reservation sweep's position as the backup set's
// archive of the orders schema holds it, read with the database's own
// pg_restore.
func (o *ops) backedUpSweep(t *testing.T, dump string) string {
	t.Helper()
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, table, _ := strings.Cut(sweepTable, ".")
	cmd := o.command("docker", "compose", "exec", "-T", "postgres", "pg_restore", "--data-only", "--schema="+schema, "--table="+table, "--file=-")
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore of %s from %s: %v\n%s", sweepTable, dump, err, out)
	}
	// COPY orders.reservation_sweep (one, through) FROM stdin;
	// t	<id>
	// \.
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "COPY "+sweepTable+" ") && i+1 < len(lines) {
			through, err := sweepPosition(lines[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return through
		}
	}
	t.Fatalf("the backup's %s holds no row of %s:\n%s", filepath.Base(dump), sweepTable, out)
	return ""
}

// opsSignIn logs in through nginx at base and returns a client that sends
// the access token, with the request time limit of l.
func opsSignIn(t *testing.T, l limits, base, email, password string) *Client {
	t.Helper()
	c := &Client{Base: base, HTTP: &http.Client{Timeout: l.request()}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.Do(t, "POST", "/api/users/login", map[string]string{"email": email, "password": password}).Expect(t, http.StatusOK, &tok)
	c.Token = tok.AccessToken
	return c
}

// lineDiff lists the lines only in a (-) and only in b (+), both sorted.
func lineDiff(a, b []string) string {
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return out.String()
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var size int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += info.Size()
	}
	return size
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// corrupt flips one byte in the middle of the file.
func corrupt(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
