// Package media keeps image files where clients can fetch them: in a local
// folder that nginx serves (Local), or in an S3-compatible bucket. Files are
// named by their content, written once and never overwritten.
package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"bazaar/catalog"
)

// keyPattern is the shape of the keys imaging makes: a two-character folder,
// the SHA-256 of the content, its extension. Nothing else is ever written,
// so no key can leave the store's folder or prefix.
var keyPattern = regexp.MustCompile(`^[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png)$`)

func checkKey(key string) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("media: invalid key %q", key)
	}
	return nil
}

// Local stores files in a folder that the edge serves at BaseURL.
type Local struct {
	// Dir is the folder, e.g. /media.
	Dir string
	// BaseURL is where the edge serves Dir, e.g. /media/.
	BaseURL string
}

var _ catalog.MediaStore = (*Local)(nil)

// Put writes f under its key, unless a file is there already: the key names
// the content, so it is the same file. The file appears whole or not at all
// (a temporary file, synced, then renamed), readable by the edge's user.
func (l *Local) Put(_ context.Context, f catalog.ImageFile) error {
	if err := checkKey(f.Key); err != nil {
		return err
	}
	path := filepath.Join(l.Dir, filepath.FromSlash(f.Key))
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(f.Data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("media: write %s: %w", f.Key, err)
	}
	return nil
}

// URL returns where clients fetch key.
func (l *Local) URL(key string) string {
	return l.BaseURL + key
}

// Check reports whether Dir can be written, for readiness.
func (l *Local) Check(context.Context) error {
	tmp, err := os.CreateTemp(l.Dir, ".check-*")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}
