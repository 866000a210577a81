package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
)

// imageProducts holds one product and notes which files the store had
// touched when the product's image was changed.
type imageProducts struct {
	catalog.ProductStore // the methods images do not use: nil
	p                    catalog.Product
	store                *touchingStore
	touchedAtSet         []string
}

func (f *imageProducts) FindProduct(context.Context, string) (catalog.Product, error) {
	return f.p, nil
}

func (f *imageProducts) SetProductImage(_ context.Context, _ string, img *catalog.Image) (catalog.Product, error) {
	f.touchedAtSet = append([]string(nil), f.store.touched...)
	f.p.Image = img
	return f.p, nil
}

// touchingStore records the keys touched; err, by key, fails a Touch.
type touchingStore struct {
	touched []string
	err     map[string]error
}

func (s *touchingStore) Put(context.Context, catalog.ImageFile) error { return nil }
func (s *touchingStore) URL(key string) string                        { return "/media/" + key }
func (s *touchingStore) Touch(_ context.Context, key string) error {
	if err := s.err[key]; err != nil {
		return err
	}
	s.touched = append(s.touched, key)
	return nil
}

type fixedProcessor struct{}

func (fixedProcessor) Process(context.Context, string, []byte) (catalog.ProcessedImage, error) {
	return catalog.ProcessedImage{
		Full:      catalog.ImageFile{Key: "cc/new.jpg"},
		Thumbnail: catalog.ImageFile{Key: "dd/new.jpg"},
		Width:     10, Height: 10,
	}, nil
}

// Replacing or removing a product's image touches the files of the image it
// showed before the product changes, so that the collector's retention
// counts from then; a failed touch does not fail the change.
func TestServiceReleasesTheOldImage(t *testing.T) {
	t.Parallel()
	const id = "0190a5b4-0000-7000-8000-00000000ffff"
	old := &catalog.Image{URL: "/media/aa/old.jpg", ThumbnailURL: "https://images.example.com/products/bb/old.jpg", Width: 1, Height: 1}
	for _, tc := range []struct {
		name    string
		change  func(s *catalog.Service) error
		err     map[string]error
		want    []string
		wantLog string
	}{{
		name: "replaced",
		change: func(s *catalog.Service) error {
			_, err := s.SetImage(context.Background(), id, "image/jpeg", []byte("pixels"))
			return err
		},
		want: []string{"aa/old.jpg", "bb/old.jpg"},
	}, {
		name:   "removed",
		change: func(s *catalog.Service) error { return s.RemoveImage(context.Background(), id) },
		want:   []string{"aa/old.jpg", "bb/old.jpg"},
	}, {
		name:   "a file that is not there",
		change: func(s *catalog.Service) error { return s.RemoveImage(context.Background(), id) },
		err:    map[string]error{"aa/old.jpg": fmt.Errorf("gone: %w", fs.ErrNotExist)},
		want:   []string{"bb/old.jpg"},
	}, {
		name:    "a store that fails",
		change:  func(s *catalog.Service) error { return s.RemoveImage(context.Background(), id) },
		err:     map[string]error{"bb/old.jpg": errors.New("bucket down")},
		want:    []string{"aa/old.jpg"},
		wantLog: "bucket down",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &touchingStore{err: tc.err}
			products := &imageProducts{p: catalog.Product{ID: id, Image: old}, store: store}
			var logs bytes.Buffer
			s := catalog.NewService(catalog.ServiceConfig{
				Products: products, Images: fixedProcessor{}, Media: store,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err := tc.change(s); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, products.touchedAtSet); diff != "" {
				t.Errorf("touched before the product changed (-want +got):\n%s", diff)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("logs %q, want them to say %q", logs.String(), tc.wantLog)
			}
		})
	}
}
