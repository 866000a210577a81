package catalog

import (
	"regexp"
	"time"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// Product is an item for sale. Prices are integer cents in Currency.
type Product struct {
	ID          string `json:"id"`
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Stock       int    `json:"stock"`
	Category    string `json:"category"`
	// Image is the product's picture; nil when it has none.
	Image     *Image    `json:"image"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits of a product's fields.
const (
	MaxSKULength         = 64
	MaxNameLength        = 200
	MaxDescriptionLength = 5000
	MaxPriceCents        = 100_000_000
	MaxStock             = 1_000_000
	DefaultCurrency      = "USD"
)

var (
	skuPattern      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ProductInput is the body of a product creation or partial update. A nil
// field is absent: an update leaves it as it is, a creation takes its
// default or, for the required fields, refuses the input.
type ProductInput struct {
	SKU         *string `json:"sku"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	PriceCents  *int64  `json:"price_cents"`
	Currency    *string `json:"currency"`
	Stock       *int    `json:"stock"`
	Category    *string `json:"category"`
	// CategoryName names the category when Category does not exist yet;
	// without it the name is derived from the slug. It never renames an
	// existing category.
	CategoryName *string `json:"category_name"`
}

// ValidateCreate checks an input that creates a product: every required
// field is present and every field present is valid.
func (in ProductInput) ValidateCreate() error {
	var v apperr.Validation
	v.Check(in.SKU != nil, "sku", "is required")
	v.Check(in.Name != nil, "name", "is required")
	v.Check(in.PriceCents != nil, "price_cents", "is required")
	v.Check(in.Stock != nil, "stock", "is required")
	v.Check(in.Category != nil, "category", "is required")
	in.check(&v)
	return v.Err()
}

// ValidateUpdate checks an input that changes a product: at least one field
// is present and every field present is valid.
func (in ProductInput) ValidateUpdate() error {
	if in == (ProductInput{}) {
		return apperr.Errorf(apperr.Invalid, "The body must set at least one of sku, name, description, price_cents, currency, stock and category.")
	}
	var v apperr.Validation
	v.Check(in.CategoryName == nil || in.Category != nil, "category_name", "is only allowed together with category")
	in.check(&v)
	return v.Err()
}

func (in ProductInput) check(v *apperr.Validation) {
	if in.SKU != nil {
		v.Check(skuPattern.MatchString(*in.SKU), "sku", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
	}
	if in.Name != nil {
		v.Check(validName(*in.Name, MaxNameLength), "name", "must be 1 to 200 characters of text, not only spaces, without control or invisible formatting characters")
	}
	if in.Description != nil {
		v.Check(validText(*in.Description, 0, MaxDescriptionLength, true), "description", "must be at most 5000 characters of text")
	}
	if in.PriceCents != nil {
		v.Check(*in.PriceCents >= 0 && *in.PriceCents <= MaxPriceCents, "price_cents", "must be an integer from 0 to 100000000")
	}
	if in.Currency != nil {
		v.Check(currencyPattern.MatchString(*in.Currency), "currency", "must be a three-letter ISO 4217 code in capitals, such as USD")
	}
	if in.Stock != nil {
		v.Check(*in.Stock >= 0 && *in.Stock <= MaxStock, "stock", "must be an integer from 0 to 1000000")
	}
	if in.Category != nil {
		v.Check(ValidSlug(*in.Category), "category", "must be a slug: lowercase letters and digits in words joined by '-', at most 64 characters")
	}
	if in.CategoryName != nil {
		v.Check(validName(*in.CategoryName, MaxCategoryNameLength), "category_name", "must be 1 to 100 characters of text, not only spaces, without control or invisible formatting characters")
	}
}

// Apply returns p with every field present in in set.
func (in ProductInput) Apply(p Product) Product {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.SKU, in.SKU)
	set(&p.Name, in.Name)
	set(&p.Description, in.Description)
	set(&p.Currency, in.Currency)
	set(&p.Category, in.Category)
	if in.PriceCents != nil {
		p.PriceCents = *in.PriceCents
	}
	if in.Stock != nil {
		p.Stock = *in.Stock
	}
	return p
}

// ProductFilter selects a page of products.
type ProductFilter struct {
	Query    string // full-text search over name and description
	Category string // category slug
	Limit    int    // 1..MaxLimit
	After    string // id of the last product of the previous page
}

// Page sizes and the longest search.
const (
	DefaultLimit   = 20
	MaxLimit       = 100
	MaxQueryLength = 200
)

// Validate checks a filter built from client input.
func (f ProductFilter) Validate() error {
	var v apperr.Validation
	v.Check(validText(f.Query, 0, MaxQueryLength, false), "q", "must be at most 200 characters of text")
	v.Check(f.Category == "" || ValidSlug(f.Category), "category", "must be a category slug")
	v.Check(ident.ValidLimit(f.Limit, MaxLimit), "limit", ident.LimitMessage(MaxLimit))
	v.Check(f.After == "" || ident.IsUUID(f.After), "cursor", ident.CursorMessage)
	return v.Err()
}

// ProductPage is one page of a listing; Next is empty on the last page.
type ProductPage struct {
	Items []Product
	Next  string
}

// ProductNotFound is the error for an id that names no live product.
func ProductNotFound(id string) error {
	return apperr.Errorf(apperr.NotFound, "No product has id %q.", id)
}
