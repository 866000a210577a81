package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"bazaar/orders"
	"bazaar/platform/pg"
)

// ClaimKey claims the user's idempotency key for a request whose body
// hashes to hash, keeping it for ttl. Exactly one of any number of
// concurrent requests wins: the claim is a single INSERT … ON CONFLICT that
// creates the row, or reuses it only once it has expired. The claim chooses
// its order id at once and keeps it in the row, before anything is reserved
// under it, so that every attempt with the key reserves under that id.
//
// The others learn how the key stands: a stored response to replay, a
// different body (ErrKeyReused), or a request still in flight
// (ErrKeyInFlight). A claim that its request unlocked (its outcome was
// unknown, a 5xx) or held for longer than lease without answering (the
// process died) is taken over, with its order id: when that order was
// recorded, the new claim resumes it.
func (s *Store) ClaimKey(ctx context.Context, userID, key string, hash []byte, ttl, lease time.Duration) (orders.KeyClaim, *orders.StoredResponse, error) {
	// A row can vanish between the INSERT and the SELECT (it expired and
	// was purged): then try again.
	for range 3 {
		claim := orders.KeyClaim{UserID: userID, Key: key, Token: uuid.NewString(), OrderID: orders.NewID()}
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys (user_id, key, request_hash, token, order_id, locked_until, expires_at)
			VALUES ($1, $2, $3, $4, $5, now() + $6::bigint * interval '1 microsecond', now() + $7::bigint * interval '1 microsecond')
			ON CONFLICT (user_id, key) DO UPDATE SET
				request_hash = excluded.request_hash, token = excluded.token, order_id = excluded.order_id,
				response_status = NULL, response_body = NULL, locked_until = excluded.locked_until,
				created_at = now(), expires_at = excluded.expires_at
			WHERE idempotency_keys.expires_at <= now()`,
			userID, key, hash, claim.Token, claim.OrderID, micros(lease), micros(ttl))
		if err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("claim idempotency key", err)
		}
		if tag.RowsAffected() == 1 {
			return claim, nil, nil
		}

		var storedHash, body []byte
		var token string
		var status *int
		var stale bool
		err = s.pool.QueryRow(ctx, `
			SELECT request_hash, token::text, response_status, response_body, locked_until <= now()
			FROM idempotency_keys WHERE user_id = $1 AND key = $2`, userID, key).
			Scan(&storedHash, &token, &status, &body, &stale)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("read idempotency key", err)
		}
		switch {
		case !bytes.Equal(storedHash, hash):
			return orders.KeyClaim{}, nil, orders.ErrKeyReused
		case status != nil:
			return orders.KeyClaim{}, &orders.StoredResponse{Status: *status, Body: body}, nil
		case !stale:
			return orders.KeyClaim{}, nil, orders.ErrKeyInFlight
		}
		// Take the unlocked or abandoned claim over, keeping its order id
		// (a key that the previous version of the service claimed may have none).
		err = s.pool.QueryRow(ctx, `
			UPDATE idempotency_keys SET token = $4, locked_until = now() + $5::bigint * interval '1 microsecond',
				order_id = coalesce(order_id, $6)
			WHERE user_id = $1 AND key = $2 AND token = $3 AND response_status IS NULL
			RETURNING order_id::text`,
			userID, key, token, claim.Token, micros(lease), claim.OrderID).Scan(&claim.OrderID)
		if errors.Is(err, pgx.ErrNoRows) {
			return orders.KeyClaim{}, nil, orders.ErrKeyInFlight // another request took it over first
		}
		if err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("take over idempotency key", err)
		}
		// Only now that the earlier claim is gone can its order no longer
		// be recorded: whether it was is read after the take-over.
		var recordedOrder bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM orders WHERE id = $1 AND status IN `+recorded+`)`,
			claim.OrderID).Scan(&recordedOrder); err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("find the order of an idempotency key", err)
		}
		if recordedOrder {
			claim.Resume = claim.OrderID
		}
		return claim, nil, nil
	}
	return orders.KeyClaim{}, nil, orders.ErrKeyInFlight
}

// ReassignKey implements orders.Store.
func (s *Store) ReassignKey(ctx context.Context, claim orders.KeyClaim, oldID, newID string) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET order_id = $5
		WHERE user_id = $1 AND key = $2 AND token = $3 AND order_id = $4 AND response_status IS NULL`,
		claim.UserID, claim.Key, claim.Token, oldID, newID)
	if err != nil {
		return pg.Wrap("reassign idempotency key", err)
	}
	if tag.RowsAffected() == 0 {
		return orders.ErrKeyInFlight // another request took the key over
	}
	return nil
}

// CompleteKey stores the final response of the claimed request.
func (s *Store) CompleteKey(ctx context.Context, claim orders.KeyClaim, status int, body []byte) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET response_status = $4, response_body = $5
		WHERE user_id = $1 AND key = $2 AND token = $3`,
		claim.UserID, claim.Key, claim.Token, status, body); err != nil {
		return pg.Wrap("complete idempotency key", err)
	}
	return nil
}

// UnlockKey lets a retry take the claimed key over at once: used when the
// request's outcome was unknown (a 5xx), which must not be replayed. The key
// keeps its order id, so the retry learns whether that order stands, or
// places it under the same id, rather than reserving stock a second time.
func (s *Store) UnlockKey(ctx context.Context, claim orders.KeyClaim) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET locked_until = now()
		WHERE user_id = $1 AND key = $2 AND token = $3 AND response_status IS NULL`,
		claim.UserID, claim.Key, claim.Token); err != nil {
		return pg.Wrap("unlock idempotency key", err)
	}
	return nil
}

// PurgeKeys implements orders.Store.
func (s *Store) PurgeKeys(ctx context.Context, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE (user_id, key) IN (
			SELECT user_id, key FROM idempotency_keys WHERE expires_at <= now() LIMIT $1)`, limit)
	if err != nil {
		return 0, pg.Wrap("purge idempotency keys", err)
	}
	return tag.RowsAffected(), nil
}
