package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests connect to the stack's PostgreSQL the way each service does:
// over TCP, as the service's own role with its password. psql runs inside
// the postgres container, so nothing but nginx needs to be published.

// serviceRoles are the database roles of the services, which share their
// names.
var serviceRoles = []string{"catalog", "users", "orders"}

// rolePassword is the password of role, from the stack's secrets.
func rolePassword(t *testing.T, role string) string {
	return secret(t, role+"_db_password")
}

// containerID returns the id of a container of the stack's service.
func containerID(t *testing.T, s *Stack, service string) string {
	t.Helper()
	c, err := s.compose.ServiceContainer(context.Background(), service)
	if err != nil {
		t.Fatalf("%s: %v", service, err)
	}
	return c.GetContainerID()
}

// psqlAs runs sql in one psql session connected over TCP as role, and
// returns what it printed (rows as a|b, one per line) or, when it failed,
// an error holding PostgreSQL's message.
func psqlAs(t *testing.T, s *Stack, role, password, sql string) (string, error) {
	t.Helper()
	dsn := (&url.URL{Scheme: "postgresql", User: url.UserPassword(role, password), Host: "127.0.0.1:5432", Path: "/bazaar",
		RawQuery: "sslmode=disable&connect_timeout=5"}).String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "exec", containerID(t, s, "postgres"),
		"psql", dsn, "--no-psqlrc", "--tuples-only", "--no-align", "--quiet", "--set", "ON_ERROR_STOP=1", "--command", sql)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// dockerInspect decodes `docker inspect` of a container of the stack's service.
func dockerInspect(t *testing.T, s *Stack, service string, v any) {
	t.Helper()
	out, err := exec.Command("docker", "inspect", containerID(t, s, service)).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", service, err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 1 {
		t.Fatalf("docker inspect %s: %v", service, err)
	}
	if err := json.Unmarshal(list[0], v); err != nil {
		t.Fatalf("docker inspect %s: %v", service, err)
	}
}

