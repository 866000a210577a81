package media_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/media"
)

// file returns an ImageFile whose key names its content, as imaging makes.
func file(content string) catalog.ImageFile {
	sum := sha256.Sum256([]byte(content))
	h := hex.EncodeToString(sum[:])
	return catalog.ImageFile{Key: h[:2] + "/" + h + ".jpg", ContentType: "image/jpeg", Data: []byte(content)}
}

func TestLocalPutWritesReadableFiles(t *testing.T) {
	dir := t.TempDir()
	s := &media.Local{Dir: dir, BaseURL: "/media/"}
	f := file("pixels")
	for range 2 { // the second Put finds the file and leaves it
		if err := s.Put(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, filepath.FromSlash(f.Key))
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "pixels" {
		t.Fatalf("read back %q, %v", got, err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm()&0o004 == 0 {
		t.Errorf("mode %v: the edge's user cannot read it", info.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d entries next to the file, want 1 (no temporary files left)", len(entries))
	}
	if u := s.URL(f.Key); u != "/media/"+f.Key {
		t.Errorf("URL = %s", u)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestLocalPutRefusesOtherKeys(t *testing.T) {
	s := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	for _, key := range []string{"../etc/passwd", "ab/../../x.jpg", "/abs.jpg", "ab/cd.jpg", ""} {
		if err := s.Put(context.Background(), catalog.ImageFile{Key: key, Data: []byte("x")}); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
	}
}
