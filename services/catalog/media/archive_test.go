package media_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bazaar/catalog/media"
)

func TestExportImportRoundTrip(t *testing.T) {
	from := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	// A file being written is not part of the store.
	if err := os.WriteFile(filepath.Join(from.Dir, ".upload-1"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	to := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	archiveRoundTrip(t, from, to, func(t *testing.T, key string) ([]byte, string, string, bool) {
		data, err := os.ReadFile(filepath.Join(to.Dir, filepath.FromSlash(key)))
		return data, "", "", err == nil
	})
}

// archiveRoundTrip puts files into from, exports it and imports the
// archive into to, whose files read reads, twice.
func archiveRoundTrip(t *testing.T, from, to media.Store, read stored) {
	t.Helper()
	ctx := context.Background()
	files := []string{"archive: one", "archive: two", "archive: three"}
	for _, c := range files {
		if err := from.Put(ctx, file(c)); err != nil {
			t.Fatal(err)
		}
	}
	var archive bytes.Buffer
	if n, err := media.Export(ctx, from, &archive); err != nil || n != len(files) {
		t.Fatalf("Export = %d, %v; want %d", n, err, len(files))
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(archive.Bytes()))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	for _, c := range files {
		if !slices.Contains(names, file(c).Key) {
			t.Errorf("the archive has %v, not %s", names, file(c).Key)
		}
	}
	if n, err := media.Import(ctx, to, bytes.NewReader(archive.Bytes())); err != nil || n != len(files) {
		t.Fatalf("Import = %d, %v; want %d", n, err, len(files))
	}
	for _, c := range files {
		if data, _, _, ok := read(t, file(c).Key); !ok || string(data) != c {
			t.Errorf("%s: read back %q (found %v)", c, data, ok)
		}
	}
	// Importing again keeps what is there.
	if n, err := media.Import(ctx, to, bytes.NewReader(archive.Bytes())); err != nil || n != len(files) {
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
			_, err := media.Import(context.Background(), &media.Local{Dir: dir}, &buf)
			if err == nil || !strings.Contains(err.Error(), "media: import") {
				t.Errorf("err = %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("stored %v", entries)
			}
		})
	}
}
