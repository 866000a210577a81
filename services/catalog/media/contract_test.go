package media_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"bazaar/catalog"
	"bazaar/catalog/media"
)

// stored reads back what a store holds under a key: its content, and the
// Content-Type and Cache-Control clients get ("" where the store leaves
// them to the server in front of it).
type stored func(t *testing.T, key string) (data []byte, contentType, cacheControl string, ok bool)

// storeContract runs the cases every media.Store must pass.
func storeContract(t *testing.T, s media.Store, read stored, wantCacheControl string) {
	ctx := context.Background()
	t.Run("PutThenRead", func(t *testing.T) {
		f := file("contract: put then read")
		if err := s.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
		data, ct, cc, ok := read(t, f.Key)
		if !ok || string(data) != string(f.Data) {
			t.Fatalf("read back %q (found %v), want %q", data, ok, f.Data)
		}
		if wantCacheControl != "" && (ct != f.ContentType || cc != wantCacheControl) {
			t.Errorf("Content-Type %q, Cache-Control %q; want %q, %q", ct, cc, f.ContentType, wantCacheControl)
		}
	})
	t.Run("PutTwiceKeepsTheFile", func(t *testing.T) {
		f := file("contract: twice")
		for range 2 {
			if err := s.Put(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		if data, _, _, ok := read(t, f.Key); !ok || string(data) != string(f.Data) {
			t.Errorf("read back %q", data)
		}
	})
	t.Run("RefusesForeignKeys", func(t *testing.T) {
		for _, key := range []string{"../x.jpg", "ab/cd.jpg", "", "/etc/passwd"} {
			if err := s.Put(ctx, catalog.ImageFile{Key: key, ContentType: "image/jpeg", Data: []byte("x")}); err == nil {
				t.Errorf("Put(%q) succeeded", key)
			}
		}
	})
	t.Run("ListStatOpenDelete", func(t *testing.T) {
		f := file("contract: list, stat, open, delete")
		before := time.Now()
		if err := s.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		written, ok := listed(t, s, f.Key)
		// S3 keeps whole seconds.
		if !ok || written.Before(before.Add(-time.Second)) || written.After(after.Add(time.Second)) {
			t.Fatalf("ListFiles: %s at %v (found %v), want a time from %v to %v", f.Key, written, ok, before, after)
		}
		if st, err := s.StatFile(ctx, f.Key); err != nil || !st.Written.Equal(written) || st.Key != f.Key {
			t.Errorf("StatFile = %+v, %v; want the listed time %v", st, err, written)
		}
		r, err := s.Open(ctx, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(data) != string(f.Data) {
			t.Errorf("Open read %q, %v", data, err)
		}
		for range 2 { // deleting what is gone is no error
			if err := s.DeleteFile(ctx, f.Key); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.StatFile(ctx, f.Key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("StatFile after DeleteFile = %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Open(ctx, f.Key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open after DeleteFile = %v, want fs.ErrNotExist", err)
		}
		if err := s.Touch(ctx, f.Key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Touch after DeleteFile = %v, want fs.ErrNotExist", err)
		}
		if _, ok := listed(t, s, f.Key); ok {
			t.Error("ListFiles still lists a deleted file")
		}
		if _, _, _, ok := read(t, f.Key); ok {
			t.Error("the deleted file can still be read")
		}
	})
	for name, again := range map[string]func(f catalog.ImageFile) error{
		"PutAgainWritesTheTime": func(f catalog.ImageFile) error { return s.Put(ctx, f) },
		"TouchWritesTheTime":    func(f catalog.ImageFile) error { return s.Touch(ctx, f.Key) },
	} {
		t.Run(name, func(t *testing.T) {
			f := file("contract: " + name)
			if err := s.Put(ctx, f); err != nil {
				t.Fatal(err)
			}
			first, err := s.StatFile(ctx, f.Key)
			if err != nil {
				t.Fatal(err)
			}
			// S3 keeps whole seconds: the clock must pass the next one.
			time.Sleep(time.Until(first.Written.Add(1100 * time.Millisecond)))
			if err := again(f); err != nil {
				t.Fatal(err)
			}
			second, err := s.StatFile(ctx, f.Key)
			if err != nil || !second.Written.After(first.Written) {
				t.Errorf("written %v, then %v (%v); want a later time", first.Written, second.Written, err)
			}
			data, ct, cc, ok := read(t, f.Key)
			if !ok || string(data) != string(f.Data) {
				t.Errorf("read back %q", data)
			}
			if wantCacheControl != "" && (ct != f.ContentType || cc != wantCacheControl) {
				t.Errorf("Content-Type %q, Cache-Control %q; want %q, %q", ct, cc, f.ContentType, wantCacheControl)
			}
		})
	}
	t.Run("RefusesForeignKeysEverywhere", func(t *testing.T) {
		for _, key := range []string{"../x.jpg", "ab/cd.jpg", "/etc/passwd"} {
			if _, err := s.StatFile(ctx, key); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("StatFile(%q) = %v, want a refusal", key, err)
			}
			if _, err := s.Open(ctx, key); err == nil {
				t.Errorf("Open(%q) succeeded", key)
			}
			if err := s.DeleteFile(ctx, key); err == nil {
				t.Errorf("DeleteFile(%q) succeeded", key)
			}
			if err := s.Touch(ctx, key); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Touch(%q) = %v, want a refusal", key, err)
			}
		}
	})
	t.Run("URLEndsWithKey", func(t *testing.T) {
		f := file("contract: url")
		if u := s.URL(f.Key); len(u) <= len(f.Key) || u[len(u)-len(f.Key):] != f.Key {
			t.Errorf("URL(%s) = %s", f.Key, u)
		}
	})
}

// listed returns when s's listing says key was written, and whether it
// lists key.
func listed(t *testing.T, s media.Store, key string) (time.Time, bool) {
	t.Helper()
	files, err := s.ListFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Key == key {
			return f.Written, true
		}
	}
	return time.Time{}, false
}