// containerEnv returns the environment of a container of the stack's service.
func containerEnv(t *testing.T, s *Stack, service string) map[string]string {
	t.Helper()
	var c struct{ Config struct{ Env []string } }
	dockerInspect(t, s, service, &c)
	env := map[string]string{}
	for _, kv := range c.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// serviceReplicas counts the running containers of the stack's service.
func serviceReplicas(t *testing.T, s *Stack, service string) int {
	t.Helper()
	var c struct {
		Config struct{ Labels map[string]string }
	}
	dockerInspect(t, s, service, &c)
	out, err := exec.Command("docker", "ps", "--quiet",
		"--filter", "label=com.docker.compose.project="+c.Config.Labels["com.docker.compose.project"],
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return len(strings.Fields(string(out)))
}

// Each role reads and writes its own schema and nothing else: no other
// service's tables, no new schemas, no tables in public, no other role.
func TestServiceRolesReachOnlyTheirSchema(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	for _, tc := range []struct {
		role, name, sql string
		want            string // in the output on success, or in the error when fail
		fail            bool
	}{
		// Each role does reach its own tables, so a refusal below is a
		// refusal and not a broken connection.
		{"catalog", "own schema pinned", `SHOW search_path`, "catalog", false},
		{"catalog", "reads its products", `SELECT count(*) >= 0 FROM products`, "t", false},
		{"users", "reads its users", `SELECT count(*) >= 0 FROM users`, "t", false},
		{"orders", "reads its orders", `SELECT count(*) >= 0 FROM orders`, "t", false},
		{"orders", "writes its own schema", `BEGIN; CREATE TABLE privilege_probe (i int); ROLLBACK`, "", false},

		{"catalog", "reads users' accounts", `SELECT email, password_hash FROM users.users`, "permission denied for schema users", true},
		{"catalog", "reads users' refresh tokens", `SELECT count(*) FROM users.refresh_tokens`, "permission denied for schema users", true},
		{"catalog", "reads users' table through search_path", `SET search_path = users; SELECT count(*) FROM users`, `relation "users" does not exist`, true},
		{"catalog", "makes itself an admin", `UPDATE users.users SET role = 'admin'`, "permission denied for schema users", true},
		{"catalog", "reads orders", `SELECT count(*) FROM orders.orders`, "permission denied for schema orders", true},
		{"orders", "writes catalog's stock", `UPDATE catalog.products SET stock = stock + 1000`, "permission denied for schema catalog", true},
		{"orders", "inserts a catalog category", `INSERT INTO catalog.categories (slug, name) VALUES ('probe', 'Probe')`, "permission denied for schema catalog", true},
		{"orders", "deletes catalog's reservations", `DELETE FROM catalog.reservations`, "permission denied for schema catalog", true},
		{"orders", "reads catalog's products", `SELECT count(*) FROM catalog.products`, "permission denied for schema catalog", true},
		{"orders", "reads users' accounts", `SELECT count(*) FROM users.users`, "permission denied for schema users", true},
		{"users", "cancels orders", `UPDATE orders.orders SET status = 'cancelled'`, "permission denied for schema orders", true},
		{"users", "reads catalog's products", `SELECT count(*) FROM catalog.products`, "permission denied for schema catalog", true},
		{"catalog", "grants itself another schema", `GRANT USAGE ON SCHEMA users TO catalog; SELECT count(*) FROM users.users`, "permission denied for schema users", true},
		{"catalog", "creates a schema", `CREATE SCHEMA probe`, "permission denied for database", true},
		{"users", "creates a table in public", `CREATE TABLE public.probe (i int)`, "permission denied for schema public", true},
		{"orders", "becomes catalog", `SET ROLE catalog`, "permission denied to set role", true},
		{"orders", "becomes the superuser", `SET SESSION AUTHORIZATION postgres`, "permission denied to set session authorization", true},
	} {
		t.Run(tc.role+" "+tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := psqlAs(t, s, tc.role, rolePassword(t, tc.role), tc.sql)
			switch {
			case tc.fail && err == nil:
				t.Fatalf("%s: succeeded (%q); want %q", tc.sql, out, tc.want)
			case tc.fail && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("%s: %v; want %q", tc.sql, err, tc.want)
			case !tc.fail && err != nil:
				t.Fatalf("%s: %v", tc.sql, err)
			case !tc.fail && !strings.Contains(out, tc.want):
				t.Fatalf("%s = %q; want %q", tc.sql, out, tc.want)
			}
		})
	}
}

// No service role is a superuser or can create roles or databases, belongs
// to any other role, or can reach the server's files and programs.
func TestServiceRolesHoldNoPrivilege(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	for _, role := range serviceRoles {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			pw := rolePassword(t, role)
			out, err := psqlAs(t, s, role, pw, `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
				(SELECT count(*) FROM pg_auth_members WHERE member = r.oid)
				FROM pg_roles r WHERE rolname = current_user`)
			if err != nil {
				t.Fatal(err)
			}
			if out != "f|f|f|f|f|0" {
				t.Errorf("superuser|createrole|createdb|replication|bypassrls|memberships = %s, want f|f|f|f|f|0", out)
			}
			for _, tc := range []struct{ sql, want string }{
				{`CREATE ROLE probe LOGIN PASSWORD 'x'`, "permission denied to create role"},
				{`CREATE DATABASE probe`, "permission denied to create database"},
				{`ALTER ROLE ` + role + ` SUPERUSER`, "must be superuser"},
				{`ALTER ROLE ` + role + ` CONNECTION LIMIT -1`, "permission denied"},
				{`ALTER SYSTEM SET max_connections = 10000`, "permission denied to set parameter"},
				{`COPY (SELECT 1) TO PROGRAM 'id'`, "pg_execute_server_program"},
				{`SELECT pg_read_file('/etc/passwd')`, "permission denied for function pg_read_file"},
			} {
				if _, err := psqlAs(t, s, role, pw, tc.sql); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v; want a refusal %q", tc.sql, err, tc.want)
				}
			}
		})
	}
}

