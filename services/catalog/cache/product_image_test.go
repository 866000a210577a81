package cache_test

import (
	"context"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
)

// TestSetProductImageIsReadBack holds that a changed image is what the very
// next read shows, from the product and from a listing that was cached
// before the change.
func TestSetProductImageIsReadBack(t *testing.T) {
	reset(t)
	s := newReplica(t, rds.URL, postgres.NewProductStore(db.Pool)).products
	ctx := context.Background()
	p := catalogtest.MustCreate(t, s, catalogtest.Input("IMG-1", "Teapot", "", "kitchen", 100, 1))
	all := catalog.ProductFilter{Limit: 10}
	for range 2 { // fill the cache
		mustFind(t, s, p.ID)
		mustList(t, s, all)
	}
	for _, img := range []*catalog.Image{
		{URL: "/media/a.jpg", ThumbnailURL: "/media/b.jpg", Width: 10, Height: 20},
		{URL: "/media/c.jpg", ThumbnailURL: "/media/d.jpg", Width: 30, Height: 40},
		nil,
	} {
		if _, err := s.SetProductImage(ctx, p.ID, img); err != nil {
			t.Fatal(err)
		}
		got, listed := mustFind(t, s, p.ID).Image, mustList(t, s, all)[0].Image
		for _, g := range []*catalog.Image{got, listed} {
			if (g == nil) != (img == nil) || g != nil && *g != *img {
				t.Errorf("read %+v after setting %+v", g, img)
			}
		}
	}
}
