package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBackupRestore makes data through nginx, backs it up with
// scripts/backup.sh, destroys the database volume, restores with
// scripts/restore.sh and proves that every row of every service's table, and
// every object's owner and privileges, came back unchanged, and that the
// shop works on the restored data. It destroys its database, so it runs on a
// stack of its own.
func TestBackupRestore(t *testing.T) {
	const project = "bazaar-backup-e2e"
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	adoptableNetwork(t, project)
	s, err := StartStack(ctx, project)
	if s != nil {
		defer s.Stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	ops := newOps(t, project)

	// Data of every service, made as users make it.
	customer := account{Email: fmt.Sprintf("backup-%s@example.com", uniqueWord()), Password: "correct horse battery", Name: "Backup Customer"}
	anonymous := &Client{Base: s.BaseURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
	anonymous.Do(t, "POST", "/api/users/register", map[string]string{"email": customer.Email, "password": customer.Password, "name": customer.Name}).
		Expect(t, http.StatusCreated, nil)
	admin := opsSignIn(t, s.BaseURL, "admin@bazaar.local", "change-me-admin")
	var products []shopProduct
	for i, category := range []string{"teapots", "teapots", "cups"} {
		var p shopProduct
		admin.Do(t, "POST", "/api/catalog/products", map[string]any{
			"sku": "BACKUP-" + uniqueWord(), "name": fmt.Sprintf("Backup item %d", i), "description": "Survives a restore.",
			"price_cents": 1000 + i, "currency": "USD", "stock": 50, "category": category,
		}).Expect(t, http.StatusCreated, &p)
		products = append(products, p)
	}
	customer.API = opsSignIn(t, s.BaseURL, customer.Email, customer.Password)
	var kept, cancelled shopOrder
	customer.API.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{
		{"product_id": products[0].ID, "quantity": 2}, {"product_id": products[2].ID, "quantity": 1},
	}}, "Idempotency-Key", "backup-"+uniqueWord()).Expect(t, http.StatusCreated, &kept)
	customer.API.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{
		{"product_id": products[1].ID, "quantity": 3},
	}}).Expect(t, http.StatusCreated, &cancelled)
	customer.API.Do(t, "POST", "/api/orders/"+cancelled.ID+"/cancel", nil).Expect(t, http.StatusOK, nil)

	before := ops.snapshot(t)
	for _, table := range []string{"catalog.products", "orders.orders", "orders.order_items", "users.users"} {
		if len(before[table]) == 0 {
			t.Fatalf("table %s is empty before the backup; the test data went elsewhere (tables: %v)", table, slices.Sorted(maps.Keys(before)))
		}
	}

	backups := t.TempDir()
	ops.env = append(ops.env, "BACKUP_DIR="+backups)
	start := time.Now()
	ops.script(t, "backup.sh")
	sets, _ := filepath.Glob(filepath.Join(backups, "bazaar-*"))
	if len(sets) != 1 {
		t.Fatalf("backup sets in %s: %v, want one", backups, sets)
	}
	t.Logf("backup: %s, %d bytes in %s", filepath.Base(sets[0]), dirSize(t, sets[0]), time.Since(start).Round(time.Millisecond))

	// The scripts refuse clearly: without confirmation, and a damaged set.
	if out, err := ops.tryScript("restore.sh"); err == nil || !strings.Contains(out, "pass -y") {
		t.Errorf("restore.sh without -y and without a terminal: err %v, output:\n%s", err, out)
	}
	damaged := filepath.Join(t.TempDir(), "bazaar-damaged")
	copyDir(t, sets[0], damaged)
	corrupt(t, filepath.Join(damaged, "orders.dump"))
	if out, err := ops.tryScript("restore.sh", "-y", damaged); err == nil || !strings.Contains(out, "damaged") {
		t.Errorf("restore.sh of a damaged set: err %v, output:\n%s", err, out)
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

	start = time.Now()
	ops.script(t, "restore.sh", "-y")
	t.Logf("restore (services stopped, restored, started): %s", time.Since(start).Round(time.Millisecond))

	after := ops.snapshot(t)
	tables := slices.Sorted(maps.Keys(before))
	if got := slices.Sorted(maps.Keys(after)); !slices.Equal(got, tables) {
		t.Errorf("tables after the restore: %v; before: %v", got, tables)
	}
	for _, table := range tables {
		if diff := lineDiff(before[table], after[table]); diff != "" {
			t.Errorf("%s differs after the restore (- before, + after):\n%s", table, diff)
		}
	}

	// The shop works on the restored data, through nginx.
	customer.API = opsSignIn(t, s.BaseURL, customer.Email, customer.Password)
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
	opsSignIn(t, s.BaseURL, "admin@bazaar.local", "change-me-admin")
}

// adoptableNetwork creates the project's default network before StartStack
// does, so that the docker compose CLI (which the scripts use) can manage
// the stack: testcontainers replaces the labels of the networks it creates,
// so their configuration hash never matches the one the CLI computes, and
// the CLI's `up` would try to recreate the network under running containers.
// A network with compose's project labels and no hash is adopted by both.
func adoptableNetwork(t *testing.T, project string) {
	t.Helper()
	name := project + "_default"
	out, err := exec.Command("docker", "network", "create",
		"--label", "com.docker.compose.project="+project, "--label", "com.docker.compose.network=default", name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker network create %s: %v\n%s", name, err, out)
	}
	// Normally removed with the stack; this covers a start that failed first.
	t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
}

// ops runs the operator's tools (scripts/, docker compose, psql) against one
// compose project started by StartStack.
type ops struct {
	root string
	env  []string // the process environment plus the stack's
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
	cmd := exec.Command(name, args...)
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

// snapshot returns every row of every table of the services' schemas
// (COPY's text form, one line a row, sorted), and, under "(objects)", every
// relation of those schemas with its kind, owner and privileges.
func (o *ops) snapshot(t *testing.T) map[string][]string {
	t.Helper()
	const schemas = "('catalog', 'users', 'orders')"
	tables := strings.Fields(o.psql(t, "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables"+
		" WHERE table_schema IN "+schemas+" AND table_type = 'BASE TABLE' ORDER BY 1"))
	var script strings.Builder
	for _, table := range tables {
		fmt.Fprintf(&script, "\\echo '#table %s'\nCOPY %s TO STDOUT;\n", table, table)
	}
	fmt.Fprintf(&script, "\\echo '#table (objects)'\n"+
		"SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), coalesce(c.relacl::text, '')"+
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN %s;\n", schemas)
	dump := map[string][]string{}
	var table string
	for _, line := range strings.Split(o.psql(t, script.String()), "\n") {
		if name, ok := strings.CutPrefix(line, "#table "); ok {
			table = name
			dump[table] = []string{}
		} else if line != "" {
			dump[table] = append(dump[table], line)
		}
	}
	for _, rows := range dump {
		slices.Sort(rows)
	}
	return dump
}

// opsSignIn logs in through nginx at base and returns a client that sends
// the access token.
func opsSignIn(t *testing.T, base, email, password string) *Client {
	t.Helper()
	c := &Client{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
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
