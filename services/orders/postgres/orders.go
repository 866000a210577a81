package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"bazaar/orders"
	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// create records a confirmed order with its items in one statement: atomic
// without a transaction, so one round trip to PostgreSQL. The items come
// as one JSON array, numbered in their order. With an idempotency key ($6
// not NULL), the order is recorded only if the key's claim (token $7) still
// stands, and is linked to it.
//
// The same statement counts the order, of $8 units, in its user's totals,
// and records it only if that leaves them within the limits ($9 open
// orders, $10 units; 0 is no limit). Concurrent placements of one user
// queue on the user's totals row, whose lock is held for this statement
// alone, and each one checks the limits against the totals the one before
// it left.
//
// It answers one row: when the order was created, NULL when it was not,
// and whether the claim stood (true without a key): an order not recorded
// under a standing claim was refused by a limit.
const create = `
	WITH claim AS (
		UPDATE idempotency_keys SET order_id = $1
		WHERE user_id = $2 AND key = $6 AND token = $7
		RETURNING 1
	), counted AS (
		INSERT INTO user_order_totals AS t (user_id, open_orders, reserved_units)
		SELECT $2, 1, $8::bigint
		WHERE ($6::text IS NULL OR EXISTS (SELECT FROM claim))
			AND ($9::integer = 0 OR 1 <= $9) AND ($10::bigint = 0 OR $8 <= $10)
		ON CONFLICT (user_id) DO UPDATE
		SET open_orders = t.open_orders + 1, reserved_units = t.reserved_units + excluded.reserved_units
		WHERE ($9 = 0 OR t.open_orders < $9) AND ($10 = 0 OR t.reserved_units + excluded.reserved_units <= $10)
		RETURNING 1
	), created AS (
		INSERT INTO orders (id, user_id, status, total_cents, currency, counted)
		SELECT $1, $2, 'confirmed', $3, $4, true
		WHERE EXISTS (SELECT FROM counted)
		RETURNING created_at
	), items AS (
		INSERT INTO order_items (order_id, line, product_id, sku, name, quantity, unit_price_cents)
		SELECT $1, l.line - 1, l.product_id, l.sku, l.name, l.quantity, l.unit_price_cents
		FROM ROWS FROM (jsonb_to_recordset($5::jsonb)
			AS (product_id uuid, sku text, name text, quantity integer, unit_price_cents bigint))
			WITH ORDINALITY AS l (product_id, sku, name, quantity, unit_price_cents, line)
		WHERE EXISTS (SELECT FROM created)
	)
	SELECT (SELECT created_at FROM created), $6::text IS NULL OR EXISTS (SELECT FROM claim)`

// Create implements orders.Store. When a limit refuses the order, the
// user's totals are read again to say which: the statement's own snapshot
// may predate the placement that took the room. Should the totals have
// room by then (an order was cancelled meanwhile), the order is recorded
// after all; the check and the count stay one statement.
func (s *Store) Create(ctx context.Context, o orders.Order, claim *orders.KeyClaim, limits orders.Limits) (time.Time, error) {
	items, err := json.Marshal(o.Items)
	if err != nil {
		return time.Time{}, fmt.Errorf("create order %s: %w", o.ID, err)
	}
	var key, token *string
	if claim != nil {
		key, token = &claim.Key, &claim.Token
	}
	units := o.Units()
	for range 3 {
		var created *time.Time
		var claimed bool
		err = s.pool.QueryRow(ctx, create, o.ID, o.UserID, o.TotalCents, o.Currency, json.RawMessage(items), key, token,
			units, limits.OpenOrders, limits.ReservedUnits).Scan(&created, &claimed)
		switch {
		case err != nil:
			return time.Time{}, pg.Wrap("create order "+o.ID, err)
		case created != nil:
			return *created, nil
		case !claimed:
			return time.Time{}, orders.ErrKeyInFlight // another request took the key over
		}
		totals, err := s.Totals(ctx, o.UserID)
		if err != nil {
			return time.Time{}, err
		}
		if err := limits.Allow(totals, units); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, fmt.Errorf("create order %s: refused by the limits of open orders, yet the totals read after it had room", o.ID)
}

// Totals returns what the user's open orders hold.
func (s *Store) Totals(ctx context.Context, userID string) (orders.Totals, error) {
	var t orders.Totals
	err := s.pool.QueryRow(ctx, `SELECT open_orders, reserved_units FROM user_order_totals WHERE user_id = $1`, userID).
		Scan(&t.OpenOrders, &t.ReservedUnits)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return orders.Totals{}, pg.Wrap("read the totals of open orders", err)
	}
	return t, nil
}

// recorded lists the statuses of orders. The previous release also kept
// requests that never became orders (pending, rejected, failed); reads
// leave those out.
const recorded = `('confirmed', 'cancelling', 'cancelled')`

const orderColumns = `id::text, user_id, status, coalesce(total_cents, 0), coalesce(currency, ''), created_at`

func scanOrder(row pgx.Row) (orders.Order, error) {
	var o orders.Order
	err := row.Scan(&o.ID, &o.UserID, &o.Status, &o.TotalCents, &o.Currency, &o.CreatedAt)
	return o, err
}

