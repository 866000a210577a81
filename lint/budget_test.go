package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// backupConnections is what scripts/backup.sh holds at once, as the
// superuser: the psql session that keeps the snapshot open, and one pg_dump
// (or the psql asking a schema's owner) at a time, each with one connection
// because pg_dump runs without --jobs.
const backupConnections = 2

// devContainers is the most containers of one service the development
// stack runs at once (docker-compose.yml, the postgres command's comment):
// scaled to 3, or its one replica and the new container scripts/deploy.sh
// starts beside it.
const devContainers = 3

// TestConnectionBudgetLint checks PostgreSQL's connection budget in the
// configurations as docker compose renders them, development and
// production, without a stack. The role limits are what db/init (run
// against a psql that only answers the server's settings) gives each login
// role for that configuration's max_connections. Together they, the slots
// reserved for the superuser and a backup's connections must fit in
// max_connections; and each service's pools, with as many containers as it
// may run at once (scripts/deploy.sh doubles a service's replicas while it
// replaces them), must fit in its role's limit. TestConnectionBudget checks
// the limits a running stack's PostgreSQL really has.
func TestConnectionBudgetLint(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	backup, err := os.ReadFile(filepath.Join(root, "scripts", "backup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`--jobs|\s-j\s*[0-9]`).Match(backup) {
		t.Errorf("scripts/backup.sh runs pg_dump with several jobs: each takes a connection, update backupConnections")
	}
	prodReplicas := documentedMaxReplicas(t, root)

	for _, tc := range []struct {
		name  string
		files []string
		env   map[string]string // the .env
		// The most containers of a service started with --scale, outside
		// deploys; a deploy runs twice the configured replicas.
		scaled int
	}{
		{"development", []string{"docker-compose.yml"}, map[string]string{}, devContainers},
		{"production", []string{"docker-compose.yml", "docker-compose.prod.yml"}, map[string]string{
			// What deploy/install.sh writes into production's .env; compose
			// only renders, so the secrets folder may be empty.
			"COMPOSE_PROJECT_NAME": "bazaar",
			"APP_ENV":              "production",
			"BAZAAR_VERSION":       "budget",
			"DOMAINS":              "shop.example.com",
			"ACME_EMAIL":           "ops@example.com",
			"ADMIN_EMAIL":          "admin@example.com",
			"SECRETS_DIR":          t.TempDir(),
			"CATALOG_REPLICAS":     strconv.Itoa(prodReplicas),
			"USERS_REPLICAS":       strconv.Itoa(prodReplicas),
			"ORDERS_REPLICAS":      strconv.Itoa(prodReplicas),
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := renderCompose(t, root, tc.files, tc.env)
			pg, ok := cfg.Services["postgres"]
			if !ok {
				t.Fatal("no postgres service")
			}
			settings := postgresSettings(pg.Command)
			maxConns, err := strconv.Atoi(settings["max_connections"])
			if err != nil {
				t.Fatalf("the postgres command %q sets no max_connections", pg.Command)
			}
			superReserved := 3 // PostgreSQL's default
			if v, ok := settings["superuser_reserved_connections"]; ok {
				if superReserved, err = strconv.Atoi(v); err != nil {
					t.Fatalf("superuser_reserved_connections = %q", v)
				}
			}
			limits := initRoleLimits(t, root, maxConns, superReserved)
			reserved := superReserved
			if v, ok := settings["reserved_connections"]; ok { // PostgreSQL 16 and later
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("reserved_connections = %q", v)
				}
				reserved += n
			}
			sum := 0
			for role, limit := range limits {
				if limit < 0 {
					t.Errorf("db/init gives the login role %s no connection limit", role)
				}
				sum += limit
			}
			if sum+reserved+backupConnections > maxConns {
				t.Errorf("the login roles may open %d connections, plus %d reserved for the superuser and %d for a backup: %d, over max_connections %d",
					sum, reserved, backupConnections, sum+reserved+backupConnections, maxConns)
			}

			var pools []string
			for _, name := range slices.Sorted(maps.Keys(cfg.Services)) {
				svc := cfg.Services[name]
				role := ""
				if raw := svc.Environment["DATA_SOURCE_USER"]; raw != nil { // the exporter
					role = *raw
				}
				if raw := svc.Environment["DATABASE_URL"]; raw != nil {
					u, err := url.Parse(*raw)
					if err != nil {
						t.Errorf("%s: DATABASE_URL: %v", name, err)
						continue
					}
					role = u.User.Username()
				}
				if role == "" {
					continue
				}
				limit, ok := limits[role]
				if !ok {
					t.Errorf("%s connects as %q, which db/init does not create", name, role)
					continue
				}
				raw := svc.Environment["DB_MAX_CONNS"]
				if raw == nil {
					if svc.Environment["DATABASE_URL"] != nil {
						t.Errorf("%s sets no DB_MAX_CONNS", name)
					}
					continue
				}
				pool, err := strconv.Atoi(*raw)
				if err != nil || pool < 1 {
					t.Errorf("%s: DB_MAX_CONNS = %q", name, *raw)
					continue
				}
				replicas := 1
				if svc.Deploy != nil && svc.Deploy.Replicas != nil {
					replicas = *svc.Deploy.Replicas
				}
				if want := tc.env[strings.ToUpper(name)+"_REPLICAS"]; want != "" && strconv.Itoa(replicas) != want {
					t.Errorf("%s: %s_REPLICAS=%s renders %d replicas", name, strings.ToUpper(name), want, replicas)
				}
				containers, why := 2*replicas, fmt.Sprintf("%d replicas, doubled by a deploy", replicas)
				if tc.scaled > containers {
					containers, why = tc.scaled, fmt.Sprintf("scaled to %d", tc.scaled)
				}
				pools = append(pools, fmt.Sprintf("%s %d x %d = %d of %d", name, containers, pool, containers*pool, limit))
				if containers*pool > limit {
					t.Errorf("%s: %d containers (%s) x DB_MAX_CONNS %d = %d, over the %s role's connection limit %d",
						name, containers, why, pool, containers*pool, role, limit)
				}
			}
			if len(pools) < 3 {
				t.Errorf("found the pools of %d services (%v); want catalog, users and orders", len(pools), pools)
			}
			t.Logf("max_connections %d = role limits %v (sum %d) + %d reserved + %d for a backup + %d spare; pools at their most: %s",
				maxConns, limits, sum, reserved, backupConnections, maxConns-sum-reserved-backupConnections, strings.Join(pools, ", "))
		})
	}
}

