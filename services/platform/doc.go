// Package platform is the plumbing every Bazaar service shares: configuration,
// logging, the HTTP server with problem+json errors and metrics, the
// PostgreSQL pool with migrations, and access-token verification.
//
// It holds no domain logic; each service's own module owns its domain.
package platform
