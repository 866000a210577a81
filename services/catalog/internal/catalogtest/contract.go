package catalogtest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// ProductStoreContract runs the cases every catalog.ProductStore must pass,
// behind the catalog.Service that checks their input. newStore returns the
// store under test over an empty catalog. Every read is made twice and must
// answer the same both times, so that a cache serves each case once from
// the database and once from itself.
func ProductStoreContract(t *testing.T, newStore func(t *testing.T) catalog.ProductStore) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *catalog.Service)
	}{
		{"FindProductReturnsWhatCreateReturned", testFindProduct},
		{"FindProductNotFound", testFindProductNotFound},
		{"ListPagesInCreationOrder", testListPages},
		{"ListFiltersByCategory", testListCategory},
		{"ListSearchesNameAndDescription", testListSearch},
		{"CategoriesCountLiveProducts", testCategories},
		{"UpdateIsReadBack", testUpdateReadBack},
		{"DeleteHidesProduct", testDeleteHides},
		{"DuplicateSKUConflicts", testDuplicateSKU},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, catalog.NewService(catalog.ServiceConfig{Products: newStore(t)}))
		})
	}
}

// Input returns a valid creation input; change its fields as needed.
func Input(sku, name, description, category string, priceCents int64, stock int) catalog.ProductInput {
	return catalog.ProductInput{SKU: &sku, Name: &name, Description: &description, PriceCents: &priceCents, Stock: &stock, Category: &category}
}

// Creator creates products: a *catalog.Service or a catalog.ProductStore.
type Creator interface {
	CreateProduct(ctx context.Context, in catalog.ProductInput) (catalog.Product, error)
}

// MustCreate creates a product or fails the test.
func MustCreate(tb testing.TB, s Creator, in catalog.ProductInput) catalog.Product {
	tb.Helper()
	p, err := s.CreateProduct(context.Background(), in)
	if err != nil {
		tb.Fatalf("create %s: %v", *in.SKU, err)
	}
	return p
}

// MustCreateN creates n products in category, named after their index.
func MustCreateN(tb testing.TB, s Creator, n int, prefix, category string) []catalog.Product {
	tb.Helper()
	out := make([]catalog.Product, n)
	for i := range out {
		sku := prefix + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		out[i] = MustCreate(tb, s, Input(sku, "Item "+sku, "", category, int64(100+i), 10))
	}
	return out
}

// WantCode fails the test unless err carries the apperr code want.
func WantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := apperr.Code(err); err == nil || got != want {
		tb.Fatalf("error = %v (code %s), want code %s", err, got, want)
	}
}

// twice reads with read two times, fails unless both agree, and returns the
// answer.
func twice[T any](t *testing.T, read func() (T, error)) (T, error) {
	t.Helper()
	first, err1 := read()
	second, err2 := read()
	if apperr.Code(err1) != apperr.Code(err2) || (err1 == nil) != (err2 == nil) {
		t.Fatalf("second read failed differently: %v, then %v", err1, err2)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("second read differs (-first +second):\n%s", diff)
	}
	return first, err1
}

func findProduct(t *testing.T, s *catalog.Service, id string) (catalog.Product, error) {
	t.Helper()
	return twice(t, func() (catalog.Product, error) { return s.FindProduct(context.Background(), id) })
}

func findProducts(t *testing.T, s *catalog.Service, f catalog.ProductFilter) catalog.ProductPage {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = catalog.MaxLimit
	}
	page, err := twice(t, func() (catalog.ProductPage, error) { return s.FindProducts(context.Background(), f) })
	if err != nil {
		t.Fatalf("find products %+v: %v", f, err)
	}
	return page
}

func findCategories(t *testing.T, s *catalog.Service) []catalog.Category {
	t.Helper()
	cats, err := twice(t, func() ([]catalog.Category, error) { return s.FindCategories(context.Background()) })
	if err != nil {
		t.Fatalf("find categories: %v", err)
	}
	return cats
}