// budgetConfig is the part of `docker compose config --format json` the
// budget needs.
type budgetConfig struct {
	Services map[string]struct {
		Command     []string           `json:"command"`
		Environment map[string]*string `json:"environment"`
		Deploy      *struct {
			Replicas *int `json:"replicas"`
		} `json:"deploy"`
	} `json:"services"`
}

// renderCompose renders the compose files (relative to root) as docker
// compose does, merges and !override included, with env as the .env and
// nothing from this process's environment but what docker itself needs.
func renderCompose(t *testing.T, root string, files []string, env map[string]string) budgetConfig {
	t.Helper()
	var dotenv strings.Builder
	for k, v := range env {
		fmt.Fprintf(&dotenv, "%s=%s\n", k, v)
	}
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte(dotenv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"compose", "--env-file", envFile}
	for _, f := range files {
		args = append(args, "-f", filepath.Join(root, f))
	}
	cmd := exec.Command("docker", append(args, "config", "--format", "json")...)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "HOME" || k == "TMPDIR" || strings.HasPrefix(k, "DOCKER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(stderr.String()))
	}
	var cfg budgetConfig
	if err := json.Unmarshal(stdout.Bytes(), &cfg); err != nil {
		t.Fatalf("docker compose config: %v", err)
	}
	return cfg
}

// postgresSettings returns the settings a postgres command line sets
// (-c name=value, -cname=value, --name=value).
func postgresSettings(command []string) map[string]string {
	settings := map[string]string{}
	for i := 0; i < len(command); i++ {
		arg := command[i]
		switch {
		case arg == "-c" && i+1 < len(command):
			i++
			arg = command[i]
		case strings.HasPrefix(arg, "-c"):
			arg = arg[2:]
		case strings.HasPrefix(arg, "--"):
			arg = strings.ReplaceAll(arg[2:], "-", "_")
		default:
			continue
		}
		if k, v, ok := strings.Cut(arg, "="); ok {
			settings[k] = v
		}
	}
	return settings
}

