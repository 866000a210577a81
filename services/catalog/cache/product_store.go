package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"golang.org/x/sync/singleflight"

	"bazaar/catalog"
)

// Store is what ProductStore decorates: a catalog.ProductStore that can
// also load several products by id in one query, to fill a cached listing
// page's products.
type Store interface {
	catalog.ProductStore
	FindProductsByID(ctx context.Context, ids []string) ([]catalog.Product, error)
}

// ProductStore is a catalog.ProductStore that answers reads from Redis when
// it can and invalidates what each write touches before answering.
type ProductStore struct {
	store Store
	cache *Cache
	// fills shares the PostgreSQL load of the same missing products between
	// concurrent listings (stampede protection for listing pages' products).
	fills singleflight.Group
}

var _ catalog.ProductStore = (*ProductStore)(nil)

// NewProductStore returns a ProductStore over store.
func NewProductStore(store Store, c *Cache) *ProductStore {
	return &ProductStore{store: store, cache: c}
}

// FindProduct returns the product with id.
func (s *ProductStore) FindProduct(ctx context.Context, id string) (catalog.Product, error) {
	version, entry, ok := s.cache.currentProduct(ctx, id)
	if !ok {
		return s.store.FindProduct(ctx, id)
	}
	var p catalog.Product
	if entry != nil && s.cache.codec.Unmarshal(entry, &p) == nil {
		s.cache.metrics.count(kindProduct, false, nil)
		return p, nil
	}
	// A miss (or an entry this release cannot read): load it once, however
	// many readers want it.
	loaded, err := s.cache.once(ctx, productKey(id, version), &p, func(ctx context.Context) (any, error) {
		return s.store.FindProduct(ctx, id)
	})
	s.cache.metrics.count(kindProduct, loaded, err)
	if err != nil {
		return catalog.Product{}, err
	}
	return p, nil
}

// listEntry is a cached listing page: the ids of its products, which are
// read through their own entries, and the cursor of the next page.
type listEntry struct {
	IDs  []string `json:"ids"`
	Next string   `json:"next"`
}

// filterKey identifies a filter in a listing key, hashed so that a long
// search stays a short key.
func filterKey(f catalog.ProductFilter) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{f.Query, f.Category, f.After, strconv.Itoa(f.Limit)}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// FindProducts returns one page of products.
func (s *ProductStore) FindProducts(ctx context.Context, f catalog.ProductFilter) (catalog.ProductPage, error) {
	gen, ok := s.cache.currentVersion(ctx, genKey, kindList)
	if !ok {
		return s.store.FindProducts(ctx, f)
	}
	var entry listEntry
	var fresh catalog.ProductPage
	loaded, err := s.cache.once(ctx, listKey(gen, filterKey(f)), &entry, func(ctx context.Context) (any, error) {
		page, err := s.store.FindProducts(ctx, f)
		if err != nil {
			return nil, err
		}
		fresh = page
		e := listEntry{IDs: make([]string, len(page.Items)), Next: page.Next}
		for i, p := range page.Items {
			e.IDs[i] = p.ID
		}
		return e, nil
	})
	s.cache.metrics.count(kindList, loaded, err)
	if err != nil {
		return catalog.ProductPage{}, err
	}
	if loaded {
		return fresh, nil
	}
	items, err := s.products(ctx, entry.IDs)
	if err != nil {
		return catalog.ProductPage{}, err
	}
	return catalog.ProductPage{Items: items, Next: entry.Next}, nil
}

