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
// creates the row, or reuses it only once it has expired.
//
// The others learn how the key stands: a stored response to replay, a
// different body (ErrKeyReused), or a request still in flight
// (ErrKeyInFlight). A claim whose request has held it for longer than lease
// without answering (the process died) is taken over; when that request
// had confirmed its order, the new claim resumes it.
func (s *Store) ClaimKey(ctx context.Context, userID, key string, hash []byte, ttl, lease time.Duration) (orders.KeyClaim, *orders.StoredResponse, error) {
	// A row can vanish between the INSERT and the SELECT (its request
	// failed and released it, or it was purged): then try again.
	for range 3 {
		claim := orders.KeyClaim{UserID: userID, Key: key, Token: uuid.NewString()}
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys (user_id, key, request_hash, token, locked_until, expires_at)
			VALUES ($1, $2, $3, $4, now() + $5::bigint * interval '1 microsecond', now() + $6::bigint * interval '1 microsecond')
			ON CONFLICT (user_id, key) DO UPDATE SET
				request_hash = excluded.request_hash, token = excluded.token, order_id = NULL,
				response_status = NULL, response_body = NULL, locked_until = excluded.locked_until,
				created_at = now(), expires_at = excluded.expires_at
			WHERE idempotency_keys.expires_at <= now()`,
			userID, key, hash, claim.Token, micros(lease), micros(ttl))
		if err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("claim idempotency key", err)
		}
		if tag.RowsAffected() == 1 {
			return claim, nil, nil
		}

		var storedHash, body []byte
		var token string
		var orderID *string
		var status *int
		var stale, orderExists bool
		err = s.pool.QueryRow(ctx, `
			SELECT k.request_hash, k.token::text, k.order_id::text, k.response_status, k.response_body,
				k.locked_until <= now(), o.id IS NOT NULL
			FROM idempotency_keys k LEFT JOIN orders o ON o.id = k.order_id AND o.status IN `+recorded+`
			WHERE k.user_id = $1 AND k.key = $2`, userID, key).
			Scan(&storedHash, &token, &orderID, &status, &body, &stale, &orderExists)
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
		// Take the abandoned claim over. The order the dead request
		// recorded, if any, is resumed.
		if orderExists {
			claim.Resume = *orderID
		}
		tag, err = s.pool.Exec(ctx, `
			UPDATE idempotency_keys SET token = $4, locked_until = now() + $5::bigint * interval '1 microsecond',
				order_id = CASE WHEN $6 THEN order_id END
			WHERE user_id = $1 AND key = $2 AND token = $3 AND response_status IS NULL`,
			userID, key, token, claim.Token, micros(lease), claim.Resume != "")
		if err != nil {
			return orders.KeyClaim{}, nil, pg.Wrap("take over idempotency key", err)
		}
		if tag.RowsAffected() == 0 {
			return orders.KeyClaim{}, nil, orders.ErrKeyInFlight // another request took it over first
		}
		return claim, nil, nil
	}
	return orders.KeyClaim{}, nil, orders.ErrKeyInFlight
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

// ReleaseKey deletes the claimed key, so that a retry runs anew: used when
// the request's outcome was unknown (a 5xx), which must not be replayed.
func (s *Store) ReleaseKey(ctx context.Context, claim orders.KeyClaim) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND token = $3`,
		claim.UserID, claim.Key, claim.Token); err != nil {
		return pg.Wrap("release idempotency key", err)
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
