package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          int64
		ok            bool
	}{
		{"limit", "268435456\n", 268435456, true},
		{"no limit (v2)", "max\n", 0, false},
		{"no limit (v1)", "9223372036854771712\n", 9223372036854771712, false},
		{"garbage", "lots\n", 0, false},
	} {
		file := filepath.Join(dir, tc.name)
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, ok := containerMemoryLimit(file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := containerMemoryLimit(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file gave a limit")
	}
}
