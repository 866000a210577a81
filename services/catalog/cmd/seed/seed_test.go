package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
)

func TestDemoCatalogue(t *testing.T) {
	products := demoCatalogue()
	if diff := cmp.Diff(products, demoCatalogue()); diff != "" {
		t.Fatalf("two runs differ:\n%s", diff)
	}
	if len(products) < 1000 {
		t.Errorf("%d products, want at least 1000", len(products))
	}
	categories := map[string]int{}
	skus := map[string]bool{}
	names := map[string]bool{}
	for _, p := range products {
		in := catalog.ProductInput{SKU: &p.SKU, Name: &p.Name, Description: &p.Description, PriceCents: &p.PriceCents,
			Currency: &p.Currency, Stock: &p.Stock, Category: &p.Category, CategoryName: &p.CategoryName}
		if err := in.ValidateCreate(); err != nil {
			t.Errorf("%s is not valid: %v", p.SKU, err)
		}
		if skus[p.SKU] {
			t.Errorf("SKU %s twice", p.SKU)
		}
		skus[p.SKU] = true
		names[p.Name] = true
		categories[p.Category]++
		if p.PriceCents < 100 {
			t.Errorf("%s costs %d cents", p.SKU, p.PriceCents)
		}
	}
	if len(categories) < 12 {
		t.Errorf("%d categories, want at least 12", len(categories))
	}
	if len(names) != len(products) {
		t.Errorf("%d distinct names for %d products", len(names), len(products))
	}
	// Search is meaningful when common words pick out some products but not
	// most of them.
	for _, word := range []string{"wireless", "leather", "organic", "waterproof", "warranty"} {
		n := 0
		for _, p := range products {
			if strings.Contains(strings.ToLower(p.Name+" "+p.Description), word) {
				n++
			}
		}
		if n < 5 || n > len(products)/4 {
			t.Errorf("%q is in %d products; want a few, not most", word, n)
		}
	}
}

// fakeShop answers login and product creation as the stack does, with one
// expired token and one unavailable answer on the way.
type fakeShop struct {
	mu       sync.Mutex
	skus     map[string]bool
	pictures map[string]bool // product ids with a picture
	logins   int
	expired  bool
	hiccuped bool
}

func (f *fakeShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api/users/login":
		f.logins++
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "token", "token_type": "Bearer", "expires_in": 900})
	case "/api/catalog/products":
		var p seedProduct
		if r.Header.Get("Authorization") != "Bearer token" || json.NewDecoder(r.Body).Decode(&p) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch {
		case len(f.skus) == 10 && !f.expired:
			f.expired = true
			w.WriteHeader(http.StatusUnauthorized)
		case len(f.skus) == 20 && !f.hiccuped:
			f.hiccuped = true
			w.WriteHeader(http.StatusServiceUnavailable)
		case f.skus[p.SKU]:
			w.WriteHeader(http.StatusConflict)
		default:
			f.skus[p.SKU] = true
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": p.SKU})
		}
	case "/api/catalog/products/" + path.Base(path.Dir(r.URL.Path)) + "/image":
		id := path.Base(path.Dir(r.URL.Path))
		img, err := jpeg.Decode(r.Body)
		if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "image/jpeg" || err != nil || !f.skus[id] {
			http.Error(w, "bad image", http.StatusBadRequest)
			return
		}
		if b := img.Bounds(); b.Dx() != pictureWidth || b.Dy() != pictureHeight {
			http.Error(w, "wrong size", http.StatusBadRequest)
			return
		}
		f.pictures[id] = true
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	default:
		http.NotFound(w, r)
	}
}

func TestRunIsIdempotent(t *testing.T) {
	shop := &fakeShop{skus: map[string]bool{}, pictures: map[string]bool{}}
	srv := httptest.NewServer(shop)
	defer srv.Close()
	env := map[string]string{"BASE_URL": srv.URL, "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "secret-secret"}
	total := len(demoCatalogue())
	for i, want := range []string{"created", "already there"} {
		var out bytes.Buffer
		if err := run(context.Background(), nil, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, &out)
		}
		last := strings.TrimSpace(out.String())
		last = last[strings.LastIndex(last, "\n")+1:]
		if !strings.HasPrefix(last, fmt.Sprintf("seeded %d/%d", total, total)) || !strings.Contains(last, fmt.Sprintf("%d %s", total, want)) {
			t.Errorf("run %d ends with %q; want all %d %s", i+1, last, total, want)
		}
	}
	if len(shop.pictures) != total {
		t.Errorf("%d products got a picture, want all %d", len(shop.pictures), total)
	}
	if len(shop.skus) != total || shop.logins != 3 {
		t.Errorf("%d products stored after %d logins; want %d after 3 (one per run, one after expiry)", len(shop.skus), shop.logins, total)
	}
}

func TestRunNeedsCredentials(t *testing.T) {
	if err := run(context.Background(), nil, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
		t.Error("run without credentials succeeded")
	}
}

// TestPicturesDiffer holds that products get pictures of their own, the
// same on every run.
func TestPicturesDiffer(t *testing.T) {
	products := demoCatalogue()
	seen := map[string]string{}
	for _, p := range products[:40] {
		pic := picture(p)
		if !bytes.Equal(pic, picture(p)) {
			t.Fatalf("%s: two runs draw different pictures", p.SKU)
		}
		if other, ok := seen[string(pic)]; ok {
			t.Errorf("%s and %s have the same picture", p.SKU, other)
		}
		seen[string(pic)] = p.SKU
	}
}