func ids(ps []catalog.Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func testFindProduct(t *testing.T, s *catalog.Service) {
	want := MustCreate(t, s, Input("HP-1", "Aurora Wireless Headphones", "Over-ear, 30 hours of battery.", "electronics", 12999, 7))
	if !ident.IsUUID(want.ID) || want.Currency != catalog.DefaultCurrency || want.CreatedAt.IsZero() {
		t.Fatalf("created product = %+v, want a UUID id, currency USD and a creation time", want)
	}
	got, err := findProduct(t, s, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FindProduct (-created +found):\n%s", diff)
	}
	got, err = findProduct(t, s, strings.ToUpper(want.ID))
	if err != nil || got.ID != want.ID {
		t.Errorf("FindProduct(uppercase id) = %+v, %v; want the product", got, err)
	}
}

func testFindProductNotFound(t *testing.T, s *catalog.Service) {
	MustCreate(t, s, Input("HP-1", "Headphones", "", "electronics", 100, 1))
	for _, id := range []string{"0190a5b4-0000-7000-8000-000000000000", "abc", "", "'; DROP TABLE products; --", "0190a5b4-0000-7000-8000-00000000000g"} {
		_, err := findProduct(t, s, id)
		WantCode(t, err, apperr.NotFound)
	}
}

func testListPages(t *testing.T, s *catalog.Service) {
	created := MustCreateN(t, s, 7, "P", "books")
	var got []catalog.Product
	f := catalog.ProductFilter{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than products")
		}
		page := findProducts(t, s, f)
		got = append(got, page.Items...)
		if page.Next == "" {
			break
		}
		if len(page.Items) != 3 || page.Next != page.Items[2].ID {
			t.Fatalf("page %d: %d items, next %q; want 3 items and the last id", pages, len(page.Items), page.Next)
		}
		f.After = page.Next
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("pages (-created +listed):\n%s", diff)
	}
	if page := findProducts(t, s, catalog.ProductFilter{Limit: 7}); page.Next != "" || len(page.Items) != 7 {
		t.Errorf("exactly one full page: %d items, next %q; want 7 and none", len(page.Items), page.Next)
	}
}

func testListCategory(t *testing.T, s *catalog.Service) {
	books := MustCreateN(t, s, 3, "B", "books")
	MustCreateN(t, s, 2, "G", "garden-tools")
	if diff := cmp.Diff(ids(books), ids(findProducts(t, s, catalog.ProductFilter{Category: "books"}).Items)); diff != "" {
		t.Errorf("category books (-want +got):\n%s", diff)
	}
	if page := findProducts(t, s, catalog.ProductFilter{Category: "no-such-category"}); len(page.Items) != 0 {
		t.Errorf("unknown category lists %d products, want none", len(page.Items))
	}
}

func testListSearch(t *testing.T, s *catalog.Service) {
	headphones := MustCreate(t, s, Input("A-1", "Aurora Wireless Headphones", "Noise cancelling, over-ear.", "electronics", 100, 1))
	speaker := MustCreate(t, s, Input("A-2", "Nimbus Speaker", "Portable and wireless, with deep bass.", "electronics", 100, 1))
	kettle := MustCreate(t, s, Input("A-3", "Copper Kettle", "Whistles when the water boils.", "kitchen", 100, 1))
	for _, c := range []struct {
		q    string
		want []catalog.Product
	}{
		{"wireless", []catalog.Product{headphones, speaker}}, // name and description
		{"headphone", []catalog.Product{headphones}},         // stemmed
		{"BOILING water", []catalog.Product{kettle}},         // case and stems
		{"wireless -bass", []catalog.Product{headphones}},    // web search syntax
		{`"deep bass"`, []catalog.Product{speaker}},
		{"toaster", nil},
		{"the", nil}, // only a stop word: matches nothing rather than everything
	} {
		page := findProducts(t, s, catalog.ProductFilter{Query: c.q})
		if diff := cmp.Diff(ids(c.want), ids(page.Items)); diff != "" {
			t.Errorf("q=%q (-want +got):\n%s", c.q, diff)
		}
	}
	page := findProducts(t, s, catalog.ProductFilter{Query: "wireless", Category: "kitchen"})
	if len(page.Items) != 0 {
		t.Errorf("q=wireless in kitchen lists %d, want none", len(page.Items))
	}
}

func testCategories(t *testing.T, s *catalog.Service) {
	MustCreateN(t, s, 2, "H", "home-garden")
	name := "Books & Comics"
	in := Input("B-1", "A Book", "", "books", 100, 1)
	in.CategoryName = &name
	MustCreate(t, s, in)
	in = Input("B-2", "Another Book", "", "books", 100, 1)
	other := "Ignored, the category exists"
	in.CategoryName = &other
	MustCreate(t, s, in)
	want := []catalog.Category{
		{Slug: "books", Name: "Books & Comics", ProductCount: 2},
		{Slug: "home-garden", Name: "Home Garden", ProductCount: 2},
	}
	if diff := cmp.Diff(want, findCategories(t, s)); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
}

