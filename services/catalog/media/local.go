// Package media keeps image files where clients can fetch them: in a local
// folder that nginx serves (Local), or in an S3-compatible bucket. Files are
// named by their content, written once and never overwritten.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

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

var _ Store = (*Local)(nil)

// path returns where key's file is, once the key is checked.
func (l *Local) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, filepath.FromSlash(key)), nil
}

// Put writes f under its key. When a file is there already (the key names
// the content, so it is the same file), it is only touched. The file
// appears whole or not at all (a temporary file, synced, then renamed),
// readable by the edge's user.
func (l *Local) Put(ctx context.Context, f catalog.ImageFile) error {
	path, err := l.path(f.Key)
	if err != nil {
		return err
	}
	if err := l.Touch(ctx, f.Key); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
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

// Touch sets the modification time of key's file to now.
func (l *Local) Touch(_ context.Context, key string) error {
	path, err := l.path(key)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		return fmt.Errorf("media: %w", err)
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

// ListFiles returns every file of Dir named by a key, with its
// modification time; files being written (dot files) are not.
func (l *Local) ListFiles(context.Context) ([]catalog.MediaFile, error) {
	var files []catalog.MediaFile
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
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the folder was read
		}
		if err != nil {
			return err
		}
		files = append(files, catalog.MediaFile{Key: key, Written: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("media: list: %w", err)
	}
	return files, nil
}

// StatFile returns key's file with its modification time.
func (l *Local) StatFile(_ context.Context, key string) (catalog.MediaFile, error) {
	path, err := l.path(key)
	if err != nil {
		return catalog.MediaFile{}, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return catalog.MediaFile{}, fmt.Errorf("media: %w", err)
	}
	return catalog.MediaFile{Key: key, Written: info.ModTime()}, nil
}

// Open returns key's content.
func (l *Local) Open(_ context.Context, key string) (io.ReadCloser, error) {
	path, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return f, nil
}

// DeleteFile removes key's file; its folder stays.
func (l *Local) DeleteFile(_ context.Context, key string) error {
	path, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}
