// Package short decides what an end-to-end test does under go test -short,
// which runs only the tests that need no containers.
package short

import (
	"os"
	"testing"
)

// Skip skips tb under -short, naming what it needs. In CI (CI=true) it
// fails instead: a skipped test there would hide a failure.
func Skip(tb testing.TB, needs string) {
	tb.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("needs %s, but runs with -short in CI; run the end-to-end tests without -short", needs)
	}
	tb.Skipf("needs %s; -short runs only the offline tests", needs)
}
