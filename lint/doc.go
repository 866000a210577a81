// Package lint holds the checks that keep the repository's documents true
// to its configuration and code, without a running stack: README's
// configuration table against docker-compose.yml, docs/api.md against the
// services' OpenAPI documents, and PostgreSQL's connection budget across
// docker-compose files, db/init, scripts/backup.sh and docs/runbook.md.
// Its tests are the checks; make obs runs them.
package lint