// products returns the live products among ids, in that order, from their
// entries, loading the missing ones in one query and storing them under the
// versions read before that query.
func (s *ProductStore) products(ctx context.Context, ids []string) ([]catalog.Product, error) {
	if len(ids) == 0 {
		return []catalog.Product{}, nil
	}
	vkeys := make([]string, len(ids))
	for i, id := range ids {
		vkeys[i] = versionKey(id)
	}
	keys := make([]string, len(ids))
	versions, err := s.cache.versions(ctx, vkeys)
	var cached [][]byte
	if err == nil {
		for i, id := range ids {
			keys[i] = productKey(id, versions[i])
		}
		cached, err = s.cache.entries(ctx, keys)
	}
	if err != nil {
		s.cache.metrics.CacheBypassed(kindProduct, len(ids))
		found, err := s.store.FindProductsByID(ctx, ids)
		return inOrder(ids, found), err
	}
	found := make([]catalog.Product, 0, len(ids))
	var missing []int
	for i, b := range cached {
		var p catalog.Product
		if b == nil || s.cache.codec.Unmarshal(b, &p) != nil {
			missing = append(missing, i)
			continue
		}
		found = append(found, p)
	}
	s.cache.metrics.CacheHits(kindProduct, len(found))
	s.cache.metrics.CacheMisses(kindProduct, len(missing))
	if len(missing) > 0 {
		missingIDs := make([]string, len(missing))
		missingKeys := make([]string, len(missing))
		for j, i := range missing {
			missingIDs[j], missingKeys[j] = ids[i], keys[i]
		}
		v, err, _ := s.fills.Do(strings.Join(missingKeys, " "), func() (any, error) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
			defer cancel()
			loaded, err := s.store.FindProductsByID(ctx, missingIDs)
			if err != nil {
				return nil, err
			}
			s.cache.fill(ctx, missingIDs, missingKeys, loaded)
			return loaded, nil
		})
		if err != nil {
			return nil, err
		}
		found = append(found, v.([]catalog.Product)...)
	}
	return inOrder(ids, found), nil
}

// inOrder returns the products of found in the order of ids, leaving out ids
// that are not in found (products deleted since the page was cached).
func inOrder(ids []string, found []catalog.Product) []catalog.Product {
	byID := make(map[string]catalog.Product, len(found))
	for _, p := range found {
		byID[p.ID] = p
	}
	out := make([]catalog.Product, 0, len(ids))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
		}
	}
	return out
}

// FindCategories returns every category with its number of live products.
func (s *ProductStore) FindCategories(ctx context.Context) ([]catalog.Category, error) {
	gen, ok := s.cache.currentVersion(ctx, genKey, kindCategories)
	if !ok {
		return s.store.FindCategories(ctx)
	}
	var cats []catalog.Category
	loaded, err := s.cache.once(ctx, categoriesKey(gen), &cats, func(ctx context.Context) (any, error) {
		return s.store.FindCategories(ctx)
	})
	s.cache.metrics.count(kindCategories, loaded, err)
	if err != nil {
		return nil, err
	}
	return cats, nil
}

// CreateProduct creates a product; every listing and the categories change.
func (s *ProductStore) CreateProduct(ctx context.Context, in catalog.ProductInput) (catalog.Product, error) {
	p, err := s.store.CreateProduct(ctx, in)
	if err == nil || mayHaveCommitted(err) {
		s.cache.invalidate(ctx, nil, true)
	}
	return p, err
}

// UpdateProduct changes a product, its entry, and every listing and the
// categories, since it may move between them.
func (s *ProductStore) UpdateProduct(ctx context.Context, id string, in catalog.ProductInput) (catalog.Product, error) {
	p, err := s.store.UpdateProduct(ctx, id, in)
	if err == nil || mayHaveCommitted(err) {
		s.cache.invalidate(ctx, []string{id}, true)
	}
	return p, err
}

// SetProductImage changes a product's image and its entry; listings read
// their products through those entries, so they need no change.
func (s *ProductStore) SetProductImage(ctx context.Context, id string, img *catalog.Image) (catalog.Product, error) {
	p, err := s.store.SetProductImage(ctx, id, img)
	if err == nil || mayHaveCommitted(err) {
		s.cache.invalidate(ctx, []string{id}, false)
	}
	return p, err
}

// DeleteProduct deletes a product, its entry, and every listing and the
// categories.
func (s *ProductStore) DeleteProduct(ctx context.Context, id string) error {
	err := s.store.DeleteProduct(ctx, id)
	if err == nil || mayHaveCommitted(err) {
		s.cache.invalidate(ctx, []string{id}, true)
	}
	return err
}
