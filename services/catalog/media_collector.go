package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"bazaar/platform/schedule"
)

// DefaultMediaRetention is how long an image file that no product names is
// kept after it was last written: a week.
const DefaultMediaRetention = 7 * 24 * time.Hour

// MediaFile is a stored image file: its key, and when it was last written
// (MediaStore: a Put, also of a file that is there already, or a Touch).
type MediaFile struct {
	Key     string
	Written time.Time
}

// MediaFiles lists and deletes the files of a MediaStore.
type MediaFiles interface {
	// ListFiles returns every file of the store.
	ListFiles(ctx context.Context) ([]MediaFile, error)
	// StatFile returns key's file, or an error wrapping fs.ErrNotExist.
	StatFile(ctx context.Context, key string) (MediaFile, error)
	// DeleteFile removes key's file; a file that is not there is no error.
	DeleteFile(ctx context.Context, key string) error
}

// MediaKey returns the key of the file at url: its last two segments
// (MediaStore.URL ends with the key). A URL made under another base URL or
// store still names the same key.
func MediaKey(url string) string {
	i := strings.LastIndex(url, "/")
	if i <= 0 {
		return url
	}
	if j := strings.LastIndex(url[:i], "/"); j >= 0 {
		return url[j+1:]
	}
	return url
}

// MediaReferences says which image files the catalog names.
type MediaReferences interface {
	// ReferencedMediaKeys returns the key (MediaKey) of every image file
	// that a product row names, the soft-deleted ones' included.
	ReferencedMediaKeys(ctx context.Context) ([]string, error)
}

// MediaCollectorConfig holds what a MediaCollector depends on and its
// timing.
type MediaCollectorConfig struct {
	Files      MediaFiles
	References MediaReferences
	Logger     *slog.Logger
	// Interval is the time between two rounds.
	Interval time.Duration
	// Retention is how long a file no product names is kept after it was
	// last written. Rows are not all a file's readers: cached API answers
	// and pages, CDN copies, and a database backup restored later may
	// still name it. It must stay well above every cache's lifetime.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MediaCollector deletes the image files that no product names once their
// time is older than Retention. A file's time is when it was last written
// (MediaStore), and the Service writes it again when a product stops
// showing the file, so Retention counts from the later of its upload and
// the last time a product let it go. Several replicas may run one
// each: deletes are idempotent.
//
// An upload of content whose file is there already writes its time again
// (MediaStore.Put), and the collector reads a file's time once more right
// before deleting it, so a file that an upload has just made current again
// stays, though the round read the product rows before that upload named
// it.
type MediaCollector struct {
	cfg MediaCollectorConfig
}

// NewMediaCollector returns a MediaCollector over cfg's dependencies.
func NewMediaCollector(cfg MediaCollectorConfig) *MediaCollector {
	return &MediaCollector{cfg: cfg}
}

// Run collects a round every Interval until ctx ends.
func (c *MediaCollector) Run(ctx context.Context) {
	schedule.Every(ctx, c.cfg.Interval, c.RunOnce, c.cfg.Logger, "collecting unused product image files")
}

// RunOnce runs one round: it lists the files, then reads which keys the
// products name, and deletes the files that none names and that were last
// written before Retention ago. It logs how many files it kept and deleted.
func (c *MediaCollector) RunOnce(ctx context.Context) error {
	now := time.Now
	if c.cfg.Now != nil {
		now = c.cfg.Now
	}
	// Listed before the rows are read: a file written after the listing
	// is not looked at, whatever the rows say.
	files, err := c.cfg.Files.ListFiles(ctx)
	if err != nil {
		return fmt.Errorf("collect media: %w", err)
	}
	keys, err := c.cfg.References.ReferencedMediaKeys(ctx)
	if err != nil {
		return fmt.Errorf("collect media: %w", err)
	}
	referenced := make(map[string]bool, len(keys))
	for _, k := range keys {
		referenced[k] = true
	}
	cutoff := now().Add(-c.cfg.Retention)
	kept, deleted := 0, 0
	var errs []error
	for _, f := range files {
		if referenced[f.Key] || f.Written.After(cutoff) {
			kept++
			continue
		}
		// An upload may have written the file again since the listing.
		current, err := c.cfg.Files.StatFile(ctx, f.Key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Another replica collected it.
		case err != nil:
			errs = append(errs, fmt.Errorf("collect media %s: %w", f.Key, err))
		case current.Written.After(cutoff):
			kept++
		default:
			if err := c.cfg.Files.DeleteFile(ctx, f.Key); err != nil {
				errs = append(errs, fmt.Errorf("collect media %s: %w", f.Key, err))
				continue
			}
			deleted++
			c.cfg.Logger.DebugContext(ctx, "deleted an unused product image file", "key", f.Key, "written", current.Written)
		}
	}
	c.cfg.Logger.InfoContext(ctx, "collected unused product image files",
		"kept", kept, "deleted", deleted, "failed", len(errs), "retention", c.cfg.Retention.String())
	return errors.Join(errs...)
}
