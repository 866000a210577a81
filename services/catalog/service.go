package catalog

import (
	"context"
	"log/slog"
	"time"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// ProductStore keeps products and categories. The Service hands it valid
// input only: filters and inputs that passed their checks, and ids that are
// UUIDs in lowercase. It answers NotFound for an id that names no live
// product, and Conflict for a SKU that a live product already has.
type ProductStore interface {
	// FindProducts returns one page of live products in id order.
	FindProducts(ctx context.Context, f ProductFilter) (ProductPage, error)
	FindProduct(ctx context.Context, id string) (Product, error)
	// FindCategories returns every category with its number of live
	// products.
	FindCategories(ctx context.Context) ([]Category, error)
	// CreateProduct stores a product made of in, creating its category if
	// needed.
	CreateProduct(ctx context.Context, in ProductInput) (Product, error)
	// UpdateProduct changes the fields present in in.
	UpdateProduct(ctx context.Context, id string, in ProductInput) (Product, error)
	// SetProductImage records the image a product shows; nil removes it.
	SetProductImage(ctx context.Context, id string, img *Image) (Product, error)
	// DeleteProduct takes a product out of the catalog; reservations that
	// name it keep their lines.
	DeleteProduct(ctx context.Context, id string) error
}

// ReservationStore takes stock for orders and gives it back. The Service
// hands it requests it has normalized (Normalize) and order ids that are
// UUIDs in lowercase.
//
// Reserve is idempotent per order id: a repeat returns the recorded result
// and reserves nothing more; after a release it fails with Conflict. It
// fails with OutOfStock when any line cannot be met and Unprocessable when
// any product is unknown, and then reserves nothing. Release puts the stock
// back exactly once; releasing an unknown order id records a tombstone.
//
// Reserved returns, in ascending order, at most limit order ids whose stock
// is reserved (neither released nor tombstones) with after < id < before, in
// PostgreSQL's uuid order, which for UUIDv7 is the order they were made. It
// returns an empty slice, never nil, when there are none.
type ReservationStore interface {
	Reserve(ctx context.Context, r ReservationRequest) (Reservation, error)
	Release(ctx context.Context, orderID string) (Reservation, error)
	FindReservation(ctx context.Context, orderID string) (Reservation, error)
	Reserved(ctx context.Context, after, before string, limit int) ([]string, error)
}

// ServiceConfig holds what a Service depends on.
type ServiceConfig struct {
	Products     ProductStore
	Reservations ReservationStore
	// Images checks and re-encodes image uploads, and Media keeps their
	// files.
	Images ImageProcessor
	Media  MediaStore
	Logger *slog.Logger
}

// Service carries out the catalog's use cases: it validates what clients
// send, then calls the stores. Its reads and writes of products answer
// NotFound for ids of any form that name no live product.
type Service struct {
	cfg ServiceConfig
}

// NewService returns a Service over cfg's dependencies.
func NewService(cfg ServiceConfig) *Service {
	return &Service{cfg: cfg}
}

// FindProducts returns one page of products in creation order.
func (s *Service) FindProducts(ctx context.Context, f ProductFilter) (ProductPage, error) {
	if err := f.Validate(); err != nil {
		return ProductPage{}, err
	}
	return s.cfg.Products.FindProducts(ctx, f)
}

// FindProduct returns the live product with id.
func (s *Service) FindProduct(ctx context.Context, id string) (Product, error) {
	if !ident.IsUUID(id) {
		return Product{}, ProductNotFound(id)
	}
	return s.cfg.Products.FindProduct(ctx, NormalizeID(id))
}

// FindCategories returns every category with its number of live products.
func (s *Service) FindCategories(ctx context.Context) ([]Category, error) {
	return s.cfg.Products.FindCategories(ctx)
}

// CreateProduct creates a product; its id is a UUIDv7, so id order is
// creation order.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (Product, error) {
	if err := in.ValidateCreate(); err != nil {
		return Product{}, err
	}
	return s.cfg.Products.CreateProduct(ctx, in)
}

// UpdateProduct changes the fields of the product with id that in sets.
func (s *Service) UpdateProduct(ctx context.Context, id string, in ProductInput) (Product, error) {
	if !ident.IsUUID(id) {
		return Product{}, ProductNotFound(id)
	}
	if err := in.ValidateUpdate(); err != nil {
		return Product{}, err
	}
	return s.cfg.Products.UpdateProduct(ctx, NormalizeID(id), in)
}

// DeleteProduct takes the product with id out of listings, counts and its
// SKU; reservations that name it keep a valid reference.
func (s *Service) DeleteProduct(ctx context.Context, id string) error {
	if !ident.IsUUID(id) {
		return ProductNotFound(id)
	}
	return s.cfg.Products.DeleteProduct(ctx, NormalizeID(id))
}

// Reserve takes stock for every line of r, or for none (see
// ReservationStore). It refuses, before looking at what is recorded (so
// repeats too), an order id that is not a UUIDv7 (Invalid) or was made more
// than MaxReservationAge ago by the catalog's clock (OrderExpired).
func (s *Service) Reserve(ctx context.Context, r ReservationRequest) (Reservation, error) {
	r, err := r.Normalize(time.Now())
	if err != nil {
		return Reservation{}, err
	}
	return s.cfg.Reservations.Reserve(ctx, r)
}

// Release gives back the stock reserved under orderID, once; an unknown
// order id leaves a tombstone.
func (s *Service) Release(ctx context.Context, orderID string) (Reservation, error) {
	if !ident.IsUUID(orderID) {
		return Reservation{}, &apperr.Error{Code: apperr.Invalid, Message: "The order id is not valid.",
			Fields: []apperr.FieldError{{Field: "order_id", Message: "must be a UUID"}}}
	}
	return s.cfg.Reservations.Release(ctx, NormalizeID(orderID))
}

// FindReservation returns what is recorded under orderID.
func (s *Service) FindReservation(ctx context.Context, orderID string) (Reservation, error) {
	if !ident.IsUUID(orderID) {
		return Reservation{}, ReservationNotFound(orderID)
	}
	return s.cfg.Reservations.FindReservation(ctx, NormalizeID(orderID))
}

// Reserved returns the order ids still reserved with after < id < before
// (see ReservationStore), after checking its arguments with
// ValidateReservedRange.
func (s *Service) Reserved(ctx context.Context, after, before string, limit int) ([]string, error) {
	if err := ValidateReservedRange(after, before, limit); err != nil {
		return nil, err
	}
	return s.cfg.Reservations.Reserved(ctx, after, before, limit)
}
