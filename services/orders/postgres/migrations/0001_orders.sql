-- Orders. ids are UUIDv7 made by the service before the insert, because the
-- id is sent to the catalog as the reservation's key. user_id is the access
-- token's subject: the users service owns users, so there is no foreign key.
--
-- settle_after is when the Reconciler may take a pending or cancelling
-- order over; settle_attempts counts its claims, and a request may settle
-- its own pending order only while that count is zero.
CREATE TABLE orders (
    id              uuid PRIMARY KEY,
    user_id         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'failed', 'cancelling', 'cancelled')),
    total_cents     bigint CHECK (total_cents >= 0),
    currency        text CHECK (currency ~ '^[A-Z]{3}$'),
    reject_reason   text,
    settle_after    timestamptz NOT NULL,
    settle_attempts integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('confirmed', 'cancelling', 'cancelled') OR (total_cents IS NOT NULL AND currency IS NOT NULL))
);

-- A user's listing, newest first, over the statuses users see.
CREATE INDEX orders_user_listing_idx ON orders (user_id, created_at DESC, id DESC)
    WHERE status IN ('confirmed', 'cancelling', 'cancelled');

-- The Reconciler's queue.
CREATE INDEX orders_unsettled_idx ON orders (settle_after) WHERE status IN ('pending', 'cancelling');

-- The lines of confirmed orders, as the catalog reserved and priced them.
CREATE TABLE order_items (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line             integer NOT NULL CHECK (line >= 0),
    product_id       uuid NOT NULL,
    sku              text NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, line)
);

-- Idempotency keys, per user. A row is claimed by one request (token) until
-- locked_until; response_status and response_body hold the first final
-- response. order_id links the order the claimed request created, so that a
-- request interrupted after confirming it is answered with that order.
CREATE TABLE idempotency_keys (
    user_id         text NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    token           uuid NOT NULL,
    order_id        uuid,
    response_status integer,
    response_body   bytea,
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
