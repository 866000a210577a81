package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"bazaar/orders"
	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// insertPending inserts a pending order, due for the reconciler after
// settleAfter.
const insertPending = `
	INSERT INTO orders (id, user_id, status, settle_after)
	VALUES ($1, $2, 'pending', now() + $3::bigint * interval '1 microsecond')`

// CreatePending implements orders.Store. Without a claim it is one
// statement, committed on its own: a transaction would cost two more round
// trips to PostgreSQL on every placement.
func (s *Store) CreatePending(ctx context.Context, o orders.Order, claim *orders.KeyClaim, settleAfter time.Duration) error {
	if claim == nil {
		if _, err := s.pool.Exec(ctx, insertPending, o.ID, o.UserID, micros(settleAfter)); err != nil {
			return pg.Wrap("create pending order", err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertPending, o.ID, o.UserID, micros(settleAfter)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE idempotency_keys SET order_id = $1 WHERE user_id = $2 AND key = $3 AND token = $4`,
			o.ID, claim.UserID, claim.Key, claim.Token)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return orders.ErrKeyInFlight // another request took the key over
		}
		return nil
	})
	if errors.Is(err, orders.ErrKeyInFlight) {
		return err
	}
	if err != nil {
		return pg.Wrap("create pending order", err)
	}
	return nil
}

// settle moves a pending order to its final status and inserts its items,
// in one statement: atomic without a transaction, so one round trip to
// PostgreSQL where BEGIN, UPDATE, COPY and COMMIT took five. The items are
// inserted only when the update matched (unnest turns the column arrays
// into rows); no row comes back when it did not.
const settle = `
	WITH settled AS (
		UPDATE orders SET status = $2, total_cents = $3, currency = $4, reject_reason = $5, updated_at = now()
		WHERE id = $1 AND status = 'pending' AND settle_attempts = 0
		RETURNING user_id, created_at
	), items AS (
		INSERT INTO order_items (order_id, line, product_id, sku, name, quantity, unit_price_cents)
		SELECT $1, l.line, l.product_id, l.sku, l.name, l.quantity, l.unit_price_cents
		FROM unnest($6::integer[], $7::uuid[], $8::text[], $9::text[], $10::integer[], $11::bigint[])
			AS l (line, product_id, sku, name, quantity, unit_price_cents)
		WHERE EXISTS (SELECT FROM settled)
	)
	SELECT user_id, created_at FROM settled`

// Settle implements orders.Store.
func (s *Store) Settle(ctx context.Context, id string, st orders.Settlement) (orders.Order, error) {
	if st.Status != orders.StatusConfirmed && st.Status != orders.StatusRejected || !orders.StatusPending.CanBecome(st.Status) {
		return orders.Order{}, fmt.Errorf("settle order %s: a request cannot settle an order as %q", id, st.Status)
	}
	o := orders.Order{ID: id, Status: st.Status, Items: st.Items, TotalCents: st.TotalCents, Currency: st.Currency}
	var total *int64
	var currency, reason *string
	if st.Status == orders.StatusConfirmed {
		total, currency = &st.TotalCents, &st.Currency
	} else {
		reason = &st.Reason
	}
	n := len(st.Items)
	line, quantity := make([]int32, n), make([]int32, n)
	productID, sku, name := make([]string, n), make([]string, n), make([]string, n)
	unitPriceCents := make([]int64, n)
	for i, it := range st.Items {
		line[i], productID[i], sku[i], name[i] = int32(i), it.ProductID, it.SKU, it.Name
		quantity[i], unitPriceCents[i] = int32(it.Quantity), it.UnitPriceCents
	}
	err := s.pool.QueryRow(ctx, settle, id, st.Status, total, currency, reason,
		line, productID, sku, name, quantity, unitPriceCents).Scan(&o.UserID, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return orders.Order{}, fmt.Errorf("settle order %s: %w", id, orders.ErrTakenOver)
	}
	if err != nil {
		return orders.Order{}, pg.Wrap("settle order "+id, err)
	}
	if o.Items == nil {
		o.Items = []orders.Item{}
	}
	return o, nil
}

const orderColumns = `id::text, user_id, status, coalesce(total_cents, 0), coalesce(currency, ''), created_at`

func scanOrder(row pgx.Row) (orders.Order, error) {
	var o orders.Order
	err := row.Scan(&o.ID, &o.UserID, &o.Status, &o.TotalCents, &o.Currency, &o.CreatedAt)
	return o, err
}

// Order implements orders.Store.
func (s *Store) Order(ctx context.Context, id string) (orders.Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
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
	where := `user_id = @user AND status IN ('confirmed', 'cancelling', 'cancelled')`
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

// FinishCancel implements orders.Store.
func (s *Store) FinishCancel(ctx context.Context, id string) (orders.Order, bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE orders SET status = 'cancelled', updated_at = now() WHERE id = $1 AND status = 'cancelling'`, id)
	if err != nil {
		return orders.Order{}, false, pg.Wrap("finish cancel", err)
	}
	o, err := s.Order(ctx, id)
	return o, tag.RowsAffected() == 1, err
}

// ClaimUnsettled implements orders.Store. SKIP LOCKED lets replicas claim
// disjoint batches; the lease (settle_after moved ahead) keeps a claimed
// order away from other rounds while its catalog calls run outside any
// transaction.
func (s *Store) ClaimUnsettled(ctx context.Context, limit int, lease time.Duration) ([]orders.Unsettled, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE orders SET settle_after = now() + $2::bigint * interval '1 microsecond', settle_attempts = settle_attempts + 1
		WHERE id IN (
			SELECT id FROM orders
			WHERE status IN ('pending', 'cancelling') AND settle_after <= now()
			ORDER BY settle_after LIMIT $1
			FOR UPDATE SKIP LOCKED)
		RETURNING id::text, status`, limit, micros(lease))
	if err != nil {
		return nil, pg.Wrap("claim unsettled orders", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orders.Unsettled])
	if err != nil {
		return nil, pg.Wrap("claim unsettled orders", err)
	}
	return list, nil
}

// Fail implements orders.Store.
func (s *Store) Fail(ctx context.Context, id string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE orders SET status = 'failed', updated_at = now() WHERE id = $1 AND status = 'pending'`, id)
	if err != nil {
		return false, pg.Wrap("fail order", err)
	}
	return tag.RowsAffected() == 1, nil
}
