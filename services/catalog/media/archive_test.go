package media_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bazaar/catalog/media"
)

func TestExportImportRoundTrip(t *testing.T) {
	from := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	files := []string{"one", "two", "three"}
	for _, c := range files {
		if err := from.Put(context.Background(), file(c)); err != nil {
			t.Fatal(err)
		}
	}
	// A file being written is not part of the store.
	if err := os.WriteFile(filepath.Join(from.Dir, ".upload-1"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if n, err := from.Export(&archive); err != nil || n != len(files) {
		t.Fatalf("Export = %d, %v; want %d", n, err, len(files))
	}
	to := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	if n, err := to.Import(bytes.NewReader(archive.Bytes())); err != nil || n != len(files) {
		t.Fatalf("Import = %d, %v; want %d", n, err, len(files))
	}
	for _, c := range files {
		got, err := os.ReadFile(filepath.Join(to.Dir, filepath.FromSlash(file(c).Key)))
		if err != nil || string(got) != c {
			t.Errorf("%s: %q, %v", c, got, err)
		}
	}
	// Importing again keeps what is there.
	if n, err := to.Import(bytes.NewReader(archive.Bytes())); err != nil || n != len(files) {
		t.Errorf("second Import = %d, %v", n, err)
	}
}

func TestImportRefusesForeignEntries(t *testing.T) {
	good := file("good")
	for name, entry := range map[string]struct {
		name, body string
	}{
		"traversal":        {"../../etc/cron.d/x", "x"},
		"other name":       {"notes.txt", "x"},
		"content mismatch": {good.Key, "not the content the key names"},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			_ = tw.WriteHeader(&tar.Header{Name: entry.name, Mode: 0o644, Size: int64(len(entry.body)), Typeflag: tar.TypeReg})
			_, _ = tw.Write([]byte(entry.body))
			_ = tw.Close()
			dir := t.TempDir()
			_, err := (&media.Local{Dir: dir}).Import(&buf)
			if err == nil || !strings.Contains(err.Error(), "media: import") {
				t.Errorf("err = %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("stored %v", entries)
			}
		})
	}
}