// Order implements orders.Store.
func (s *Store) Order(ctx context.Context, id string) (orders.Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE id = $1 AND status IN `+recorded, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return orders.Order{}, apperr.Errorf(apperr.NotFound, "No order has id %q.", id)
	}
	if err != nil {
		return orders.Order{}, pg.Wrap("find order", err)
	}
	list := []orders.Order{o}
	if err := s.fillItems(ctx, list); err != nil {
		return orders.Order{}, err
	}
	return list[0], nil
}

// Orders implements orders.Store. Pages are keyset-paginated on
// (created_at, id), so concurrent inserts never make a page repeat or skip
// an order.
func (s *Store) Orders(ctx context.Context, userID string, p orders.PageRequest) (orders.Page, error) {
	args := pgx.NamedArgs{"user": userID, "limit": p.Limit + 1}
	where := `user_id = @user AND status IN ` + recorded
	if p.After != nil {
		where += ` AND (created_at, id) < (@after_at, @after_id)`
		args["after_at"], args["after_id"] = p.After.CreatedAt, p.After.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+where+
		` ORDER BY created_at DESC, id DESC LIMIT @limit`, args)
	if err != nil {
		return orders.Page{}, pg.Wrap("list orders", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orders.Order, error) { return scanOrder(r) })
	if err != nil {
		return orders.Page{}, pg.Wrap("list orders", err)
	}
	page := orders.Page{Items: list}
	if len(list) > p.Limit {
		page.Items = list[:p.Limit]
		last := page.Items[p.Limit-1]
		page.Next = &orders.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if err := s.fillItems(ctx, page.Items); err != nil {
		return orders.Page{}, err
	}
	return page, nil
}

// fillItems loads the lines of every order in list with one query.
func (s *Store) fillItems(ctx context.Context, list []orders.Order) error {
	ids := make([]string, len(list))
	index := make(map[string]int, len(list))
	for i := range list {
		ids[i] = list[i].ID
		index[list[i].ID] = i
		list[i].Items = []orders.Item{}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT order_id::text, product_id::text, sku, name, quantity, unit_price_cents
		FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line`, ids)
	if err != nil {
		return pg.Wrap("find order items", err)
	}
	var orderID string
	var it orders.Item
	_, err = pgx.ForEachRow(rows, []any{&orderID, &it.ProductID, &it.SKU, &it.Name, &it.Quantity, &it.UnitPriceCents}, func() error {
		i := index[orderID]
		list[i].Items = append(list[i].Items, it)
		return nil
	})
	if err != nil {
		return pg.Wrap("find order items", err)
	}
	return nil
}

// BeginCancel implements orders.Store.
func (s *Store) BeginCancel(ctx context.Context, id string, lease time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE orders SET status = 'cancelling', settle_after = now() + $2::bigint * interval '1 microsecond', updated_at = now()
		WHERE id = $1 AND (status = 'confirmed' OR status = 'cancelling' AND settle_after <= now())`,
		id, micros(lease))
	if err != nil {
		return false, pg.Wrap("begin cancel", err)
	}
	return tag.RowsAffected() == 1, nil
}

// HandOff implements orders.Store.
func (s *Store) HandOff(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE orders SET settle_after = now() WHERE id = $1 AND status = 'cancelling'`, id); err != nil {
		return pg.Wrap("hand off cancellation", err)
	}
	return nil
}

// finishCancel moves a cancelling order to cancelled and, in the same
// statement, takes it out of its user's totals, if it is counted there
// (see migration 0003), and answers whether it did.
const finishCancel = `
	WITH finished AS (
		UPDATE orders SET status = 'cancelled', updated_at = now()
		WHERE id = $1 AND status = 'cancelling'
		RETURNING id, user_id, counted
	), uncounted AS (
		UPDATE user_order_totals t
		SET open_orders = t.open_orders - 1,
			reserved_units = t.reserved_units - (SELECT coalesce(sum(quantity), 0) FROM order_items WHERE order_id = f.id)
		FROM finished f
		WHERE t.user_id = f.user_id AND f.counted
	)
	SELECT EXISTS (SELECT FROM finished)`

// FinishCancel implements orders.Store.
func (s *Store) FinishCancel(ctx context.Context, id string) (orders.Order, bool, error) {
	var finished bool
	if err := s.pool.QueryRow(ctx, finishCancel, id).Scan(&finished); err != nil {
		return orders.Order{}, false, pg.Wrap("finish cancel", err)
	}
	o, err := s.Order(ctx, id)
	return o, finished, err
}

// ClaimCancelling implements orders.Store. SKIP LOCKED lets replicas claim
// disjoint batches; the lease (settle_after moved ahead) keeps a claimed
// order away from other rounds while its catalog call runs outside any
// transaction.
func (s *Store) ClaimCancelling(ctx context.Context, limit int, lease time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE orders SET settle_after = now() + $2::bigint * interval '1 microsecond'
		WHERE id IN (
			SELECT id FROM orders
			WHERE status = 'cancelling' AND settle_after <= now()
			ORDER BY settle_after LIMIT $1
			FOR UPDATE SKIP LOCKED)
		RETURNING id::text`, limit, micros(lease))
	if err != nil {
		return nil, pg.Wrap("claim cancelling orders", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, pg.Wrap("claim cancelling orders", err)
	}
	return ids, nil
}

// Existing implements orders.Store.
func (s *Store) Existing(ctx context.Context, ids []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id::text FROM orders
		WHERE id = ANY($1::uuid[]) AND status IN `+recorded, ids)
	if err != nil {
		return nil, pg.Wrap("find orders", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, pg.Wrap("find orders", err)
	}
	return found, nil
}

// SweptThrough implements orders.Store.
func (s *Store) SweptThrough(ctx context.Context) (string, error) {
	var through string
	if err := s.pool.QueryRow(ctx, `SELECT through::text FROM reservation_sweep`).Scan(&through); err != nil {
		return "", pg.Wrap("read the sweep position", err)
	}
	return through, nil
}

// AdvanceSweep implements orders.Store.
func (s *Store) AdvanceSweep(ctx context.Context, from, to string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE reservation_sweep SET through = $2 WHERE through = $1`, from, to)
	if err != nil {
		return false, pg.Wrap("advance the sweep position", err)
	}
	return tag.RowsAffected() == 1, nil
}
