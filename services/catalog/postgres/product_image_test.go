package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	// An id that is no UUID never reaches the store: the Service refuses it.
	for _, id := range []string{p.ID, "0190a5b4-0000-7000-8000-00000000ffff"} {
		if _, err := s.SetProductImage(ctx, id, img); apperr.Code(err) != apperr.NotFound {
			t.Errorf("SetProductImage(%s) = %v, want not found", id, err)
		}
	}
}

func TestReferencedMediaKeys(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	key := func(c byte, ext string) string {
		return fmt.Sprintf("%c%c/%s.%s", c, c, strings.Repeat(string(c), 64), ext)
	}
	set := func(p catalog.Product, full, thumb string) {
		t.Helper()
		if _, err := s.SetProductImage(ctx, p.ID, &catalog.Image{URL: full, ThumbnailURL: thumb, Width: 10, Height: 10}); err != nil {
			t.Fatal(err)
		}
	}
	live := catalogtest.MustCreate(t, s, catalogtest.Input("KEYS-1", "Live", "", "kitchen", 100, 1))
	set(live, "/media/"+key('a', "jpg"), "/media/"+key('b', "jpg"))
	// Replaced: the first image's files are named no more.
	replaced := catalogtest.MustCreate(t, s, catalogtest.Input("KEYS-2", "Replaced", "", "kitchen", 100, 1))
	set(replaced, "/media/"+key('0', "jpg"), "/media/"+key('1', "jpg"))
	set(replaced, "https://images.example.com/products/"+key('c', "png"), "https://images.example.com/products/"+key('d', "jpg"))
	// Removed: its files are named no more.
	removed := catalogtest.MustCreate(t, s, catalogtest.Input("KEYS-3", "Removed", "", "kitchen", 100, 1))
	set(removed, "/media/"+key('2', "jpg"), "/media/"+key('3', "jpg"))
	if _, err := s.SetProductImage(ctx, removed.ID, nil); err != nil {
		t.Fatal(err)
	}
	// Soft-deleted: a restore of its row, or a cached page, may still
	// show its image. Its full image is also another product's.
	deleted := catalogtest.MustCreate(t, s, catalogtest.Input("KEYS-4", "Deleted", "", "kitchen", 100, 1))
	set(deleted, "/media/"+key('a', "jpg"), "/media/"+key('e', "jpg"))
	if err := s.DeleteProduct(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	catalogtest.MustCreate(t, s, catalogtest.Input("KEYS-5", "No image", "", "kitchen", 100, 1))

	got, err := s.ReferencedMediaKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{key('a', "jpg"), key('b', "jpg"), key('c', "png"), key('d', "jpg"), key('e', "jpg")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("referenced keys (-want +got):\n%s", diff)
	}
}
