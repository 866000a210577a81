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
	"path"
	"strings"

	"bazaar/catalog"
)

// maxFileBytes bounds one file of an archive: the processed images are far
// smaller than an upload.
const maxFileBytes = catalog.MaxImageBytes

// Store is a catalog.MediaStore whose files can be listed, read and
// deleted: Local and S3. Export and Import work on any.
type Store interface {
	catalog.MediaStore
	catalog.MediaFiles
	// Open returns key's content.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Check reports whether the store can be written (readiness).
	Check(ctx context.Context) error
}

// Export writes every file of s to w as a tar stream whose entry names are
// the files' keys, and returns how many it wrote. Keys name content and
// files never change, so a copy taken while uploads go on holds every file
// that a database snapshot taken before it names.
func Export(ctx context.Context, s Store, w io.Writer) (int, error) {
	files, err := s.ListFiles(ctx)
	if err != nil {
		return 0, fmt.Errorf("media: export: %w", err)
	}
	tw := tar.NewWriter(w)
	n := 0
	for _, f := range files {
		data, err := read(ctx, s, f.Key)
		if errors.Is(err, fs.ErrNotExist) {
			continue // collected since the listing: no row names it
		}
		if err != nil {
			return n, fmt.Errorf("media: export: %w", err)
		}
		h := &tar.Header{Name: f.Key, Mode: 0o644, Size: int64(len(data)), ModTime: f.Written, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return n, fmt.Errorf("media: export: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return n, fmt.Errorf("media: export: %w", err)
		}
		n++
	}
	if err := tw.Close(); err != nil {
		return n, fmt.Errorf("media: export: %w", err)
	}
	return n, nil
}

// read returns key's content, refusing more than maxFileBytes.
func read(ctx context.Context, s Store, key string) ([]byte, error) {
	r, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s has more than %d bytes", key, maxFileBytes)
	}
	return data, nil
}

// Import stores the files of a tar stream that Export wrote into s and
// returns how many it read. Every entry must be a file named by a key whose
// hash is its content's: anything else stops the import with an error (the
// files stored until then are valid ones). Files already there are kept,
// and their time is set to now (MediaStore.Put), so that the collector
// leaves every imported file for its retention whatever the rows say.
func Import(ctx context.Context, s Store, r io.Reader) (int, error) {
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
		if err := s.Put(ctx, catalog.ImageFile{Key: key, ContentType: contentType(key), Data: data}); err != nil {
			return n, err
		}
		n++
	}
}

// contentType returns the media type of a key's file, by its extension.
func contentType(key string) string {
	if path.Ext(key) == ".png" {
		return "image/png"
	}
	return "image/jpeg"
}
