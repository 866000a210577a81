package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
)

// fakeFiles is a media store's files: key → time last written.
type fakeFiles struct {
	mu      sync.Mutex
	written map[string]time.Time
	// failDelete names a key whose delete fails.
	failDelete string
	// listErr fails ListFiles.
	listErr error
}

func (f *fakeFiles) ListFiles(context.Context) ([]catalog.MediaFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []catalog.MediaFile
	for k, t := range f.written {
		out = append(out, catalog.MediaFile{Key: k, Written: t})
	}
	return out, nil
}

func (f *fakeFiles) StatFile(_ context.Context, key string) (catalog.MediaFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.written[key]
	if !ok {
		return catalog.MediaFile{}, fmt.Errorf("no %s: %w", key, fs.ErrNotExist)
	}
	return catalog.MediaFile{Key: key, Written: t}, nil
}

func (f *fakeFiles) DeleteFile(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if key == f.failDelete {
		return errors.New("disk on fire")
	}
	delete(f.written, key)
	return nil
}

func (f *fakeFiles) set(key string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written[key] = t
}

func (f *fakeFiles) remove(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.written, key)
}

func (f *fakeFiles) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.written))
	for k := range f.written {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// fakeReferences answers keys; before, when set, runs first, as what
// happens between the collector's listing and its reading of the rows.
type fakeReferences struct {
	keys   []string
	err    error
	before func()
}

func (r *fakeReferences) ReferencedMediaKeys(context.Context) ([]string, error) {
	if r.before != nil {
		r.before()
	}
	return r.keys, r.err
}

func TestMediaCollectorRunOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	old := now.Add(-8 * 24 * time.Hour)
	young := now.Add(-6 * 24 * time.Hour)
	for _, tc := range []struct {
		name     string
		files    map[string]time.Time
		refs     fakeReferences
		setup    func(files *fakeFiles, refs *fakeReferences)
		want     []string // the keys left
		wantErr  string
		wantLogs string
	}{{
		name:     "unreferenced and old: deleted",
		files:    map[string]time.Time{"aa/old.jpg": old, "bb/named.jpg": old, "cc/named.jpg": young, "dd/young.jpg": young},
		refs:     fakeReferences{keys: []string{"bb/named.jpg", "cc/named.jpg", "zz/missing.jpg"}},
		want:     []string{"bb/named.jpg", "cc/named.jpg", "dd/young.jpg"},
		wantLogs: "kept=3 deleted=1 failed=0",
	}, {
		name:  "just older than the retention: deleted",
		files: map[string]time.Time{"aa/edge.jpg": now.Add(-catalog.DefaultMediaRetention - time.Second), "bb/edge.jpg": now.Add(-catalog.DefaultMediaRetention + time.Second)},
		want:  []string{"bb/edge.jpg"},
	}, {
		// An upload of the same content between the listing and the
		// delete writes the file's time again: it stays.
		name:  "written again since the listing: kept",
		files: map[string]time.Time{"aa/reused.jpg": old, "bb/old.jpg": old},
		setup: func(files *fakeFiles, refs *fakeReferences) {
			refs.before = func() { files.set("aa/reused.jpg", now) }
		},
		want:     []string{"aa/reused.jpg"},
		wantLogs: "kept=1 deleted=1 failed=0",
	}, {
		name:  "collected by another replica since the listing: no error",
		files: map[string]time.Time{"aa/gone.jpg": old},
		setup: func(files *fakeFiles, refs *fakeReferences) {
			refs.before = func() { files.remove("aa/gone.jpg") }
		},
		want: []string{},
	}, {
		name:  "a failed delete: the others still go, the round fails",
		files: map[string]time.Time{"aa/stuck.jpg": old, "bb/old.jpg": old},
		setup: func(files *fakeFiles, refs *fakeReferences) {
			files.failDelete = "aa/stuck.jpg"
		},
		want:     []string{"aa/stuck.jpg"},
		wantErr:  "disk on fire",
		wantLogs: "kept=0 deleted=1 failed=1",
	}, {
		name:    "the rows cannot be read: nothing deleted",
		files:   map[string]time.Time{"aa/old.jpg": old},
		refs:    fakeReferences{err: errors.New("database gone")},
		want:    []string{"aa/old.jpg"},
		wantErr: "database gone",
	}, {
		name:  "the store cannot be listed: nothing deleted",
		files: map[string]time.Time{"aa/old.jpg": old},
		setup: func(files *fakeFiles, refs *fakeReferences) {
			files.listErr = errors.New("bucket gone")
		},
		want:    []string{"aa/old.jpg"},
		wantErr: "bucket gone",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := &fakeFiles{written: tc.files}
			refs := tc.refs
			if tc.setup != nil {
				tc.setup(files, &refs)
			}
			var logs bytes.Buffer
			c := catalog.NewMediaCollector(catalog.MediaCollectorConfig{
				Files: files, References: &refs, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Interval: time.Hour, Retention: catalog.DefaultMediaRetention, Now: func() time.Time { return now },
			})
			err := c.RunOnce(context.Background())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("RunOnce = %v, want an error saying %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, files.keys()); diff != "" {
				t.Errorf("files left (-want +got):\n%s", diff)
			}
			if !strings.Contains(logs.String(), tc.wantLogs) {
				t.Errorf("logs %q, want them to say %q", logs.String(), tc.wantLogs)
			}
		})
	}
}

// Run collects each interval, logs a failed round and goes on, and returns
// when its context ends.
func TestMediaCollectorRuns(t *testing.T) {
	t.Parallel()
	now := time.Now()
	files := &fakeFiles{written: map[string]time.Time{}}
	var rounds sync.WaitGroup
	rounds.Add(3)
	var once sync.Mutex
	n := 0
	refs := &fakeReferences{err: errors.New("database gone"), before: func() {
		once.Lock()
		defer once.Unlock()
		if n++; n <= 3 {
			rounds.Done()
		}
	}}
	var logs bytes.Buffer // read once Run has returned
	c := catalog.NewMediaCollector(catalog.MediaCollectorConfig{
		Files: files, References: refs, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Interval: 10 * time.Millisecond, Retention: time.Hour, Now: func() time.Time { return now },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	three := make(chan struct{})
	go func() { rounds.Wait(); close(three) }()
	select {
	case <-three:
	case <-time.After(5 * time.Second):
		t.Error("fewer than 3 rounds in 5s")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(logs.String(), "database gone") {
		t.Errorf("the failed round was not logged: %q", logs.String())
	}
}
