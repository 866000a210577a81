package media

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"bazaar/catalog"
)

// maxFileBytes bounds one file of an archive: the processed images are far
// smaller than an upload.
const maxFileBytes = catalog.MaxImageBytes

// Export writes every file of the store to w as a tar stream whose entry
// names are the files' keys, and returns how many it wrote. Files being
// written (dot files) are left out. Keys name content and files never
// change, so a copy taken while uploads go on holds every file that a
// database snapshot taken before it names.
func (l *Local) Export(w io.Writer) (int, error) {
	tw := tar.NewWriter(w)
	n := 0
	err := filepath.WalkDir(l.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(l.Dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() || checkKey(key) != nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: key, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return n, fmt.Errorf("media: export: %w", err)
	}
	return n, nil
}

// Import stores the files of a tar stream that Export wrote and returns how
// many it read. Every entry must be a file named by a key whose hash is its
// content's: anything else stops the import with an error (the files stored
// until then are valid ones). Files already there are kept.
func (l *Local) Import(r io.Reader) (int, error) {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("media: import: %w", err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		key := strings.TrimPrefix(path.Clean(h.Name), "media/")
		if h.Typeflag != tar.TypeReg || checkKey(key) != nil || h.Size > maxFileBytes {
			return n, fmt.Errorf("media: import: %q is not an image file of this store", h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxFileBytes+1))
		if err != nil {
			return n, fmt.Errorf("media: import %s: %w", key, err)
		}
		sum := sha256.Sum256(data)
		if name := path.Base(key); name[:len(name)-len(path.Ext(name))] != hex.EncodeToString(sum[:]) {
			return n, fmt.Errorf("media: import: %s does not hold the content its name says", key)
		}
		ct := "image/jpeg"
		if path.Ext(key) == ".png" {
			ct = "image/png"
		}
		if err := l.Put(context.Background(), catalog.ImageFile{Key: key, ContentType: ct, Data: data}); err != nil {
			return n, err
		}
		n++
	}
}
