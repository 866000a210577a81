package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/pg"
)

// ProductStore implements catalog.ProductStore on PostgreSQL.
type ProductStore struct {
	pool *pgxpool.Pool
	// reads serves the reads that may trail (listings, search,
	// categories): the pool, or a Standby (docs/database.md).
	reads Querier
}

var (
	_ catalog.ProductStore    = (*ProductStore)(nil)
	_ catalog.MediaReferences = (*ProductStore)(nil)
)

// NewProductStore returns a ProductStore using pool.
func NewProductStore(pool *pgxpool.Pool) *ProductStore {
	return &ProductStore{pool: pool, reads: pool}
}

// NewProductStoreReadingFrom returns a ProductStore using pool, whose
// listings, search and categories are read through reads.
func NewProductStoreReadingFrom(pool *pgxpool.Pool, reads Querier) *ProductStore {
	return &ProductStore{pool: pool, reads: reads}
}

const productColumns = `id::text, sku, name, description, price_cents, currency, stock, category, created_at, updated_at,
	image_url, image_thumbnail_url, image_width, image_height`

// scanProduct reads the productColumns of a row. Times are made UTC so that
// a product reads the same from the database and from the cache.
func scanProduct(row pgx.Row) (catalog.Product, error) {
	var p catalog.Product
	var url, thumb *string
	var width, height *int
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Stock, &p.Category, &p.CreatedAt, &p.UpdatedAt,
		&url, &thumb, &width, &height)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if err == nil && url != nil && thumb != nil && width != nil && height != nil {
		p.Image = &catalog.Image{URL: *url, ThumbnailURL: *thumb, Width: *width, Height: *height}
	}
	return p, err
}

func collectProducts(rows pgx.Rows) ([]catalog.Product, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) { return scanProduct(r) })
}

// FindProducts returns one page of products in id order. Ids are UUIDv7, so
// this is creation order, and paging on "id > last id of the page" (keyset)
// never repeats or skips a product however many are inserted meanwhile.
func (s *ProductStore) FindProducts(ctx context.Context, f catalog.ProductFilter) (catalog.ProductPage, error) {
	args := pgx.NamedArgs{"limit": f.Limit + 1}
	where := "deleted_at IS NULL"
	if f.Query != "" {
		where += " AND search @@ websearch_to_tsquery('english', @q)"
		args["q"] = f.Query
	}
	if f.Category != "" {
		where += " AND category = @category"
		args["category"] = f.Category
	}
	if f.After != "" {
		where += " AND id > @after"
		args["after"] = f.After
	}
	rows, err := s.reads.Query(ctx, `SELECT `+productColumns+` FROM products WHERE `+where+` ORDER BY id LIMIT @limit`, args)
	if err != nil {
		return catalog.ProductPage{}, pg.Wrap("find products", err)
	}
	items, err := collectProducts(rows)
	if err != nil {
		return catalog.ProductPage{}, pg.Wrap("find products", err)
	}
	page := catalog.ProductPage{Items: items}
	if len(items) > f.Limit {
		page.Items = items[:f.Limit]
		page.Next = page.Items[f.Limit-1].ID
	}
	return page, nil
}