// stubPSQL stands in for psql when db/init runs in a test: it answers
// `-c 'SHOW name'` with $PG_name and records every other call (its
// arguments, then the SQL on its standard input) in $PSQL_LOG.
const stubPSQL = `#!/usr/bin/env bash
shown=
for arg; do
	case $arg in
	'SHOW '*) name=PG_${arg#SHOW }; printf '%s\n' "${!name:?psql stub: no $name}"; shown=1 ;;
	esac
done
[ -z "$shown" ] || exit 0
{ printf 'ARG %s\n' "$@"; cat; } >>"$PSQL_LOG"
`

// initRoleLimits runs db/init/10-service-schemas.sh as PostgreSQL would on a
// new data directory of a server with these settings, against a stub psql,
// and returns the connection limit of each login role it creates (-1: none).
func initRoleLimits(t *testing.T, root string, maxConns, reserved int) map[string]int {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "psql"), []byte(stubPSQL), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "psql.log")
	cmd := exec.Command("bash", filepath.Join(root, "db", "init", "10-service-schemas.sh"))
	cmd.Env = []string{
		"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PSQL_LOG=" + log,
		"PG_max_connections=" + strconv.Itoa(maxConns),
		"PG_superuser_reserved_connections=" + strconv.Itoa(reserved),
		"POSTGRES_USER=postgres", "POSTGRES_DB=bazaar",
		"CATALOG_DB_PASSWORD=p", "USERS_DB_PASSWORD=p", "ORDERS_DB_PASSWORD=p", "EXPORTER_DB_PASSWORD=p",
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db/init with max_connections %d: %v: %s", maxConns, err, out)
	}
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("db/init ran no SQL: %v", err)
	}
	// psql's variables (-v name=value), then the SQL with :name replaced.
	vars := map[string]string{}
	var sql strings.Builder
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		arg, isArg := strings.CutPrefix(lines[i], "ARG ")
		if !isArg {
			sql.WriteString(lines[i] + "\n")
			continue
		}
		switch {
		case (arg == "-v" || arg == "--set" || arg == "--variable") && i+1 < len(lines):
			i++
			arg = strings.TrimPrefix(lines[i], "ARG ")
		case strings.HasPrefix(arg, "--set="), strings.HasPrefix(arg, "--variable="):
			_, arg, _ = strings.Cut(arg, "=")
		case strings.HasPrefix(arg, "-v"):
			arg = arg[2:]
		default:
			continue
		}
		if k, v, ok := strings.Cut(arg, "="); ok {
			vars[k] = v
		}
	}
	text := regexp.MustCompile(`(^|[^:]):([A-Za-z_][A-Za-z0-9_]*)`).ReplaceAllStringFunc(sql.String(), func(m string) string {
		i := strings.LastIndex(m, ":")
		if v, ok := vars[m[i+1:]]; ok {
			return m[:i] + v
		}
		return m
	})

	limits := map[string]int{}
	login := regexp.MustCompile(`(?i)\bLOGIN\b`)
	limit := regexp.MustCompile(`(?i)\bCONNECTION\s+LIMIT\s+(-?[0-9]+)`)
	for _, m := range regexp.MustCompile(`(?is)\b(CREATE|ALTER)\s+(ROLE|USER)\s+(\w+)([^;]*);`).FindAllStringSubmatch(text, -1) {
		verb, kind, role, options := strings.ToUpper(m[1]), strings.ToUpper(m[2]), m[3], m[4]
		if verb == "CREATE" && (kind == "USER" || login.MatchString(options)) {
			limits[role] = -1
		}
		if l := limit.FindStringSubmatch(options); l != nil {
			if _, isLogin := limits[role]; isLogin {
				limits[role], _ = strconv.Atoi(l[1])
			}
		}
	}
	if len(limits) == 0 {
		t.Fatalf("db/init creates no login role; its SQL:\n%s", text)
	}
	return limits
}

// documentedMaxReplicas is the most replicas docs/runbook.md ("Scale a
// service") allows a production service.
func documentedMaxReplicas(t *testing.T, root string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Scale a service\n")
	if !ok {
		t.Fatal(`docs/runbook.md has no "Scale a service" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	m := regexp.MustCompile(`(?i)at\s+most\s+([0-9]+)\s+containers\s+(?:of\s+a|per)\s+service`).FindStringSubmatch(section)
	if m == nil {
		t.Fatal(`docs/runbook.md, "Scale a service", no longer says "at most N containers per service"`)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
