package lint

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigurationLint keeps README's configuration table true: every
// variable it lists is read by docker-compose.yml, so that setting it in
// .env reaches the containers.
func TestConfigurationLint(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var vars [][]string
	for _, line := range strings.Split(table, "\n") {
		if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |"); ok && strings.HasPrefix(line, "| `") {
			vars = append(vars, regexp.MustCompile("`([A-Z][A-Z0-9_]*)`").FindAllStringSubmatch(first, -1)...)
		}
	}
	if len(vars) < 10 {
		t.Fatalf("found %d variables in README's configuration table: the parser is wrong", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(compose), "${"+v[1]) {
			t.Errorf("README lists %s, which docker-compose.yml does not pass to any container", v[1])
		}
	}
}