// Secrets reach containers only as files, each only where it is needed:
// no container's environment (which docker inspect shows) holds one, the
// superuser's password is mounted into PostgreSQL alone, and each service
// holds its own role's password, which opens only that role.
func TestSecretsAreFilesWhereNeeded(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	want := map[string][]string{ // service: the secrets mounted into it
		"postgres":          {"catalog_db_password", "exporter_db_password", "orders_db_password", "postgres_password", "replication_db_password", "users_db_password"},
		"catalog":           {"catalog_db_password", "internal_token", "redis_catalog_password"},
		"users":             {"admin_password", "internal_token", "users_db_password"},
		"orders":            {"internal_token", "orders_db_password"},
		"redis":             {"redis_catalog_password", "redis_exporter_password.json"},
		"prometheus":        {"internal_token"},
		"alertmanager":      {"smtp_password"},
		"postgres-exporter": {"exporter_db_password"},
		"redis-exporter":    {"redis_exporter_password.json"},
		"nginx":             nil,
		"nginx-exporter":    nil,
	}
	if slices.Contains(s.Services, "grafana") {
		want["grafana"] = []string{"grafana_admin_password"}
	}
	if slices.Contains(s.Services, "postgres-replica") { // the profile replica
		want["postgres-replica"] = want["postgres"]
		want["postgres-sync"] = []string{"postgres_password"}
		want["postgres-replica-exporter"] = []string{"exporter_db_password"}
	}
	for service, secrets := range want {
		var c struct {
			Config struct{ Env []string }
			Mounts []struct{ Source, Destination string }
		}
		dockerInspect(t, s, service, &c)
		var mounted []string
		for _, m := range c.Mounts {
			if strings.HasPrefix(m.Destination, "/run/secrets/") {
				mounted = append(mounted, filepath.Base(m.Source))
			}
		}
		slices.Sort(mounted)
		if !slices.Equal(mounted, secrets) {
			t.Errorf("%s has the secrets %v, want %v", service, mounted, secrets)
		}
		for _, kv := range c.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			for _, name := range secretNames(t) {
				if value := secret(t, name); strings.Contains(v, value) {
					t.Errorf("%s: the variable %s holds the secret %s", service, k, name)
				}
			}
		}
	}
	for _, role := range serviceRoles {
		env := containerEnv(t, s, role)
		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil {
			t.Errorf("%s: DATABASE_URL: %v", role, err)
			continue
		}
		if u.User.Username() != role {
			t.Errorf("%s connects as %q, want its own role", role, u.User.Username())
		}
		pw := rolePassword(t, role)
		if _, err := psqlAs(t, s, role, pw, `SELECT 1`); err != nil {
			t.Errorf("%s: its password does not connect: %v", role, err)
		}
		if _, err := psqlAs(t, s, "postgres", pw, `SELECT 1`); err == nil {
			t.Errorf("%s's password opens the superuser", role)
		}
	}
}

// Every pool of every replica fits in its role's connection limit, and the
// limits of all login roles together stay under max_connections minus the
// slots kept for the superuser: however far the services scale, PostgreSQL
// refuses a role's extra connections before it runs out of slots, so an
// operator can always get in.
func TestConnectionBudget(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	// docker-compose.yml sizes DB_MAX_CONNS for up to this many replicas.
	const maxReplicas = 3
	setting := func(name string) int {
		out, err := psqlAs(t, s, "catalog", rolePassword(t, "catalog"), "SHOW "+name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(out)
		if err != nil {
			t.Fatalf("%s = %q", name, out)
		}
		return n
	}
	maxConns, reserved := setting("max_connections"), setting("superuser_reserved_connections")
	out, err := psqlAs(t, s, "catalog", rolePassword(t, "catalog"),
		`SELECT rolname, rolconnlimit FROM pg_roles WHERE rolcanlogin AND NOT rolsuper ORDER BY rolname`)
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]int{}
	sum := 0
	for _, line := range strings.Split(out, "\n") {
		name, limit, _ := strings.Cut(line, "|")
		n, err := strconv.Atoi(limit)
		if err != nil {
			t.Fatalf("pg_roles line %q", line)
		}
		if n < 0 {
			t.Errorf("login role %s has no connection limit", name)
		}
		limits[name] = n
		sum += n
	}
	if sum+reserved > maxConns {
		t.Errorf("login roles may open %d connections, plus %d reserved for the superuser, over max_connections %d", sum, reserved, maxConns)
	}
	pools := 0
	for _, role := range serviceRoles {
		poolSize, err := strconv.Atoi(containerEnv(t, s, role)["DB_MAX_CONNS"])
		if err != nil {
			t.Fatalf("%s: DB_MAX_CONNS: %v", role, err)
		}
		n := serviceReplicas(t, s, role)
		pools += poolSize * n
		if poolSize*max(n, maxReplicas) > limits[role] {
			t.Errorf("%s: %d replicas x DB_MAX_CONNS %d exceed the role's connection limit %d", role, max(n, maxReplicas), poolSize, limits[role])
		}
	}
	if pools+reserved > maxConns {
		t.Errorf("the running pools may open %d connections, over max_connections %d less %d reserved", pools, maxConns, reserved)
	}
	t.Logf("max_connections %d (%d reserved), role limits %v (sum %d), running pools %d", maxConns, reserved, limits, sum, pools)
}
