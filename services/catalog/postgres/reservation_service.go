package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// ReservationService implements catalog.ReservationService on PostgreSQL.
//
// Every call for an order id starts by inserting that id's row in
// reservations (or finding it there): PostgreSQL makes a second inserter of
// the same key wait until the first commits or rolls back, so calls for one
// order run one after the other and never reserve twice. Product rows are
// then locked in id order, the same order in every transaction, so
// reservations and releases of overlapping products never deadlock.
type ReservationService struct {
	pool *pgxpool.Pool
}

var _ catalog.ReservationService = (*ReservationService)(nil)

// NewReservationService returns a ReservationService using pool.
func NewReservationService(pool *pgxpool.Pool) *ReservationService {
	return &ReservationService{pool: pool}
}

// Reserve takes stock for every line of r, or for none.
func (s *ReservationService) Reserve(ctx context.Context, r catalog.ReservationRequest) (catalog.Reservation, error) {
	r, err := r.Normalize()
	if err != nil {
		return catalog.Reservation{}, err
	}
	var res catalog.Reservation
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO reservations (order_id, status) VALUES ($1, 'reserved') ON CONFLICT (order_id) DO NOTHING`, r.OrderID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if res, err = findReservation(ctx, tx, r.OrderID, ""); err != nil {
				return err
			}
			if res.Status == catalog.StatusReleased {
				return apperr.Errorf(apperr.Conflict, "Order %s was released; it cannot be reserved again.", r.OrderID)
			}
			res.Replayed = true
			return nil
		}
		res, err = reserve(ctx, tx, r)
		return err
	})
	if err != nil {
		return catalog.Reservation{}, storeError("reserve", err)
	}
	return res, nil
}

// reserve decrements the stock of every line, failing the whole
// transaction on the first line that cannot be met, and records the lines.
func reserve(ctx context.Context, tx pgx.Tx, r catalog.ReservationRequest) (catalog.Reservation, error) {
	ids := make([]string, len(r.Items))
	for i, line := range r.Items {
		ids[i] = line.ProductID
	}
	// Unknown products are reported before any stock is looked at, so that
	// a request naming one is always a 422, whatever the stock of the rest.
	rows, err := tx.Query(ctx, `SELECT id::text FROM products WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids)
	if err != nil {
		return catalog.Reservation{}, err
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return catalog.Reservation{}, err
	}
	for _, id := range ids {
		if !slices.Contains(live, id) {
			return catalog.Reservation{}, catalog.UnknownProduct(id)
		}
	}

	items := make([]catalog.ReservedItem, len(r.Items))
	for _, i := range lockOrder(ids) {
		line := r.Items[i]
		it := catalog.ReservedItem{ProductID: line.ProductID, Quantity: line.Quantity}
		err := tx.QueryRow(ctx, `
			UPDATE products SET stock = stock - $2, updated_at = now()
			WHERE id = $1 AND deleted_at IS NULL AND stock >= $2
			RETURNING sku, name, price_cents, currency`, line.ProductID, line.Quantity,
		).Scan(&it.SKU, &it.Name, &it.UnitPriceCents, &it.Currency)
		if errors.Is(err, pgx.ErrNoRows) {
			return catalog.Reservation{}, shortage(ctx, tx, line)
		}
		if err != nil {
			return catalog.Reservation{}, err
		}
		items[i] = it
	}

	// One INSERT for all lines: unnest turns the column arrays into rows.
	n := len(items)
	position, quantity := make([]int16, n), make([]int32, n)
	productID, sku, name, currency := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	unitPriceCents := make([]int64, n)
	for i, it := range items {
		position[i], quantity[i] = int16(i), int32(it.Quantity)
		productID[i], sku[i], name[i], currency[i] = it.ProductID, it.SKU, it.Name, it.Currency
		unitPriceCents[i] = it.UnitPriceCents
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO reservation_lines (order_id, position, product_id, sku, name, quantity, unit_price_cents, currency)
		SELECT $1, l.position, l.product_id, l.sku, l.name, l.quantity, l.unit_price_cents, l.currency
		FROM unnest($2::smallint[], $3::uuid[], $4::text[], $5::text[], $6::integer[], $7::bigint[], $8::text[])
			AS l (position, product_id, sku, name, quantity, unit_price_cents, currency)`,
		r.OrderID, position, productID, sku, name, quantity, unitPriceCents, currency,
	); err != nil {
		return catalog.Reservation{}, err
	}
	return catalog.Reservation{OrderID: r.OrderID, Status: catalog.StatusReserved, Items: items}, nil
}

// shortage explains why line could not be reserved: its product went away
// meanwhile, or it has too little stock.
func shortage(ctx context.Context, tx pgx.Tx, line catalog.ReservationLine) error {
	var sku string
	var stock int
	err := tx.QueryRow(ctx, `SELECT sku, stock FROM products WHERE id = $1 AND deleted_at IS NULL`, line.ProductID).Scan(&sku, &stock)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.UnknownProduct(line.ProductID)
	}
	if err != nil {
		return err
	}
	return apperr.Errorf(apperr.OutOfStock, "Product %s (SKU %s) has %d in stock; %d were asked for.", line.ProductID, sku, stock, line.Quantity)
}

// Release gives back the stock reserved under orderID, once.
func (s *ReservationService) Release(ctx context.Context, orderID string) (catalog.Reservation, error) {
	if !ident.IsUUID(orderID) {
		return catalog.Reservation{}, &apperr.Error{Code: apperr.Invalid, Message: "The order id is not valid.",
			Fields: []apperr.FieldError{{Field: "order_id", Message: "must be a UUID"}}}
	}
	orderID = catalog.NormalizeID(orderID)
	var res catalog.Reservation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO reservations (order_id, status, released_at) VALUES ($1, 'released', now()) ON CONFLICT (order_id) DO NOTHING`, orderID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			res = catalog.Reservation{OrderID: orderID, Status: catalog.StatusReleased, Items: []catalog.ReservedItem{}}
			return nil
		}
		if res, err = findReservation(ctx, tx, orderID, " FOR UPDATE"); err != nil {
			return err
		}
		if res.Status == catalog.StatusReleased {
			res.Replayed = true
			return nil
		}
		ids := make([]string, len(res.Items))
		for i, it := range res.Items {
			ids[i] = it.ProductID
		}
		for _, i := range lockOrder(ids) {
			it := res.Items[i]
			if _, err := tx.Exec(ctx, `UPDATE products SET stock = stock + $2, updated_at = now() WHERE id = $1`, it.ProductID, it.Quantity); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE reservations SET status = 'released', released_at = now() WHERE order_id = $1`, orderID); err != nil {
			return err
		}
		res.Status = catalog.StatusReleased
		return nil
	})
	if err != nil {
		return catalog.Reservation{}, storeError("release", err)
	}
	return res, nil
}

// FindReservation returns what is recorded under orderID.
func (s *ReservationService) FindReservation(ctx context.Context, orderID string) (catalog.Reservation, error) {
	if !ident.IsUUID(orderID) {
		return catalog.Reservation{}, catalog.ReservationNotFound(orderID)
	}
	res, err := findReservation(ctx, s.pool, catalog.NormalizeID(orderID), "")
	if err != nil {
		return catalog.Reservation{}, storeError("find reservation", err)
	}
	return res, nil
}

// querier is what findReservation needs of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// findReservation reads a reservation with its lines; lock is "" or a
// locking clause for the header row.
func findReservation(ctx context.Context, q querier, orderID, lock string) (catalog.Reservation, error) {
	res := catalog.Reservation{OrderID: orderID}
	err := q.QueryRow(ctx, `SELECT status FROM reservations WHERE order_id = $1`+lock, orderID).Scan(&res.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Reservation{}, catalog.ReservationNotFound(orderID)
	}
	if err != nil {
		return catalog.Reservation{}, err
	}
	rows, err := q.Query(ctx, `
		SELECT product_id::text, sku, name, quantity, unit_price_cents, currency
		FROM reservation_lines WHERE order_id = $1 ORDER BY position`, orderID)
	if err != nil {
		return catalog.Reservation{}, err
	}
	if res.Items, err = pgx.CollectRows(rows, pgx.RowToStructByPos[catalog.ReservedItem]); err != nil {
		return catalog.Reservation{}, err
	}
	if res.Items == nil {
		res.Items = []catalog.ReservedItem{}
	}
	return res, nil
}

// lockOrder returns the indexes of ids sorted by id: the order in which
// every transaction locks product rows.
func lockOrder(ids []string) []int {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	return order
}