// FindProduct returns the product with id, or a NotFound error.
func (s *ProductStore) FindProduct(ctx context.Context, id string) (catalog.Product, error) {
	p, err := scanProduct(s.pool.QueryRow(ctx, `SELECT `+productColumns+` FROM products WHERE id = $1 AND deleted_at IS NULL`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Product{}, catalog.ProductNotFound(id)
	}
	if err != nil {
		return catalog.Product{}, pg.Wrap("find product", err)
	}
	return p, nil
}

// FindProductsByID returns the live products among ids, in no particular
// order; ids that name none are left out.
func (s *ProductStore) FindProductsByID(ctx context.Context, ids []string) ([]catalog.Product, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if ident.IsUUID(id) {
			valid = append(valid, id)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+productColumns+` FROM products WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, valid)
	if err != nil {
		return nil, pg.Wrap("find products by id", err)
	}
	items, err := collectProducts(rows)
	if err != nil {
		return nil, pg.Wrap("find products by id", err)
	}
	return items, nil
}

// FindCategories returns every category with its number of live products.
func (s *ProductStore) FindCategories(ctx context.Context) ([]catalog.Category, error) {
	rows, err := s.reads.Query(ctx, `
		SELECT c.slug, c.name, count(p.id)
		FROM categories c LEFT JOIN products p ON p.category = c.slug AND p.deleted_at IS NULL
		GROUP BY c.slug, c.name ORDER BY c.name, c.slug`)
	if err != nil {
		return nil, pg.Wrap("find categories", err)
	}
	cats, err := pgx.CollectRows(rows, pgx.RowToStructByPos[catalog.Category])
	if err != nil {
		return nil, pg.Wrap("find categories", err)
	}
	return cats, nil
}

// CreateProduct stores a new product, creating its category if needed. Its
// id is a UUIDv7 made here, so id order is creation order.
func (s *ProductStore) CreateProduct(ctx context.Context, in catalog.ProductInput) (catalog.Product, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return catalog.Product{}, fmt.Errorf("create product: %w", err)
	}
	p := in.Apply(catalog.Product{ID: id.String(), Currency: catalog.DefaultCurrency})
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := ensureCategory(ctx, tx, p.Category, in.CategoryName); err != nil {
			return err
		}
		p, err = scanProduct(tx.QueryRow(ctx, `
			INSERT INTO products (id, sku, name, description, price_cents, currency, stock, category)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING `+productColumns,
			p.ID, p.SKU, p.Name, p.Description, p.PriceCents, p.Currency, p.Stock, p.Category))
		return err
	})
	if err != nil {
		return catalog.Product{}, writeError("create product", in, err)
	}
	return p, nil
}

// UpdateProduct changes the fields present in in. The row is locked while
// the change is applied so that it never overwrites a concurrent stock
// reservation with a stale count.
func (s *ProductStore) UpdateProduct(ctx context.Context, id string, in catalog.ProductInput) (catalog.Product, error) {
	var p catalog.Product
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanProduct(tx.QueryRow(ctx, `SELECT `+productColumns+` FROM products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return catalog.ProductNotFound(id)
		}
		if err != nil {
			return err
		}
		p = in.Apply(old)
		if in.Category != nil {
			if err := ensureCategory(ctx, tx, p.Category, in.CategoryName); err != nil {
				return err
			}
		}
		p, err = scanProduct(tx.QueryRow(ctx, `
			UPDATE products SET sku = $2, name = $3, description = $4, price_cents = $5, currency = $6,
				stock = $7, category = $8, updated_at = now()
			WHERE id = $1
			RETURNING `+productColumns,
			id, p.SKU, p.Name, p.Description, p.PriceCents, p.Currency, p.Stock, p.Category))
		return err
	})
	if err != nil {
		return catalog.Product{}, writeError("update product", in, err)
	}
	return p, nil
}

// SetProductImage records the image a live product shows, or with nil that
// it has none, and answers the product.
func (s *ProductStore) SetProductImage(ctx context.Context, id string, img *catalog.Image) (catalog.Product, error) {
	var url, thumb *string
	var width, height *int
	if img != nil {
		url, thumb, width, height = &img.URL, &img.ThumbnailURL, &img.Width, &img.Height
	}
	p, err := scanProduct(s.pool.QueryRow(ctx, `
		UPDATE products SET image_url = $2, image_thumbnail_url = $3, image_width = $4, image_height = $5, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL
		RETURNING `+productColumns, id, url, thumb, width, height))
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Product{}, catalog.ProductNotFound(id)
	}
	if err != nil {
		return catalog.Product{}, pg.Wrap("set product image", err)
	}
	return p, nil
}

// ReferencedMediaKeys returns the keys of the image files that product
// rows name, the soft-deleted ones' included: the last two segments of
// each image URL (MediaStore.URL ends with the key). It reads the primary,
// which a standby may trail.
func (s *ProductStore) ReferencedMediaKeys(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT substring(url FROM '[^/]+/[^/]+$')
		FROM products, unnest(ARRAY[image_url, image_thumbnail_url]) AS url
		WHERE url IS NOT NULL AND url ~ '[^/]+/[^/]+$'`)
	if err != nil {
		return nil, pg.Wrap("referenced media keys", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, pg.Wrap("referenced media keys", err)
	}
	return keys, nil
}

// DeleteProduct soft-deletes a product: it leaves listings, counts and its
// SKU, but reservations that name it keep a valid reference.
func (s *ProductStore) DeleteProduct(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE products SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return pg.Wrap("delete product", err)
	}
	if tag.RowsAffected() == 0 {
		return catalog.ProductNotFound(id)
	}
	return nil
}

// ensureCategory creates the category slug unless it exists, named name or,
// without one, after its slug.
func ensureCategory(ctx context.Context, tx pgx.Tx, slug string, name *string) error {
	n := catalog.CategoryNameFromSlug(slug)
	if name != nil {
		n = strings.TrimSpace(*name)
	}
	_, err := tx.Exec(ctx, `INSERT INTO categories (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING`, slug, n)
	return err
}

// writeError maps the errors of a product write of in: a duplicate live
// SKU is a Conflict, the rest goes through storeError.
func writeError(op string, in catalog.ProductInput, err error) error {
	if isUniqueViolation(err, "products_sku_key") && in.SKU != nil {
		return apperr.Errorf(apperr.Conflict, "A product with SKU %q already exists.", *in.SKU)
	}
	return storeError(op, err)
}