func testUpdateReadBack(t *testing.T, s *catalog.Service) {
	p := MustCreate(t, s, Input("U-1", "Plain Mug", "Stoneware, dishwasher safe.", "kitchen", 500, 3))
	// Fill whatever caches the service has before the write.
	_, _ = findProduct(t, s, p.ID)
	findProducts(t, s, catalog.ProductFilter{Query: "mug"})
	findCategories(t, s)

	name, price, category := "Enamel Camping Cup", int64(750), "outdoors"
	got, err := s.UpdateProduct(context.Background(), p.ID, catalog.ProductInput{Name: &name, PriceCents: &price, Category: &category})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.PriceCents != price || got.Category != category || got.SKU != p.SKU || got.Stock != p.Stock || !got.UpdatedAt.After(p.UpdatedAt) {
		t.Fatalf("updated = %+v; want new name, price and category, the rest kept, a later updated_at", got)
	}
	found, err := findProduct(t, s, p.ID)
	if err != nil || !cmp.Equal(found, got) {
		t.Errorf("FindProduct after update = %+v, %v; want %+v", found, err, got)
	}
	if page := findProducts(t, s, catalog.ProductFilter{Query: "mug"}); len(page.Items) != 0 {
		t.Errorf("search for the old name still finds %d", len(page.Items))
	}
	if page := findProducts(t, s, catalog.ProductFilter{Query: "camping"}); len(page.Items) != 1 || !cmp.Equal(page.Items[0], got) {
		t.Errorf("search for the new name = %+v; want the updated product", page.Items)
	}
	want := []catalog.Category{{Slug: "kitchen", Name: "Kitchen"}, {Slug: "outdoors", Name: "Outdoors", ProductCount: 1}}
	if diff := cmp.Diff(want, findCategories(t, s)); diff != "" {
		t.Errorf("categories after the move (-want +got):\n%s", diff)
	}
}

func testDeleteHides(t *testing.T, s *catalog.Service) {
	ps := MustCreateN(t, s, 3, "D", "toys")
	_, _ = findProduct(t, s, ps[1].ID)
	findProducts(t, s, catalog.ProductFilter{})
	findCategories(t, s)

	if err := s.DeleteProduct(context.Background(), ps[1].ID); err != nil {
		t.Fatal(err)
	}
	_, err := findProduct(t, s, ps[1].ID)
	WantCode(t, err, apperr.NotFound)
	if diff := cmp.Diff([]string{ps[0].ID, ps[2].ID}, ids(findProducts(t, s, catalog.ProductFilter{}).Items)); diff != "" {
		t.Errorf("listing after delete (-want +got):\n%s", diff)
	}
	if cats := findCategories(t, s); len(cats) != 1 || cats[0].ProductCount != 2 {
		t.Errorf("categories after delete = %+v, want toys with 2", cats)
	}
	WantCode(t, s.DeleteProduct(context.Background(), ps[1].ID), apperr.NotFound)
	name := "Back?"
	_, err = s.UpdateProduct(context.Background(), ps[1].ID, catalog.ProductInput{Name: &name})
	WantCode(t, err, apperr.NotFound)
}

func testDuplicateSKU(t *testing.T, s *catalog.Service) {
	first := MustCreate(t, s, Input("SKU-1", "First", "", "misc", 100, 1))
	second := MustCreate(t, s, Input("SKU-2", "Second", "", "misc", 100, 1))
	_, err := s.CreateProduct(context.Background(), Input("SKU-1", "Again", "", "misc", 100, 1))
	WantCode(t, err, apperr.Conflict)
	sku := "SKU-1"
	_, err = s.UpdateProduct(context.Background(), second.ID, catalog.ProductInput{SKU: &sku})
	WantCode(t, err, apperr.Conflict)
	if err := s.DeleteProduct(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	again := MustCreate(t, s, Input("SKU-1", "Again", "", "misc", 100, 1))
	if again.ID == first.ID {
		t.Error("a new product with a freed SKU reused the deleted product's id")
	}
	if page := findProducts(t, s, catalog.ProductFilter{}); !cmp.Equal(ids(page.Items), []string{second.ID, again.ID}) {
		t.Errorf("listing = %v, want the second and the new product", ids(page.Items))
	}
}
