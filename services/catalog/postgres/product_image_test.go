package postgres_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/platform/apperr"
)

func TestSetProductImage(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p := catalogtest.MustCreate(t, s, catalogtest.Input("IMG-1", "Teapot", "", "kitchen", 100, 1))
	if p.Image != nil {
		t.Fatalf("a new product has image %+v", p.Image)
	}
	img := &catalog.Image{URL: "/media/ab/ab.jpg", ThumbnailURL: "/media/cd/cd.jpg", Width: 1600, Height: 1200}
	got, err := s.SetProductImage(ctx, p.ID, img)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(img, got.Image); diff != "" || !got.UpdatedAt.After(p.UpdatedAt) {
		t.Errorf("answered image (-want +got):\n%s (updated_at %v → %v)", diff, p.UpdatedAt, got.UpdatedAt)
	}
	read, err := s.FindProduct(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("read back (-answered +read):\n%s", diff)
	}
	page, err := s.FindProducts(ctx, catalog.ProductFilter{Limit: 10})
	if err != nil || len(page.Items) != 1 || cmp.Diff(img, page.Items[0].Image) != "" {
		t.Errorf("listing: %+v, %v", page.Items, err)
	}

	if got, err = s.SetProductImage(ctx, p.ID, nil); err != nil || got.Image != nil {
		t.Errorf("remove: image %+v, err %v", got.Image, err)
	}
	if read, _ = s.FindProduct(ctx, p.ID); read.Image != nil {
		t.Errorf("read back after remove: %+v", read.Image)
	}

	if err := s.DeleteProduct(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{p.ID, "0190a5b4-0000-7000-8000-00000000ffff", "nope"} {
		if _, err := s.SetProductImage(ctx, id, img); apperr.Code(err) != apperr.NotFound {
			t.Errorf("SetProductImage(%s) = %v, want not found", id, err)
		}
	}
}
