// Package e2e drives the whole Bazaar stack — the project's own
// docker-compose.yml, started through testcontainers-go's compose module —
// from outside, through nginx only, as a user would.
//
// One stack serves every test of this package; it is removed, volumes and
// all, when the tests end, also when they fail.
package e2e
