package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// recordingStores is both stores; each call records the id it was given.
type recordingStores struct {
	ids []string
}

func (r *recordingStores) record(id string) { r.ids = append(r.ids, id) }

func (r *recordingStores) FindProducts(context.Context, catalog.ProductFilter) (catalog.ProductPage, error) {
	r.record("")
	return catalog.ProductPage{}, nil
}

func (r *recordingStores) FindProduct(_ context.Context, id string) (catalog.Product, error) {
	r.record(id)
	return catalog.Product{ID: id}, nil
}

func (r *recordingStores) FindCategories(context.Context) ([]catalog.Category, error) {
	return nil, nil
}

func (r *recordingStores) CreateProduct(context.Context, catalog.ProductInput) (catalog.Product, error) {
	r.record("")
	return catalog.Product{}, nil
}

func (r *recordingStores) UpdateProduct(_ context.Context, id string, _ catalog.ProductInput) (catalog.Product, error) {
	r.record(id)
	return catalog.Product{}, nil
}

func (r *recordingStores) SetProductImage(_ context.Context, id string, _ *catalog.Image) (catalog.Product, error) {
	r.record(id)
	return catalog.Product{}, nil
}

func (r *recordingStores) DeleteProduct(_ context.Context, id string) error {
	r.record(id)
	return nil
}

func (r *recordingStores) Reserve(_ context.Context, req catalog.ReservationRequest) (catalog.Reservation, error) {
	r.record(req.OrderID)
	for _, l := range req.Items {
		r.record(l.ProductID)
	}
	return catalog.Reservation{}, nil
}

func (r *recordingStores) Release(_ context.Context, orderID string) (catalog.Reservation, error) {
	r.record(orderID)
	return catalog.Reservation{}, nil
}

func (r *recordingStores) FindReservation(_ context.Context, orderID string) (catalog.Reservation, error) {
	r.record(orderID)
	return catalog.Reservation{}, nil
}

func (r *recordingStores) Reserved(_ context.Context, after, before string, _ int) ([]string, error) {
	r.record(after)
	return nil, nil
}

// TestServiceHandsStoresValidInput holds the Service to what the stores
// rely on: an id or request it refuses never reaches them, and one it
// accepts reaches them in lowercase.
func TestServiceHandsStoresValidInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	id := "0190A5B4-1C2D-7E3F-8A4B-5C6D7E8F9A0B"
	order := strings.ToUpper(uuid.Must(uuid.NewV7()).String())
	old := "0190A5B4-0000-7000-8000-000000000001"
	in := catalog.ProductInput{Stock: ptr(1)}
	for _, c := range []struct {
		name string
		call func(s *catalog.Service) error
		code string   // of the refusal, "" for none
		ids  []string // what reached the stores
	}{
		{"find", func(s *catalog.Service) error { _, err := s.FindProduct(ctx, id); return err }, "", []string{strings.ToLower(id)}},
		{"find not an id", func(s *catalog.Service) error { _, err := s.FindProduct(ctx, "abc"); return err }, apperr.NotFound, nil},
		{"update", func(s *catalog.Service) error { _, err := s.UpdateProduct(ctx, id, in); return err }, "", []string{strings.ToLower(id)}},
		{"update nothing", func(s *catalog.Service) error { _, err := s.UpdateProduct(ctx, id, catalog.ProductInput{}); return err }, apperr.Invalid, nil},
		{"create invalid", func(s *catalog.Service) error { _, err := s.CreateProduct(ctx, in); return err }, apperr.Invalid, nil},
		{"list invalid", func(s *catalog.Service) error { _, err := s.FindProducts(ctx, catalog.ProductFilter{}); return err }, apperr.Invalid, nil},
		{"delete", func(s *catalog.Service) error { return s.DeleteProduct(ctx, id) }, "", []string{strings.ToLower(id)}},
		{"delete not an id", func(s *catalog.Service) error { return s.DeleteProduct(ctx, "1; --") }, apperr.NotFound, nil},
		// Found first: the files of the image it shows are released.
		{"remove image", func(s *catalog.Service) error { return s.RemoveImage(ctx, id) }, "", []string{strings.ToLower(id), strings.ToLower(id)}},
		{"image not an id", func(s *catalog.Service) error { _, err := s.SetImage(ctx, "abc", "image/png", nil); return err }, apperr.NotFound, nil},
		{"image of a wrong type", func(s *catalog.Service) error { _, err := s.SetImage(ctx, id, "image/gif", nil); return err }, apperr.Unsupported, nil},
		{"reserve", func(s *catalog.Service) error {
			_, err := s.Reserve(ctx, catalog.ReservationRequest{OrderID: order, Items: []catalog.ReservationLine{{ProductID: id, Quantity: 1}}})
			return err
		}, "", []string{strings.ToLower(order), strings.ToLower(id)}},
		{"reserve expired", func(s *catalog.Service) error {
			_, err := s.Reserve(ctx, catalog.ReservationRequest{OrderID: old, Items: []catalog.ReservationLine{{ProductID: id, Quantity: 1}}})
			return err
		}, apperr.Conflict, nil},
		{"release", func(s *catalog.Service) error { _, err := s.Release(ctx, id); return err }, "", []string{strings.ToLower(id)}},
		{"release not an id", func(s *catalog.Service) error { _, err := s.Release(ctx, "x"); return err }, apperr.Invalid, nil},
		{"find reservation", func(s *catalog.Service) error { _, err := s.FindReservation(ctx, id); return err }, "", []string{strings.ToLower(id)}},
		{"find reservation not an id", func(s *catalog.Service) error { _, err := s.FindReservation(ctx, "x"); return err }, apperr.NotFound, nil},
		{"reserved out of range", func(s *catalog.Service) error {
			_, err := s.Reserved(ctx, id, id, catalog.MaxReservedLimit+1)
			return err
		}, apperr.Invalid, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			stores := &recordingStores{}
			s := catalog.NewService(catalog.ServiceConfig{Products: stores, Reservations: stores})
			err := c.call(s)
			if got := apperr.Code(err); (err == nil) != (c.code == "") || c.code != "" && got != c.code {
				t.Errorf("error %v (code %q), want code %q", err, got, c.code)
			}
			if strings.Join(stores.ids, " ") != strings.Join(c.ids, " ") {
				t.Errorf("the stores got %q, want %q", stores.ids, c.ids)
			}
		})
	}
}
