package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// ReservationStore implements catalog.ReservationStore on PostgreSQL.
//
// Every call for an order id starts by inserting that id's row in
// reservations (or finding it there): PostgreSQL makes a second inserter of
// the same key wait until the first commits or rolls back, so calls for one
// order run one after the other and never reserve twice. Product rows are
// then locked in id order, the same order in every transaction, so
// reservations and releases of overlapping products never deadlock.
type ReservationStore struct {
	pool *pgxpool.Pool
}

var _ catalog.ReservationStore = (*ReservationStore)(nil)

// NewReservationStore returns a ReservationStore using pool.
func NewReservationStore(pool *pgxpool.Pool) *ReservationStore {
	return &ReservationStore{pool: pool}
}

// reserve takes the stock of every line of an order and records the lines,
// in one statement: one round trip and one commit, where a transaction of
// separate statements took six round trips. It is all or nothing because
// a statement is: a line that cannot be met makes it fail, and the failure
// undoes every other line. A product short of stock breaks products'
// CHECK (stock >= 0); an unknown or deleted one leaves its line without a
// name, which reservation_lines refuses (NOT NULL). When the order id was
// already claimed it changes nothing and returns no row.
//
// The lines' products are locked in id order (locked) before any is
// updated; the update then sees their latest stock.
const reserveStock = `
	WITH claim AS (
		INSERT INTO reservations (order_id, status) VALUES ($1, 'reserved')
		ON CONFLICT (order_id) DO NOTHING
		RETURNING order_id
	), req AS (
		SELECT l.product_id, l.quantity, l.position - 1 AS position
		FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (product_id uuid, quantity integer))
			WITH ORDINALITY AS l (product_id, quantity, position)
		WHERE EXISTS (SELECT FROM claim)
	), locked AS (
		SELECT p.id FROM products p JOIN req ON p.id = req.product_id
		WHERE p.deleted_at IS NULL
		ORDER BY p.id
		FOR UPDATE OF p
	), taken AS (
		UPDATE products p SET stock = p.stock - req.quantity, updated_at = now()
		FROM locked, req
		WHERE p.id = locked.id AND req.product_id = locked.id
		RETURNING p.id, p.sku, p.name, p.price_cents, p.currency
	)
	INSERT INTO reservation_lines (order_id, position, product_id, sku, name, quantity, unit_price_cents, currency)
	SELECT $1, req.position, req.product_id, taken.sku, taken.name, req.quantity, taken.price_cents, taken.currency
	FROM req LEFT JOIN taken ON taken.id = req.product_id
	RETURNING position, product_id::text, sku, name, quantity, unit_price_cents, currency`

// Reserve takes stock for every line of r, or for none.
func (s *ReservationStore) Reserve(ctx context.Context, r catalog.ReservationRequest) (catalog.Reservation, error) {
	// The lines go as one JSON parameter: pgx encodes two arrays of them
	// through reflection, at 7% of this service's CPU.
	lines, err := json.Marshal(r.Items)
	if err != nil {
		return catalog.Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	// A refused line is explained by a second look; if by then every line
	// could be met (stock came back meanwhile), the reservation is tried
	// again.
	for range 3 {
		res, err := s.reserve(ctx, r.OrderID, lines)
		if !refusedLine(err) {
			return res, err
		}
		if err := s.whyRefused(ctx, r); err != nil {
			return catalog.Reservation{}, err
		}
	}
	return catalog.Reservation{}, apperr.Errorf(apperr.OutOfStock, "The stock of these products is changing fast; nothing was reserved. Try again.")
}

// reserve runs reserveStock, then reads what an earlier call recorded when
// the order id was already claimed.
func (s *ReservationStore) reserve(ctx context.Context, orderID string, lines json.RawMessage) (catalog.Reservation, error) {
	type line struct {
		Position int16
		catalog.ReservedItem
	}
	var reserved []line
	rows, err := s.pool.Query(ctx, reserveStock, orderID, lines)
	if err == nil {
		reserved, err = pgx.CollectRows(rows, pgx.RowToStructByPos[line])
	}
	if refusedLine(err) {
		return catalog.Reservation{}, err
	}
	if err != nil {
		return catalog.Reservation{}, storeError("reserve", err)
	}
	if len(reserved) == 0 {
		res, err := findReservation(ctx, s.pool, orderID, "")
		if err != nil {
			return catalog.Reservation{}, storeError("reserve", err)
		}
		if res.Status == catalog.StatusReleased {
			return catalog.Reservation{}, apperr.Errorf(apperr.Conflict, "Order %s was released; it cannot be reserved again.", orderID)
		}
		res.Replayed = true
		return res, nil
	}
	res := catalog.Reservation{OrderID: orderID, Status: catalog.StatusReserved, Items: make([]catalog.ReservedItem, len(reserved))}
	for _, l := range reserved {
		res.Items[l.Position] = l.ReservedItem
	}
	return res, nil
}

// refusedLine reports whether err is reserveStock refusing a line: a
// product short of stock or unknown.
func refusedLine(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == "23514" && pgErr.ConstraintName == "products_stock_check" || // check_violation
			pgErr.Code == "23502" && pgErr.TableName == "reservation_lines") // not_null_violation
}

// whyRefused returns the error for the first line of r whose product is
// unknown, or else the first that is short of
// stock, or nil when every line could be met now. Unknown products come
// first, so that a request naming one is always a 422, whatever the stock
// of the rest.
func (s *ReservationStore) whyRefused(ctx context.Context, r catalog.ReservationRequest) error {
	ids := make([]string, len(r.Items))
	for i, line := range r.Items {
		ids[i] = line.ProductID
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text, sku, stock FROM products WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids)
	if err != nil {
		return storeError("reserve", err)
	}
	type stock struct {
		SKU   string
		Stock int
	}
	live := map[string]stock{}
	var id string
	var st stock
	if _, err := pgx.ForEachRow(rows, []any{&id, &st.SKU, &st.Stock}, func() error { live[id] = st; return nil }); err != nil {
		return storeError("reserve", err)
	}
	for _, line := range r.Items {
		if _, ok := live[line.ProductID]; !ok {
			return catalog.UnknownProduct(line.ProductID)
		}
	}
	for _, line := range r.Items {
		if st := live[line.ProductID]; st.Stock < line.Quantity {
			return apperr.Errorf(apperr.OutOfStock, "Product %s (SKU %s) has %d in stock; %d were asked for.", line.ProductID, st.SKU, st.Stock, line.Quantity)
		}
	}
	return nil
}

// Release gives back the stock reserved under orderID, once.
func (s *ReservationStore) Release(ctx context.Context, orderID string) (catalog.Reservation, error) {
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
func (s *ReservationStore) FindReservation(ctx context.Context, orderID string) (catalog.Reservation, error) {
	res, err := findReservation(ctx, s.pool, orderID, "")
	if err != nil {
		return catalog.Reservation{}, storeError("find reservation", err)
	}
	return res, nil
}

// Reserved returns the order ids still reserved with after < id < before.
func (s *ReservationStore) Reserved(ctx context.Context, after, before string, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT order_id::text FROM reservations
		WHERE status = 'reserved' AND order_id > $1 AND order_id < $2
		ORDER BY order_id LIMIT $3`, after, before, limit)
	var ids []string
	if err == nil {
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return nil, storeError("list reservations", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
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
