package media_test

import (
	"context"
	"testing"

	"bazaar/catalog"
)

// stored reads back what a store holds under a key: its content, and the
// Content-Type and Cache-Control clients get ("" where the store leaves
// them to the server in front of it).
type stored func(t *testing.T, key string) (data []byte, contentType, cacheControl string, ok bool)

// storeContract runs the cases every catalog.MediaStore must pass.
func storeContract(t *testing.T, s catalog.MediaStore, read stored, wantCacheControl string) {
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
	t.Run("URLEndsWithKey", func(t *testing.T) {
		f := file("contract: url")
		if u := s.URL(f.Key); len(u) <= len(f.Key) || u[len(u)-len(f.Key):] != f.Key {
			t.Errorf("URL(%s) = %s", f.Key, u)
		}
	})
}
